"""The models of an OpenAI-compatible endpoint, retried by the app's rule.

The openai client's own retries are off (`max_retries=0` in chat/llm/factory.py): it retries
every connection error, so an endpoint that cannot be reached was tried three times, with
pauses, before the user was told. The app's rule (chat/turn/retrying.py) retries only what
another try may cure. The turn engine applies it to the answer stream; these classes apply
it to whole answers (titles, summaries, facts) and embeddings.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from chat.turn.retrying import RetryPolicy, retrying_call


class EndpointChatModel(ChatOpenAI):
    """ChatOpenAI whose whole answers are retried, `retries` times at most. Its streams
    are not: the turn engine retries those, and only before their first text."""

    retries: int = 0

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        generate = super()._generate
        return retrying_call(
            lambda: generate(messages, stop, run_manager, **kwargs), RetryPolicy(self.retries)
        )


class EndpointEmbeddings(OpenAIEmbeddings):
    """OpenAIEmbeddings retried, `retries` times at most (embed_query goes through
    embed_documents)."""

    retries: int = 0

    def embed_documents(
        self, texts: list[str], chunk_size: int | None = None, **kwargs: Any
    ) -> list[list[float]]:
        embed = super().embed_documents
        return retrying_call(lambda: embed(texts, chunk_size, **kwargs), RetryPolicy(self.retries))
