"""The memory writer of an endpoint model: it is asked, in plain words, for the running
summary and for the facts about the user a conversation taught it."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from chat.validation import storable

SUMMARY_INSTRUCTIONS = (
    "You maintain the running summary of a conversation between a user and an assistant. "
    "Rewrite the current summary so it also covers the new lines. Keep every fact the user "
    "stated about themselves or their work (names, places, numbers, dates, preferences) "
    "exactly as written; where the user corrected an earlier fact, keep only the new one; "
    "keep decisions and open questions; drop pleasantries. Answer with the updated summary "
    "only, at most 200 words."
)
FACT_INSTRUCTIONS = (
    "You keep a short list of lasting facts about the user, to remember in later "
    "conversations. From the new lines, write each fact the user stated about themselves, "
    "their life, work, people, things or preferences that is not already in the known list, "
    "one per line, as a short sentence in the user's first person (\"My daughter's school is "
    "St. Anne's.\"). Skip questions, requests and passing topics. If there is none, answer "
    "NONE."
)
MAX_FACT_CHARS = 300
_SPEAKERS = {"human": "User", "ai": "Assistant", "system": "System"}


def transcript(messages: Sequence[BaseMessage]) -> str:
    return "\n".join(f"{_SPEAKERS.get(m.type, m.type)}: {m.text}" for m in messages)


class PromptedWriter:
    def __init__(self, model: BaseChatModel) -> None:
        self.model = model

    def summarise(self, previous: str, messages: Sequence[BaseMessage]) -> str:
        """Raises whatever the model raises: the caller keeps the previous summary."""
        answer = self.model.invoke(
            [
                SystemMessage(SUMMARY_INSTRUCTIONS),
                HumanMessage(
                    f"Current summary:\n{previous or '(none yet)'}\n\n"
                    f"New lines:\n{transcript(messages)}"
                ),
            ]
        )
        text = storable(answer.text.strip())
        if not text:
            raise ValueError("the summariser returned an empty summary")
        return text

    def user_facts(self, messages: Sequence[BaseMessage], known: Sequence[str]) -> list[str]:
        human = [m for m in messages if m.type == "human"]
        if not human:
            return []
        listed = "\n".join(f"- {fact}" for fact in known) or "(none yet)"
        answer = self.model.invoke(
            [
                SystemMessage(FACT_INSTRUCTIONS),
                HumanMessage(f"Known facts:\n{listed}\n\nNew lines:\n{transcript(human)}"),
            ]
        )
        seen = {fact.strip().lower() for fact in known}
        facts: list[str] = []
        for line in answer.text.splitlines():
            fact = storable(line.strip().lstrip("-*• ").strip())[:MAX_FACT_CHARS]
            if fact and fact.upper() != "NONE" and fact.lower() not in seen:
                seen.add(fact.lower())
                facts.append(fact)
        return facts
