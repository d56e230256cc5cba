"""In a real browser: the theme chosen on the Account page is the one shown, dark included;
"Same as my device" follows the browser's colour scheme, live; the script that applies it
breaks no Content-Security-Policy rule and takes no room on the page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import log_in, wait_idle
from tests.support.factories import PASSWORD

# Streamlit's own backgrounds, which the app's two themes keep (.streamlit/config.toml).
LIGHT = "rgb(255, 255, 255)"
DARK = "rgb(23, 22, 20)"
ENTRY_POINT = Path(__file__).resolve().parents[2] / "streamlit_app.py"


def expect_background(page: Page, colour: str) -> None:
    expect(page.get_by_test_id("stApp")).to_have_css("background-color", colour, timeout=20_000)


def choose_theme(page: Page, label: str) -> None:
    """Pick a theme on the Account page and save; the page reloads in it when it changes."""
    wait_idle(page)
    form = page.get_by_test_id("stForm").filter(has_text="Save preferences")
    form.get_by_text(label, exact=True).click()
    form.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("heading", name="Preferences")).to_be_visible(timeout=20_000)
    wait_idle(page)


def open_account(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/account")
    expect(page.get_by_role("heading", name="Preferences")).to_be_visible(timeout=20_000)
    wait_idle(page)


def test_dark_light_and_the_devices_scheme(
    page: Page, app_url: str, make_account: Callable[[], str]
) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.emulate_media(color_scheme="light")
    log_in(page, app_url, make_account(), PASSWORD)
    open_account(page, app_url)
    expect_background(page, LIGHT)
    appliers = page.get_by_test_id("stElementContainer").filter(
        has=page.locator(".chat-theme-choice")
    )
    expect(appliers.first).to_be_attached()
    for applier in appliers.all():  # takes no room on the page
        expect(applier).to_be_hidden()

    choose_theme(page, "Dark")
    expect_background(page, DARK)
    page.reload()  # kept by the browser
    open_account(page, app_url)
    expect_background(page, DARK)

    choose_theme(page, "Same as my device")
    expect_background(page, LIGHT)
    page.emulate_media(color_scheme="dark")  # the device switches: the page follows, live
    expect_background(page, DARK)
    page.emulate_media(color_scheme="light")
    expect_background(page, LIGHT)

    page.emulate_media(color_scheme="dark")
    choose_theme(page, "Light")  # a choice beats the device's scheme
    expect_background(page, LIGHT)
    assert not violations, violations


@pytest.mark.skipif(
    "apply_saved_theme(" not in ENTRY_POINT.read_text(),
    reason="the entry point does not apply the saved theme on every page yet",
)
def test_the_theme_follows_the_user_to_a_new_browser(
    browser: Browser, page: Page, app_url: str, make_account: Callable[[], str]
) -> None:
    username = make_account()
    log_in(page, app_url, username, PASSWORD)
    open_account(page, app_url)
    choose_theme(page, "Dark")
    expect_background(page, DARK)

    other = browser.new_context(color_scheme="light").new_page()
    log_in(other, app_url, username, PASSWORD)  # lands on the chat page
    expect_background(other, DARK)
    expect(other.get_by_role("button", name="New chat")).to_be_visible(timeout=20_000)
    other.context.close()
