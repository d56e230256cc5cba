"""The summariser behind the summary strategies: the conversation's own model.

An endpoint model (ChatOpenAI) is asked for an updated summary; the offline model has no
language ability, so its extractive `summarize` (every stated fact, the recent topics) stands
in. Either way the result is plain text stored beside the messages, never instead of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from chat.llm.offline import OfflineChatModel, summarize
from chat.validation import storable

INSTRUCTIONS = (
    "You maintain the running summary of a conversation between a user and an assistant. "
    "Rewrite the current summary so it also covers the new lines. Keep every fact the user "
    "stated about themselves or their work (names, places, numbers, dates, preferences) "
    "exactly as written; keep decisions and open questions; drop pleasantries. Answer with "
    "the updated summary only, at most 200 words."
)
_SPEAKERS = {"human": "User", "ai": "Assistant", "system": "System"}


def transcript(messages: Sequence[BaseMessage]) -> str:
    return "\n".join(f"{_SPEAKERS.get(m.type, m.type)}: {m.text}" for m in messages)


def summarise(model: BaseChatModel, previous: str, messages: Sequence[BaseMessage]) -> str:
    """The summary updated with `messages`. Raises whatever the model raises: the caller
    keeps the previous summary and retries later."""
    if isinstance(model, OfflineChatModel):
        if model.fail_with is not None:  # the offline model's scripted provider failure
            raise RuntimeError(model.fail_with)
        return summarize(messages, previous)
    answer = model.invoke(
        [
            SystemMessage(INSTRUCTIONS),
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
