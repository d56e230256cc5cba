"""LangChain's standard chat-model suites, run against the offline model.

Why: the app swaps the offline model and ChatOpenAI behind one interface (streaming, usage,
stop, batch, async, events); these suites are LangChain's own definition of that interface.
Features the offline model does not have are declared through the suites' capability
properties, so the suites themselves skip what cannot apply.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from chat.llm.offline import OfflineChatModel

# The suites' async tests carry no asyncio marker and the suites forbid overriding them, so
# the marker is applied module-wide; the sync tests it also reaches are told not to complain.
# (With `asyncio_mode = "auto"` in pyproject.toml both lines become unnecessary.)
pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.filterwarnings("ignore:The test <Function .* is not an async function"),
]


class _OfflineCapabilities:
    """What the offline model can and cannot do, in the suites' vocabulary."""

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return OfflineChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model_name": "offline", "token_delay": 0.0}

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_tool_choice(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def supports_json_mode(self) -> bool:
        return False

    @property
    def supports_image_inputs(self) -> bool:
        return False

    @property
    def supports_image_urls(self) -> bool:
        return False

    @property
    def supports_pdf_inputs(self) -> bool:
        return False

    @property
    def supports_audio_inputs(self) -> bool:
        return False

    @property
    def supports_video_inputs(self) -> bool:
        return False

    @property
    def supports_image_tool_message(self) -> bool:
        return False

    @property
    def supports_pdf_tool_message(self) -> bool:
        return False

    @property
    def supports_anthropic_inputs(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "offline-alt"


class TestOfflineChatModelUnit(_OfflineCapabilities, ChatModelUnitTests):
    pass


class TestOfflineChatModelIntegration(_OfflineCapabilities, ChatModelIntegrationTests):
    pass
