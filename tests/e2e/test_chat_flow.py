"""The whole flow in a real browser: log in, chat, reload, deep link, log out."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

import pytest
from playwright.async_api import Browser as AsyncBrowser
from playwright.async_api import async_playwright
from playwright.async_api import expect as async_expect
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import (
    CHROMIUM_ARGS,
    chromium_path,
    log_in,
    send,
    wait_for_cookie,
    wait_idle,
)
from tests.support.event_loop import run_coroutine
from tests.support.factories import PASSWORD


def test_login_chat_reload_logout(
    page: Page, app_url: str, make_account: Callable[[], str]
) -> None:
    username = make_account()
    log_in(page, app_url, username, PASSWORD)
    expect(page.get_by_text("offline model", exact=False).first).to_be_visible()

    send(page, "My name is Ada. Tell me about tea.")
    answer = page.get_by_test_id("stChatMessage").filter(has_text="Offline demo model").last
    expect(answer).to_contain_text("My name is Ada", timeout=20_000)
    expect(page).to_have_url(re.compile(r"\?c=[0-9a-f-]{36}"), timeout=20_000)
    conversation_url = page.url

    page.reload()
    expect(page.get_by_test_id("stChatMessage").first).to_contain_text(
        "My name is Ada. Tell me about tea.", timeout=20_000
    )
    expect(page.get_by_test_id("stChatMessage")).to_have_count(2)
    title = page.get_by_role("heading", level=1).first.inner_text()

    # The address is a deep link: a new tab of the same browser opens that conversation,
    # and so does reloading that tab.
    wait_for_cookie(page)  # a new tab signs in from the cookie
    tab = page.context.new_page()
    tab.goto(conversation_url)
    for _ in range(2):
        expect(tab.get_by_role("heading", level=1).first).to_have_text(title, timeout=20_000)
        expect(tab.get_by_test_id("stChatMessage").first).to_contain_text("My name is Ada.")
        expect(tab.get_by_test_id("stChatMessage")).to_have_count(2)
        tab.reload()
    tab.close()

    send(page, "What is my name?")
    expect(page.get_by_test_id("stChatMessage").last).to_contain_text(
        "My name is Ada", timeout=20_000
    )

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)
    page.goto(conversation_url)  # the cookie is gone and revoked server-side
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("My name is Ada")).to_have_count(0)


def test_two_users_side_by_side_never_see_each_other(
    browser: Browser, app_url: str, make_account: Callable[[], str]
) -> None:
    """Two people chat at the same time in separate browsers: each sidebar and each search
    shows only its owner's conversation, and one's link is "not found" for the other."""
    words = {"a": "aardvark", "b": "zeppelin"}
    pages: dict[str, Page] = {}
    for key in words:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        pages[key] = context.new_page()
        log_in(pages[key], app_url, make_account(), PASSWORD)
    for key, word in words.items():  # the second question goes in while the first streams
        send(pages[key], f"Tell me about the {word} exhibition.")
    titles, urls = {}, {}
    for key, page in pages.items():
        expect(page.get_by_test_id("stChatMessage").last).to_contain_text(
            words[key], timeout=20_000
        )
        expect(page).to_have_url(re.compile(r"\?c=[0-9a-f-]{36}"), timeout=20_000)
        wait_idle(page)
        titles[key] = page.get_by_role("heading", level=1).first.inner_text()
        urls[key] = page.url

    for me, other in (("a", "b"), ("b", "a")):
        page, sidebar = pages[me], pages[me].get_by_test_id("stSidebar")
        expect(sidebar.get_by_role("button", name=titles[me], exact=True)).to_be_visible()
        expect(sidebar.get_by_text(words[other])).to_have_count(0)
        search = sidebar.get_by_placeholder("Search your conversations")
        search.fill(words[other])
        search.press("Enter")
        expect(sidebar.get_by_text("No conversation matches")).to_be_visible(timeout=15_000)
        search.fill(words[me])  # the same search does find the owner's own words
        search.press("Enter")
        expect(sidebar.get_by_text(re.compile(r"^\d+ results?$"))).to_be_visible(timeout=15_000)
        expect(sidebar.get_by_text(words[other])).to_have_count(0)

    intruder = pages["b"]
    wait_for_cookie(intruder)  # the link is opened by a new page load, signed in by cookie
    intruder.goto(urls["a"])
    expect(intruder.get_by_text("Conversation not found.")).to_be_visible(timeout=20_000)
    expect(intruder.get_by_text(words["a"])).to_have_count(0)
    expect(
        intruder.get_by_test_id("stSidebar").get_by_role("button", name=titles["b"])
    ).to_be_visible()
    pages["a"].reload()  # while the owner still has it
    expect(pages["a"].get_by_test_id("stChatMessage").first).to_contain_text(
        words["a"], timeout=20_000
    )
    for page in pages.values():
        page.context.close()


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
    """Four people log in at the same moment, then reload: all stay signed in."""
    users = [make_account() for _ in range(4)]

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

    results = run_coroutine(scenario())
    assert [ok for ok, _ in results] == [True] * len(users), f"signed out after reload: {results}"
    print(f"cookie confirmed after (s): {[delay for _, delay in results]}")
