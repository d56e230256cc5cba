"""What a new user expects of a chat page on day one, in a real browser: messages keep
their line breaks, Back returns to the previous conversation, a Copy button per message,
a search result scrolled to and marked, suggested prompts (one showing memory at work),
and on a phone the sidebar closing once a conversation is picked."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Browser, Page, expect

from tests.support.browser import log_in, send, wait_idle
from tests.support.factories import PASSWORD

CONVERSATION = re.compile(r"\?c=([0-9a-f-]{36})")


def answered(page: Page, text: str) -> None:
    expect(page.get_by_test_id("stChatMessage").last).to_contain_text(text, timeout=45_000)
    expect(page).to_have_url(CONVERSATION, timeout=20_000)
    wait_idle(page)


def conversation_of(page: Page) -> str:
    match = CONVERSATION.search(page.url)
    assert match, page.url
    return match.group(1)


def test_line_breaks_copy_and_back(
    page: Page, app_url: str, make_account: Callable[[], str]
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, app_url, make_account(), PASSWORD)
    send(page, "Line one\nLine two")
    answered(page, "Offline demo")
    question = page.get_by_test_id("stChatMessage").first
    assert question.get_by_test_id("stMarkdownContainer").first.inner_text() == (
        "Line one\nLine two"
    )  # not "Line one Line two"
    first = conversation_of(page)

    question.hover()
    question.get_by_role("button", name="Copy this message").click()
    expect(question.get_by_role("button", name="Copy this message")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "Line one\nLine two"

    page.get_by_role("button", name="New chat").click()
    expect(page.get_by_role("heading", name="New chat")).to_be_visible(timeout=15_000)
    send(page, "Tell me about kites.")
    answered(page, "kites")
    second = conversation_of(page)
    assert second != first
    send(page, "And about their tails?")  # in the open conversation: no entry for Back
    answered(page, "tails")
    page.go_back()  # the conversation before: the new chat, then the first one
    expect(page).not_to_have_url(re.compile(second), timeout=15_000)
    page.go_back()
    expect(page).to_have_url(re.compile(f"c={first}"), timeout=15_000)
    expect(page.get_by_test_id("stChatMessage").first).to_contain_text("Line one", timeout=15_000)


def test_search_result_is_scrolled_to_and_marked(
    page: Page, app_url: str, make_account: Callable[[], str]
) -> None:
    log_in(page, app_url, make_account(), PASSWORD)
    send(page, "I keep a marigold plant on the balcony.")
    answered(page, "Offline demo")
    for topic in ("rivers", "bridges", "lanterns", "harbours", "orchards", "kettles"):
        send(page, f"Tell me a long story about {topic}.")
        answered(page, topic)
    page.set_viewport_size({"width": 1280, "height": 500})
    search = page.get_by_test_id("stSidebar").get_by_placeholder("Search your conversations")
    search.fill("marigold")
    search.press("Enter")
    hit = page.get_by_test_id("stSidebar").get_by_test_id("stBaseButton-tertiary").last
    expect(hit).to_be_visible(timeout=15_000)
    wait_idle(page)
    hit.click()
    expect(page).to_have_url(re.compile(r"m=[0-9a-f-]{36}"), timeout=15_000)
    found = page.locator(".st-key-found-message")
    expect(found).to_contain_text("marigold", timeout=15_000)
    expect(found).to_be_in_viewport(timeout=10_000)  # scrolled to, not left at the bottom


def test_the_memory_suggestion_sends_a_fact_then_a_question_about_it(
    page: Page, app_url: str, make_account: Callable[[], str]
) -> None:
    log_in(page, app_url, make_account(), PASSWORD)
    page.get_by_role("button", name="See memory at work").click()
    messages = page.get_by_test_id("stChatMessage")
    expect(messages).to_have_count(4, timeout=60_000)  # the fact, its answer, the question...
    expect(messages.nth(2)).to_contain_text("What is my dog called")
    expect(messages.nth(3)).to_contain_text("Pixel", timeout=45_000)  # ...answered from memory


def test_on_a_phone_picking_a_conversation_closes_the_sidebar(
    browser: Browser, app_url: str, make_account: Callable[[], str]
) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True)
    page = context.new_page()
    log_in(page, app_url, make_account(), PASSWORD)
    send(page, "Tell me about tides.")
    answered(page, "tides")
    page.goto(app_url)  # a new chat, the sidebar closed as a phone shows it
    wait_idle(page)
    page.get_by_test_id("stExpandSidebarButton").click()
    sidebar = page.get_by_test_id("stSidebar")
    row = sidebar.locator("[class*='st-key-conv-'] button").first
    expect(row).to_be_visible(timeout=15_000)
    row.click()
    expect(page).to_have_url(CONVERSATION, timeout=15_000)
    expect(sidebar).not_to_be_in_viewport(timeout=10_000)  # the drawer closed
    expect(page.get_by_test_id("stChatMessage").first).to_contain_text("tides")
    context.close()
