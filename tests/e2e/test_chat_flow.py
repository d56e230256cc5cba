"""The whole flow in a real browser: log in, chat, reload, deep link, log out."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.async_api import Browser as AsyncBrowser
from playwright.async_api import async_playwright
from playwright.async_api import expect as async_expect
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import CHROMIUM_ARGS, chromium_path, log_in, send, wait_for_cookie
from tests.support.factories import PASSWORD


def test_login_chat_reload_logout(
    page: Page, app_url: str, make_account: Callable[[], str]
) -> None:
    username = make_account()
    log_in(page, app_url, username, PASSWORD)
    expect(page.get_by_text("offline model", exact=False).first).to_be_visible()

    send(page, "My name is Ada. Tell me about tea.")
    answer = page.get_by_test_id("stChatMessage").filter(has_text="Offline demo model").last
    expect(answer).to_contain_text("Your name is Ada", timeout=20_000)
    expect(page).to_have_url(re.compile(r"\?c=[0-9a-f-]{36}"), timeout=20_000)
    conversation_url = page.url

    page.reload()
    expect(page.get_by_test_id("stChatMessage").first).to_contain_text(
        "My name is Ada. Tell me about tea.", timeout=20_000
    )
    expect(page.get_by_test_id("stChatMessage")).to_have_count(2)

    send(page, "What is my name?")
    expect(page.get_by_test_id("stChatMessage").last).to_contain_text(
        "Your name is Ada", timeout=20_000
    )

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)
    page.goto(conversation_url)  # the cookie is gone and revoked server-side
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("My name is Ada")).to_have_count(0)


def test_another_users_conversation_is_not_found(
    browser: Browser, app_url: str, make_account: Callable[[], str]
) -> None:
    owner, intruder = make_account(), make_account()
    first = browser.new_context()
    page = first.new_page()
    log_in(page, app_url, owner, PASSWORD)
    send(page, "my private plans")
    expect(page).to_have_url(re.compile(r"\?c=[0-9a-f-]{36}"), timeout=20_000)
    private_url = page.url
    first.close()

    second = browser.new_context()
    other = second.new_page()
    log_in(other, app_url, intruder, PASSWORD)
    wait_for_cookie(other)  # a new tab signs in from the cookie
    other.goto(private_url)
    expect(other.get_by_text("Conversation not found.")).to_be_visible(timeout=20_000)
    expect(other.get_by_text("my private plans")).to_have_count(0)
    second.close()


async def _login_then_reload(browser: AsyncBrowser, app_url: str, username: str) -> tuple:
    """One isolated browser context: log in, wait (bounded) for the remember-me cookie,
    reload. Returns (still signed in after reload, seconds until the cookie was there)."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        page.set_default_timeout(90_000)  # six logins at once on a 2-core machine
        await page.goto(app_url)
        form = page.get_by_test_id("stForm").filter(has_text="Log in").first
        await form.get_by_label("Username").fill(username, timeout=60_000)
        await form.get_by_label("Password", exact=True).fill(PASSWORD)
        await form.get_by_role("button", name="Log in").click()
        await async_expect(page.get_by_role("button", name="New chat")).to_be_visible(
            timeout=60_000
        )
        started, cookie_after = time.monotonic(), None
        while time.monotonic() - started < 20:
            if any(c["name"] == "chat_auth" for c in await context.cookies()):
                cookie_after = round(time.monotonic() - started, 2)
                break
            await page.wait_for_timeout(100)
        await page.reload(timeout=90_000)
        try:
            await async_expect(page.get_by_role("button", name="New chat")).to_be_visible(
                timeout=30_000
            )
        except AssertionError:
            return False, cookie_after
        return True, cookie_after
    finally:
        await context.close()


@pytest.mark.timeout(300)
def test_remember_me_survives_reload_under_concurrent_logins(
    app_url: str, make_account: Callable[[], str]
) -> None:
    """Six people log in at the same moment, then reload: all stay signed in."""
    users = [make_account() for _ in range(6)]

    async def scenario() -> list[tuple]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS
            )
            try:
                return await asyncio.gather(
                    *(_login_then_reload(browser, app_url, name) for name in users)
                )
            finally:
                await browser.close()

    # The session's sync Playwright owns this thread's event loop: run ours on another thread.
    with ThreadPoolExecutor(max_workers=1) as runner:
        results = runner.submit(asyncio.run, scenario()).result()
    assert [ok for ok, _ in results] == [True] * 6, f"signed out after reload: {results}"
    print(f"cookie confirmed after (s): {[delay for _, delay in results]}")
