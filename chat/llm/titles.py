"""Naming a conversation after its first exchange, without ever delaying the answer.

A new conversation starts with the offline heuristic title (chat.llm.offline.title_for),
so it has a sensible name at once. With a real model configured, the page then asks the
model for a better title, after the answer has streamed and been stored (the user reads the
answer while a spinner says the conversation is being named), in its own unit of work.
"""

from __future__ import annotations

import uuid

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from sqlalchemy.orm import Session, sessionmaker

from chat.llm.offline import title_for
from chat.storage import repository
from chat.storage.db import unit_of_work
from chat.validation import storable

TITLE_INSTRUCTION = (
    "You name conversations. Reply with a title of at most six words that says what the "
    "conversation is about, in the language of the conversation. No quotes, no final period."
)


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
