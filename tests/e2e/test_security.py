"""In a real browser: a copied cookie is refused after logout and after a password change,
and markdown from users and the model stays inert (no script, no handler, no js: link)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import URL

from tests.support.browser import log_in, open_with_cookies, send, wait_idle
from tests.support.factories import PASSWORD


def _signed_in_cookie(page: Page, app_url: str, username: str) -> list[Any]:
    log_in(page, app_url, username, PASSWORD)
    for _ in range(150):
        cookies = [c for c in page.context.cookies() if c["name"] == "chat_auth"]
        if cookies:
            return cookies
        page.wait_for_timeout(100)
    raise AssertionError("the remember-me cookie never arrived")


def test_cookie_replayed_after_logout_is_refused(
    browser: Browser, page: Page, app_url: str, make_account: Callable[[], str]
) -> None:
    cookies = _signed_in_cookie(page, app_url, make_account())
    stolen = open_with_cookies(browser, app_url, cookies)  # the copy works while the session lives
    expect(stolen.get_by_role("button", name="New chat")).to_be_visible(timeout=20_000)
    stolen.context.close()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)
    replay = open_with_cookies(browser, app_url, cookies)
    expect(replay.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)
    expect(replay.get_by_role("button", name="New chat")).to_have_count(0)
    replay.context.close()


def test_cookie_replayed_after_password_change_is_refused(
    browser: Browser,
    page: Page,
    app_url: str,
    make_account: Callable[[], str],
    database_url: URL,
) -> None:
    username = make_account()
    cookies = _signed_in_cookie(page, app_url, username)
    env = {
        **os.environ,
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "NEW_PASSWORD": "a completely new secret",
    }
    subprocess.run(
        [sys.executable, "-m", "chat", "users", "set-password", username,
         "--password-env", "NEW_PASSWORD"],
        check=True, env=env, capture_output=True, timeout=60,
    )  # fmt: skip
    replay = open_with_cookies(browser, app_url, cookies)
    expect(replay.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)
    replay.context.close()
    # The open session is signed out on its next interaction too.
    page.reload()
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)


def test_html_in_messages_stays_inert(
    page: Page, app_url: str, make_account: Callable[[], str]
) -> None:
    log_in(page, app_url, make_account(), PASSWORD)
    page.evaluate("window.__xss = 0")
    send(
        page,
        '<script>window.__xss = 1</script> <img src=x onerror="window.__xss = 2"> '
        "[click me](javascript:window.__xss=3) <b>bold?</b>",
    )
    messages = page.get_by_test_id("stChatMessage")
    expect(messages).to_have_count(2, timeout=20_000)
    expect(messages.last).to_contain_text("Offline demo model", timeout=20_000)
    wait_idle(page)
    chat = page.get_by_test_id("stChatMessage")
    assert chat.locator("script").count() == 0
    assert chat.locator("img").count() == 0
    assert chat.locator("b").count() == 0
    assert chat.locator('a[href^="javascript:"]').count() == 0
    links = chat.get_by_text("click me")
    if links.count():
        links.first.click()
    assert page.evaluate("window.__xss") == 0
