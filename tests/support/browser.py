"""Headless Chromium (Debian's package) driven by Playwright, plus page helpers."""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

from playwright.sync_api import Browser, Locator, Page, expect

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's chromium; Playwright never downloads a browser here."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        raise RuntimeError(
            "Browser tests need Debian's chromium at /usr/bin/chromium "
            "(apt-get install chromium; the test script installs it when run as root)."
        )
    return path


def wait_idle(page: Page, timeout: float = 30_000) -> None:
    """Wait until the app is connected and no script run is in progress."""
    page.locator(
        '[data-testid="stApp"][data-test-script-state="notRunning"]'
        '[data-test-connection-state="CONNECTED"]'
    ).wait_for(timeout=timeout)


def submit_login(page: Page, base_url: str, username: str, password: str) -> None:
    """Open the app and submit the login form, whatever the outcome."""
    page.goto(base_url)
    form = page.get_by_test_id("stForm").filter(has_text="Log in").first
    expect(form).to_be_visible(timeout=30_000)
    wait_idle(page)
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password", exact=True).fill(password)
    form.get_by_role("button", name="Log in").click()


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    submit_login(page, base_url, username, password)
    expect(page.get_by_role("button", name="New chat")).to_be_visible(timeout=30_000)
    wait_idle(page)


def open_with_cookies(browser: Browser, url: str, cookies: list[Any]) -> Page:
    """A new browser context holding `cookies` (e.g. copied from another), at `url`."""
    context = browser.new_context()
    context.add_cookies(cookies)
    page = context.new_page()
    page.goto(url)
    wait_idle(page)
    return page


def wait_for_cookie(page: Page, name: str = "chat_auth", timeout_s: float = 15.0) -> float:
    """Seconds until the remember-me cookie is in the browser (raises after `timeout_s`)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if any(cookie["name"] == name for cookie in page.context.cookies()):
            return time.monotonic() - started
        page.wait_for_timeout(100)
    raise AssertionError(f"no {name} cookie after {timeout_s}s")


def send(page: Page, text: str) -> None:
    """Type into the chat input and submit, once the app has settled after a rerun.

    A rerun that lands while typing can clear the box: type again until the submit button
    is enabled, and confirm the submission by the box being emptied."""
    box = page.get_by_test_id("stChatInputTextArea")
    button = page.get_by_test_id("stChatInputSubmitButton")
    for _ in range(3):
        wait_idle(page)
        box.fill(text)
        try:
            expect(button).to_be_enabled(timeout=3_000)
        except AssertionError:
            continue
        box.press("Enter")
        try:
            expect(box).to_have_value("", timeout=5_000)
            return
        except AssertionError:
            continue
    raise AssertionError("the chat input did not take the message")


def click_until(page: Page, button: Locator, shown: Locator, attempts: int = 3) -> None:
    """Click, and click again if the click was lost: a rerun that lands at the same moment
    (the remember-me cookie's report, on a page just opened) can swallow it."""
    for _ in range(attempts):
        wait_idle(page)
        if button.is_visible():
            button.click()
        try:
            expect(shown).to_be_visible(timeout=15_000)
            return
        except AssertionError:
            continue
    raise AssertionError(f"clicking {button} never showed {shown}")
