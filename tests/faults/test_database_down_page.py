"""The real app with its database away, in a real browser: at start-up, and mid-session.

The page is a plain sentence with a Try again button (never a traceback), the process stays
up without retrying on its own, and the app works again, without a restart, once the
database is back. A message sent during the outage is offered back, not lost.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from chat.services import build_services
from chat.settings import Settings
from tests.support.app_server import RunningApp, offline_env, started_app
from tests.support.browser import click_until, log_in, send, wait_for_cookie, wait_idle
from tests.support.factories import PASSWORD, make_user
from tests.support.own_postgres import OwnPostgres

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

DOWN = "The database is not reachable right now. Your text was not lost; try again."
UNSENT = "Your last message was not sent: the database could not be reached. Send it again."


def start_up_attempts(app: RunningApp) -> int:
    return app.log_path.read_text(errors="replace").count("start-up failed")


def assert_plain_sentence(page: Page) -> None:
    expect(page.get_by_text(DOWN)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    body = page.inner_text("body")
    for leak in ("Traceback", "OperationalError", "psycopg", "sqlalchemy"):
        assert leak not in body, body


def test_database_down_shows_a_sentence_and_the_app_recovers_without_a_restart(
    page: Page, own_pg: OwnPostgres, settings: Settings, tmp_path: Path
) -> None:
    url = own_pg.fresh_database(f"faults_page_{uuid.uuid4().hex[:8]}")
    own_pg.stop()
    with started_app(offline_env(url, tmp_path), log_path=tmp_path / "app.log") as app:
        # Down at start-up: the first visitor's page builds the services, and cannot.
        page.goto(app.url)
        assert_plain_sentence(page)
        wait_idle(page)
        attempts = start_up_attempts(app)
        assert attempts >= 1
        page.wait_for_timeout(3_000)  # an idle page makes no further attempts: no loop
        assert start_up_attempts(app) == attempts
        assert app.process.poll() is None  # no crash, so no crash loop either

        own_pg.start()
        try_again = page.get_by_role("button", name="Try again")
        click_until(page, try_again, page.get_by_role("button", name="Log in"))

        # Down mid-session: a signed-in user sends a message while it is away.
        services = build_services(
            settings.model_copy(update={"database_url": url.render_as_string(False)})
        )
        username = make_user(services).username
        services.engine.dispose()
        log_in(page, app.url, username, PASSWORD)
        wait_for_cookie(page)
        wait_idle(page)
        send(page, "My name is Ada.")
        messages = page.get_by_test_id("stChatMessage")
        expect(messages.nth(1)).to_contain_text("My name is Ada", timeout=30_000)
        wait_idle(page)

        own_pg.stop()
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill("Remember the blue teapot.")
        box.press("Enter")
        assert_plain_sentence(page)
        assert app.process.poll() is None

        own_pg.start()
        click_until(page, try_again, page.get_by_text(UNSENT))
        draft = page.get_by_test_id("stExpander").filter(has_text="Your text was not sent")
        draft.get_by_text("Your text was not sent").click()
        expect(draft).to_contain_text("Remember the blue teapot.")
        expect(messages.first).to_contain_text("My name is Ada.")  # the conversation is back
