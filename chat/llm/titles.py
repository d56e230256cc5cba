"""Naming a conversation after its first exchange, without ever delaying the answer.

A new conversation starts with a heuristic title (`title_for`, no model involved), so it has
a sensible name at once. With a real model configured, the page then asks the
model for a better title, after the answer has streamed and been stored (the user reads the
answer while a spinner says the conversation is being named), in its own unit of work.
"""

from __future__ import annotations

import re
import uuid

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from sqlalchemy.orm import Session, sessionmaker

from chat.llm.statements import about_the_user, is_statement, normalise
from chat.storage import repository
from chat.storage.db import unit_of_work
from chat.validation import storable

TITLE_INSTRUCTION = (
    "You name conversations. Reply with a title of at most six words that says what the "
    "conversation is about, in the language of the conversation. No quotes, no final period."
)

_TOPIC_PATTERNS = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"pros\s+and\s+cons\s+of\s+(?P<t>.+)",
        r"common\s+mistakes?\s+.*?\bwith\s+(?P<t>.+)",
        r"key\s+ideas\s+of\s+(?P<t>.+?)(?:\s+in\s+a\s+paragraph)?$",
        r"\btips\s+(?:about|on|for)\s+(?P<t>.+)",
        r"\bexplain\s+(?P<t>.+?)(?:\s+in\s+simple\s+(?:words|terms)|\s+simply|\s+to\s+me)?$",
        r"\bteach\s+(?P<t>.+?)(?:\s+to\s+(?:a\s+)?beginners?)?$",
        r"\bfacts?\s+about\s+(?P<t>.+)",
        r"\bchecklist\s+(?:for|about|on)\s+(?P<t>.+)",
        r"\b(?:about|regarding)\s+(?P<t>.+)",
        r"^(?:what|who|how|why|when|where|which)(?:'s|\s+is|\s+are|\s+do|\s+does|\s+can|\s+should)"
        r"\s+(?:i|we|you)?\s*(?P<t>.+)",
    )
]
_MAX_TOPIC_CHARS = 48


def topic_of(text: str) -> str:
    """The subject of a message, for replies, summaries and titles ("chess openings")."""
    sentences = [
        s.strip()
        for s in re.split(r"(?<=[.?!])\s+", normalise(text).strip())
        if s.strip() and not (is_statement(s) and about_the_user(s))
    ]  # what the user says about themselves is not a topic (and must not leak into titles)
    if not sentences:
        return ""
    questions = [s for s in sentences if s.endswith("?")]
    sentence = (questions or sentences)[-1].rstrip(" .?!")
    topic = sentence
    for pattern in _TOPIC_PATTERNS:
        match = pattern.search(sentence)
        if match and match.group("t").strip():
            topic = match.group("t")
            break
    topic = re.sub(r"\s+", " ", topic).strip(" .,;:!?")
    words = topic.split(" ")[:8]
    while len(" ".join(words)) > _MAX_TOPIC_CHARS and len(words) > 1:
        words.pop()
    return " ".join(words)[:_MAX_TOPIC_CHARS].rstrip(" .,;:!?")


def title_for(text: str) -> str:
    """A short conversation title (at most 6 words, 48 characters) from the first message."""
    topic = topic_of(text) or re.sub(r"\s+", " ", text).strip()
    words = topic.split(" ")[:6]
    while len(" ".join(words)) > 48 and len(words) > 1:
        words.pop()
    title = " ".join(words)[:48].rstrip(" .,;:!?-\u2014")
    return (title[:1].upper() + title[1:]) if title else "New conversation"


def clean_title(text: str) -> str:
    """The model's title as a sidebar label: one line, no quotes, at most 60 characters."""
    line = next((part for part in text.splitlines() if part.strip()), "")
    line = line.strip().strip("\"'“”‘’*#").strip()
    line = line.removeprefix("Title:").strip().rstrip(".")
    return storable(" ".join(line.split())[:60])


def generate_title(model: BaseChatModel, *, question: str, answer: str) -> str:
    """A short title from the model for a first exchange; the heuristic one if it says
    nothing usable."""
    reply = model.invoke(
        [
            SystemMessage(TITLE_INSTRUCTION),
            HumanMessage(question[:2_000]),
            AIMessage(answer[:2_000]),
            HumanMessage("Title for this conversation:"),
        ]
    )
    return clean_title(reply.text) or title_for(question)


def name_conversation(
    *,
    sessions: sessionmaker[Session],
    model: BaseChatModel,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    current_title: str,
    question: str,
    answer: str,
) -> str:
    """Ask the model for a title and store it unless the user renamed the conversation
    meanwhile; returns the title now stored. Called after the answer is stored and shown."""
    title = generate_title(model, question=question, answer=answer)
    with unit_of_work(sessions) as session:
        if repository.replace_title(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            expected=current_title,
            title=title,
        ):
            return title
        return repository.get_conversation(
            session=session, user_id=user_id, conversation_id=conversation_id
        ).title
