"""Model factory: ChatOpenAI for any OpenAI-compatible endpoint, or the offline model."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from chat.settings import Settings

OFFLINE = "offline"


def build_model(settings: Settings, name: str | None = None) -> BaseChatModel:
    """The chat model called `name` (a configured model, or "offline").

    With no API key every name resolves to the offline model, labelled as such in the UI.
    """
    if settings.offline or name == OFFLINE:
        from chat.llm.offline import OfflineChatModel

        return OfflineChatModel(token_delay=settings.offline_token_delay)
    from langchain_openai import ChatOpenAI

    chosen = name if name in settings.models else settings.models[0]
    assert settings.openai_api_key is not None  # settings.offline covers the None case
    return ChatOpenAI(
        model=chosen,
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        stream_usage=True,
        use_responses_api=False,
        timeout=settings.model_timeout,
        max_retries=settings.model_max_retries,
    )


def model_label(settings: Settings, name: str) -> str:
    if settings.offline or name == OFFLINE:
        return "Offline demo model (no network, answers from its context)"
    return name
