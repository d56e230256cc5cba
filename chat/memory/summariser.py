"""The summariser behind the summary strategies: the conversation's model's memory writer.

An endpoint model is asked for an updated summary; the offline model's extractive writer
keeps the user's own statements and the recent topics (chat.llm.factory.memory_writer).
Either way the result is plain text stored beside the messages, never instead of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from chat.llm.factory import memory_writer


def summarise(model: BaseChatModel, previous: str, messages: Sequence[BaseMessage]) -> str:
    """The summary updated with `messages`. Raises whatever the model raises: the caller
    keeps the previous summary and retries later."""
    return memory_writer(model).summarise(previous, messages)
