"""A message sent the moment the chat opens is answered in full, even on a busy machine.

Seen under load (bench/load_server.py): the first answer after logging in was stored as
"interrupted" with one word. A component on the chat page that reports to the server when it
mounts reruns the page, and a rerun ends the run that is streaming the answer. Here the
browser loads the cookie components slowly, as a loaded machine does, and the answer is slow
enough to be in flight when such a late report would land.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Route, async_playwright
from playwright.async_api import expect as async_expect
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from chat.services import build_services
from chat.settings import Settings
from tests.support.app_server import offline_app
from tests.support.browser import CHROMIUM_ARGS, chromium_path
from tests.support.event_loop import run_coroutine
from tests.support.factories import PASSWORD

COOKIE_COMPONENT = re.compile(r"/component/[^/]*cookie_manager/")
IDLE = (
    '[data-testid="stApp"][data-test-script-state="notRunning"]'
    '[data-test-connection-state="CONNECTED"]'
)


@pytest.fixture(scope="module")
def slow_answers_url(database_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The offline model at 0.3 s per word: an answer streams for several seconds."""
    with offline_app(database_url, tmp_path_factory.mktemp("slow-app"), token_delay=0.3) as url:
        yield url


async def _log_in_and_ask_at_once(app_url: str, username: str, shots: Path) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context()

            async def late(route: Route) -> None:  # each file of the component, 1.5 s late
                await asyncio.sleep(1.5)
                await route.continue_()

            await context.route(COOKIE_COMPONENT, late)
            page = await context.new_page()
            page.set_default_timeout(60_000)
            await page.goto(app_url)
            form = page.get_by_test_id("stForm").filter(has_text="Log in").first
            await form.get_by_label("Username").fill(username)
            await form.get_by_label("Password", exact=True).fill(PASSWORD)
            await form.get_by_role("button", name="Log in").click()
            await async_expect(page.get_by_role("button", name="New chat")).to_be_visible(
                timeout=60_000
            )
            await page.locator(IDLE).wait_for()

            box = page.get_by_test_id("stChatInputTextArea")
            await box.fill("My name is Ada. Tell me about tea, please.")
            await box.press("Enter")
            await async_expect(box).to_have_value("", timeout=10_000)
            await async_expect(page.get_by_test_id("stChatMessage")).to_have_count(
                2, timeout=30_000
            )
            await async_expect(page).to_have_url(re.compile(r"\?c=[0-9a-f-]{36}"), timeout=30_000)
            await page.locator(IDLE).wait_for()
            await page.screenshot(path=str(shots / "first-answer.png"), full_page=True)
        finally:
            await browser.close()


@pytest.mark.timeout(240)
def test_first_answer_after_logging_in_is_not_cut_short(
    slow_answers_url: str,
    make_account: Callable[[], str],
    engine: Engine,
    tmp_path: Path,
) -> None:
    username = make_account()

    run_coroutine(_log_in_and_ask_at_once(slow_answers_url, username, tmp_path))

    services = build_services(
        Settings(database_url="postgresql://unused", cookie_key="k" * 40), engine=engine
    )
    account = services.accounts.get(username=username)
    assert account is not None
    [conversation] = services.conversations.list(user_id=account.id)
    view = services.conversations.open(user_id=account.id, conversation_id=conversation.id)
    assert [(m.role, m.status) for m in view.messages] == [
        ("human", "complete"),
        ("ai", "complete"),
    ], f"answer {view.messages[-1].content!r}; screenshot in {tmp_path}"
