"""AppTest fixtures: the real entry point against the session's test database.

AppTest runs the script in this process, so the app's cached services are pointed at the
test database through the same settings the app reads (environment variables). Data written
here is committed (the app owns its transactions); every test uses fresh usernames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL
from streamlit.runtime.scriptrunner import script_runner as script_runner_module
from streamlit.testing.v1 import AppTest

from chat.services import Services
from chat.settings import get_settings
from pages.parts.conversation_settings import settings_key
from pages.support import runtime
from tests.support.factories import PASSWORD, make_user

ENTRY_POINT = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")


@pytest.fixture
def app_services(
    database_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OFFLINE_TOKEN_DELAY", "0")
    # Tests seed conversations through the real send path faster than a person types; the
    # per-minute limit has its own tests (tests/chat/test_limits.py).
    monkeypatch.setenv("MESSAGES_PER_MINUTE", "0")
    # Every AppTest is the same client ("local"); the sign-up limit has its own tests.
    monkeypatch.setenv("REGISTRATIONS_PER_CLIENT_PER_HOUR", "1000")
    monkeypatch.setenv("OPENAI_API_KEY", "")
    monkeypatch.setenv("CHAT_SECRETS_FILE", str(tmp_path / "none.toml"))
    monkeypatch.setenv("UNDO_DELETE_SECONDS", "0.5")  # a delete's Undo lasts half a second
    get_settings.cache_clear()
    runtime.services.clear()
    yield runtime.services()
    runtime.services.clear()
    get_settings.cache_clear()


def _run_entry_point(main_script_path: str) -> None:
    """Run the entry point as the server does once st.navigation has been called."""
    code = compile(Path(main_script_path).read_text(), main_script_path, "exec")
    exec(code, {"__name__": "__main__", "__file__": main_script_path})


@pytest.fixture(autouse=True)
def _no_legacy_pages_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest resets Streamlit's legacy `pages/` directory mode before every run (the real
    server leaves it off for good after the first st.navigation call). In that mode a rerun
    re-executes the last page without the entry point, bypassing the auth gate, so run the
    entry point as the server does."""
    monkeypatch.setattr(script_runner_module, "_mpa_v1", _run_entry_point)


@pytest.fixture
def new_app(app_services: Services) -> Callable[..., AppTest]:
    def start(query: dict[str, str] | None = None) -> AppTest:
        app = AppTest.from_file(ENTRY_POINT, default_timeout=30)
        for key, value in (query or {}).items():
            app.query_params[key] = value
        return app.run()

    return start


def fields_by_label(app: AppTest) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for field in app.text_input:
        found.setdefault(field.label, []).append(field)
    return found


def log_in(app: AppTest, username: str, password: str = PASSWORD) -> AppTest:
    """Fill the library's login form (the first form; its fields have no keys)."""
    fields = fields_by_label(app)
    fields["Username"][0].input(username)
    fields["Password"][0].input(password)
    next(button for button in app.button if button.label == "Log in").click()
    return app.run()


@pytest.fixture
def signed_in(new_app: Callable[..., AppTest], app_services: Services) -> Callable[..., AppTest]:
    """A fresh app with a fresh user signed in through the login form."""

    def start(query: dict[str, str] | None = None, username: str | None = None) -> AppTest:
        account = make_user(app_services) if username is None else None
        app = new_app(query)
        return log_in(app, username or account.username)  # type: ignore[union-attr]

    return start


def answered(app: AppTest, services: Services) -> AppTest:
    """Once the answer the last run started is generated and stored, run the page again:
    in a browser the live answer redraws itself; AppTest runs the page once per call."""
    assert services.turns.drain(timeout=30), "the answer was still being generated"
    return app.run()


def open_settings(app: AppTest, conversation_id: object) -> AppTest:
    """Open a conversation's Settings popover (its inputs are drawn only while it is open),
    as a click on it does: its state set, and a run."""
    app.session_state[settings_key(conversation_id)] = True
    return app.run()
