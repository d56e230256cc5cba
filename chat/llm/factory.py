"""Model factory: ChatOpenAI for any OpenAI-compatible endpoint, or the offline model, and
the memory writer (summaries, user facts) that goes with each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from chat.settings import OFFLINE, Settings


def build_model(settings: Settings, name: str | None = None) -> BaseChatModel:
    """The chat model called `name` (a configured model, or "offline").

    With no API key every name resolves to the offline model, labelled as such in the UI.
    """
    if settings.offline or name == OFFLINE:
        from chat.llm.offline import OfflineChatModel

        return OfflineChatModel(token_delay=settings.offline_token_delay)
    from chat.llm.endpoint import EndpointChatModel

    chosen = name if name in settings.models else settings.models[0]
    assert settings.openai_api_key is not None  # settings.offline covers the None case
    return EndpointChatModel(
        model=chosen,
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        stream_usage=True,
        use_responses_api=False,
        timeout=settings.model_timeout,
        max_retries=0,  # the app retries what may succeed: chat/llm/endpoint.py
        retries=settings.model_max_retries,
    )


def model_label(settings: Settings, name: str) -> str:
    if settings.offline or name == OFFLINE:
        return "Offline demo model (no network, answers from its context)"
    return name


class MemoryWriter(Protocol):
    """What a conversation's model writes for memory, after the answer: the running
    summary and the facts about the user it learnt."""

    def summarise(self, previous: str, messages: Sequence[BaseMessage]) -> str: ...

    def user_facts(self, messages: Sequence[BaseMessage], known: Sequence[str]) -> list[str]: ...


def memory_writer(model: BaseChatModel) -> MemoryWriter:
    """The writer for `model`: the model itself, asked in plain words; the offline model
    has no language ability, so its extractive writer stands in (the one place besides
    build_model that tells the two apart)."""
    from chat.llm.offline import OfflineChatModel

    if isinstance(model, OfflineChatModel):
        from chat.llm.offline import ExtractiveWriter

        return ExtractiveWriter(model)
    from chat.llm.prompted import PromptedWriter

    return PromptedWriter(model)


def build_embedder(settings: Settings) -> Embeddings | None:
    """The embeddings model recall uses for vector similarity, or None (EMBEDDINGS_MODEL
    unset, or no key for it): recall then uses full-text search alone."""
    if not settings.embeddings_model:
        return None
    key = settings.embeddings_api_key or settings.openai_api_key
    if key is None or not key.get_secret_value():
        return None
    from chat.llm.endpoint import EndpointEmbeddings

    return EndpointEmbeddings(
        model=settings.embeddings_model,
        api_key=key,
        base_url=settings.embeddings_base_url or settings.openai_base_url,
        check_embedding_ctx_length=False,  # plain text: any OpenAI-compatible server
        timeout=settings.model_timeout,
        max_retries=0,  # as for the chat model
        retries=settings.model_max_retries,
    )
