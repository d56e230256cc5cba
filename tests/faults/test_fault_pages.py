"""What the chat page shows when things fail, through AppTest and the real entry point: a
sentence, the text that arrived, a Retry button, and a message that was not sent offered back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from streamlit.testing.v1 import AppTest

from chat.errors import DatabaseBusy
from chat.services import Services
from chat.settings import get_settings
from pages.support import runtime
from tests.pages.conftest import (  # the page fixtures, reused as they are
    _no_legacy_pages_mode,
    app_services,
    new_app,
    signed_in,
)
from tests.support.openai_server import FakeOpenAIServer

__all__ = ["_no_legacy_pages_mode", "app_services", "new_app", "signed_in"]

UNSENT = "Your last message was not sent: the database could not be reached. Send it again."


def reconfigure(monkeypatch: pytest.MonkeyPatch, **environment: str) -> None:
    """Change the app's environment; the next script run builds its services from it."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    runtime.services.clear()


@pytest.fixture
def endpoint_app(
    app_services: Services, openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    reconfigure(
        monkeypatch,
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=openai_server.base_url,
        MODELS="test-model",
        MODEL_MAX_RETRIES="0",
    )


@pytest.fixture
def one_connection(app_services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    reconfigure(monkeypatch, DB_POOL_SIZE="1", DB_MAX_OVERFLOW="0", DB_POOL_TIMEOUT="0.5")
    yield
    runtime.services.clear()


def answer_of(app: AppTest) -> tuple[str, list[str], list[str]]:
    """The last answer's text, its error sentences and its buttons."""
    message = app.chat_message[-1]
    assert message.name == "assistant"
    text = message.markdown[0].value  # the answer (the inspector follows)
    return text, [e.value for e in message.error], [b.label for b in message.button]


def test_answer_cut_mid_stream_shows_what_arrived_a_sentence_and_retry(
    endpoint_app: None, signed_in: Callable[..., AppTest], openai_server: FakeOpenAIServer
) -> None:
    app = signed_in()
    openai_server.enqueue_drop(after_tokens=3, text="one two three four five")
    app.chat_input[0].set_value("Count to five").run()
    assert not app.exception
    text, errors, buttons = answer_of(app)
    assert text == "one two three"
    assert errors == [
        "The connection to the model was lost during the answer. What arrived is kept; "
        "retry for a full one."
    ]
    assert "Retry" in buttons

    openai_server.enqueue_reply("one two three four five")
    next(b for b in app.button if b.label == "Retry").click().run()
    assert not app.exception
    text, errors, buttons = answer_of(app)
    assert (text, errors) == ("one two three four five", [])
    assert "Regenerate" in buttons
    assert len(app.chat_message) == 2  # the same question and answer, not a second pair


def test_pool_exhausted_page_says_busy_and_keeps_the_message(
    one_connection: None, signed_in: Callable[..., AppTest]
) -> None:
    app = signed_in()
    assert not app.exception
    holder = runtime.services().engine.connect()  # the app's only connection, taken
    holder.exec_driver_sql("SELECT 1")
    try:
        app.chat_input[0].set_value("Please keep this one.").run()
    finally:
        holder.close()
    assert not app.exception
    assert [e.value for e in app.error] == [DatabaseBusy.user_message]
    assert [b.label for b in app.button] == ["Try again"]
    # Shown at once, to copy, with the honest limit of where it is kept.
    assert "Please keep this one." in [code.value for code in app.code]
    assert any("reloading the page" in caption.value for caption in app.caption)

    next(b for b in app.button if b.label == "Try again").click().run()
    assert not app.exception
    assert UNSENT in [e.value for e in app.error]
    assert "Please keep this one." in [code.value for code in app.code]
    assert app.chat_input  # the page is back
