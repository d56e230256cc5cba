"""The whole flow in a real browser: log in, chat, reload, deep link, log out."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.browser import CHROMIUM_ARGS, chromium_path, log_in, send
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
    expect(page.get_by_text("My name is Ada. Tell me about tea.")).to_be_visible(timeout=20_000)
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
    other.goto(private_url)
    expect(other.get_by_text("Conversation not found.")).to_be_visible(timeout=20_000)
    expect(other.get_by_text("my private plans")).to_have_count(0)
    second.close()


def _login_then_reload(app_url: str, username: str) -> tuple[bool, float | None]:
    """One browser: log in, wait (bounded) for the remember-me cookie, reload.
    Returns (still signed in after reload, seconds until the cookie was there)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            page = context.new_page()
            log_in(page, app_url, username, PASSWORD)
            started, cookie_after = time.monotonic(), None
            while time.monotonic() - started < 15:
                if any(c["name"] == "chat_auth" for c in context.cookies()):
                    cookie_after = time.monotonic() - started
                    break
                page.wait_for_timeout(100)
            page.reload()
            try:
                expect(page.get_by_role("button", name="New chat")).to_be_visible(timeout=15_000)
            except AssertionError:
                return False, cookie_after
            return True, cookie_after
        finally:
            browser.close()


def test_remember_me_survives_reload_under_concurrent_logins(
    app_url: str, make_account: Callable[[], str]
) -> None:
    users = [make_account() for _ in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda name: _login_then_reload(app_url, name), users))
    signed_in = [ok for ok, _ in results]
    delays = [delay for _, delay in results]
    assert signed_in == [True] * 6, f"signed out after reload: {results}"
    print(f"cookie confirmed after (s): {delays}")
