"""Sidebar and chat-pane flows in a real browser: new, rename, pin, search, delete, paging,
stop, regenerate, edit, a memory switch seen in the inspector, two tabs writing at once."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from chat.storage.tables import Conversation, Message
from pages.parts.messages import STOPPED_NOTE
from tests.support.app_server import offline_app
from tests.support.artifacts import screenshot_everything
from tests.support.browser import log_in, send, wait_for_cookie, wait_idle
from tests.support.factories import PASSWORD

T = TypeVar("T")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def app_url(database_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with a slower offline model, so a stream can be stopped by a person."""
    with offline_app(database_url, tmp_path_factory.mktemp("app-data"), token_delay=0.1) as url:
        yield url


def sign_in(page: Page, app_url: str, username: str) -> None:
    log_in(page, app_url, username, PASSWORD)


def answer_done(page: Page, text: str) -> None:
    expect(page.get_by_test_id("stChatMessage").last).to_contain_text(text, timeout=45_000)
    expect(page).to_have_url(re.compile(r"\?c=[0-9a-f-]{36}"), timeout=20_000)
    wait_idle(page)


def menu(page: Page, title: str) -> None:
    """Open the conversation called `title` from the sidebar, then the menu by its title."""
    wait_idle(page)
    row = (
        page.get_by_test_id("stSidebar")
        .locator("[class*='st-key-conv-']")
        .filter(has=page.get_by_role("button", name=title, exact=True))
    )
    match = re.search(r"st-key-conv-([0-9a-f-]{36})", row.get_attribute("class") or "")
    assert match, f"no sidebar row called {title!r}"
    row.get_by_role("button").click()
    expect(page).to_have_url(re.compile(f"c={match.group(1)}"), timeout=15_000)
    wait_idle(page)
    toggle = page.locator(f".st-key-actions-{match.group(1)}").get_by_role("button").first
    for _ in range(3):  # a click that lands during a rerun can be swallowed: try again
        toggle.click()
        try:
            expect(page.get_by_role("button", name="Rename")).to_be_visible(timeout=5_000)
            return
        except AssertionError:
            wait_idle(page)
    expect(page.get_by_role("button", name="Rename")).to_be_visible()


def test_sidebar_new_rename_pin_search_delete(
    page: Page, app_url: str, make_account: Callable[[], str], engine: Engine
) -> None:
    sign_in(page, app_url, make_account())
    send(page, "Tell me about chess openings.")
    answer_done(page, "chess openings")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("button", name="Chess openings")).to_be_visible()

    page.get_by_role("button", name="New chat").click()
    expect(page.get_by_role("heading", name="New chat")).to_be_visible(timeout=15_000)
    expect(page).not_to_have_url(re.compile(r"\?c="))
    wait_idle(page)
    send(page, "How do I brew oolong tea?")
    answer_done(page, "oolong")

    menu(page, "Chess openings")
    page.get_by_role("button", name="Rename").click()
    dialog = page.get_by_role("dialog").filter(has_text="Rename conversation")
    expect(dialog).to_be_visible(timeout=15_000)
    wait_idle(page)
    dialog.get_by_label("Title").fill("Chess plans")
    dialog.get_by_role("button", name="Save").click()
    expect(sidebar.get_by_role("button", name="Chess plans")).to_be_visible(timeout=15_000)
    wait_idle(page)

    menu(page, "Chess plans")
    page.get_by_role("button", name="Pin to the top").click()
    wait_idle(page)
    expect(sidebar.get_by_text("Pinned")).to_be_visible(timeout=15_000)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "sidebar.png"), full_page=True)

    search = sidebar.get_by_placeholder("Search your conversations")
    search.fill("oolong")
    search.press("Enter")
    expect(sidebar.get_by_text("result", exact=False)).to_be_visible(timeout=15_000)
    wait_idle(page)
    expect(sidebar.get_by_role("button", name="Chess plans")).to_have_count(0, timeout=15_000)
    page.screenshot(path=str(SHOTS / "search.png"), full_page=True)
    sidebar.get_by_test_id("stBaseButton-tertiary").last.click()
    expect(page).to_have_url(re.compile(r"m=[0-9a-f-]{36}"), timeout=15_000)
    expect(page.get_by_text("Search result")).to_be_visible(timeout=15_000)
    search.fill("")
    search.press("Enter")
    wait_idle(page)

    menu(page, "Chess plans")
    page.get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog").filter(has_text="You can undo it")
    expect(confirm).to_be_visible(timeout=15_000)
    wait_idle(page)
    confirm.get_by_role("button", name="Delete").click()
    wait_idle(page)
    expect(sidebar.get_by_role("button", name="Chess plans")).to_have_count(0, timeout=15_000)
    expect(page.get_by_role("button", name="Undo")).to_be_visible()
    assert eventually(
        lambda: titles_of(engine), lambda titles: "Chess plans" not in titles, seconds=30
    )
    page.reload()
    wait_idle(page)
    expect(sidebar.get_by_role("button", name="Chess plans")).to_have_count(0)


def test_stop_regenerate_and_edit(
    page: Page, app_url: str, make_account: Callable[[], str]
) -> None:
    sign_in(page, app_url, make_account())
    send(page, "My name is Bob.")
    answer_done(page, "Bob")

    # edit the last message and resend: the answer follows the new text
    page.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Message").fill("My name is Carol.")
    dialog.get_by_role("button", name="Save and resend").click()
    answer_done(page, "Carol")
    expect(page.get_by_test_id("stChatMessage")).to_have_count(2)
    expect(page.get_by_text("My name is Bob.")).to_have_count(0)

    # regenerate: still one question and one answer
    page.get_by_role("button", name="Regenerate").click()
    answer_done(page, "Carol")
    wait_idle(page)
    expect(page.get_by_test_id("stChatMessage")).to_have_count(2)

    # stop while streaming: the partial answer is kept and marked
    send(page, "Tell me a very long story about " + "tea and chess " * 40)
    # the offline model streams a word per 0.1 s here (app_url below): time to press stop
    # press stop once the answer is streaming (earlier, the question itself is not sent)
    messages = page.get_by_test_id("stChatMessage")
    expect(messages).to_have_count(4, timeout=20_000)  # the new question and its answer
    expect(messages.nth(3)).to_contain_text("Offline", timeout=20_000)
    page.get_by_role("button", name="Stop").click()
    # Stopped at once, with a note and Retry; the earlier turn offers no stale actions.
    expect(messages.nth(3)).to_contain_text(STOPPED_NOTE, timeout=15_000)
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    expect(page.get_by_role("button", name="Regenerate")).to_have_count(0)
    page.reload()
    expect(messages.nth(3)).to_contain_text(STOPPED_NOTE, timeout=30_000)  # stored so
    page.screenshot(path=str(SHOTS / "stopped.png"), full_page=True)


def test_memory_switch_shows_in_the_inspector(
    page: Page, app_url: str, make_account: Callable[[], str], engine: Engine
) -> None:
    """Mid-conversation, the sidebar switches the memory to a tiny token budget: the next
    answer forgets, and its inspector lists the earlier messages as left out while the
    earlier answer's inspector still shows the window it was given. (The user's memory,
    which would remember the name in any strategy, is off: this is the strategies alone.)"""
    username = make_account()
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE users SET user_memory = false WHERE username = :name"), {"name": username}
        )
    sign_in(page, app_url, username)
    send(page, "My name is Zoe.")
    answer_done(page, "Zoe")
    send(page, "Tell me about tea gardens.")
    answer_done(page, "tea gardens")
    conversation_id = uuid.UUID(page.url.split("c=")[1][:36])

    page.get_by_text("Answer details").click()  # the inspectors, shown
    expect(page.get_by_test_id("stExpander").filter(has_text="Context:")).to_have_count(2)
    wait_idle(page)
    page.get_by_role("button", name="Settings").click()
    sidebar = page.get_by_test_id("stPopoverBody")  # the conversation's settings
    strategy = sidebar.get_by_role("combobox", name="Memory strategy")
    expect(strategy).to_have_value("Window (last k turns)")
    strategy.click()
    page.get_by_role("option", name="Token budget").click()
    limit = sidebar.get_by_label("Token limit")
    expect(limit).to_have_value("1000", timeout=15_000)
    wanted = ("budget", {"max_tokens": 50})
    for _ in range(3):  # an edit that lands while the switch's rerun is drawing can be lost
        wait_idle(page)
        limit.fill("50")
        limit.press("Enter")
        if eventually(lambda: memory_of(engine, conversation_id), wanted.__eq__, seconds=10):
            break
    assert memory_of(engine, conversation_id) == wanted
    page.reload()  # the settings show what is stored on the conversation
    wait_idle(page)
    page.get_by_role("button", name="Settings").click()
    expect(sidebar.get_by_label("Token limit")).to_have_value("50", timeout=20_000)
    expect(strategy).to_have_value("Token budget")
    page.keyboard.press("Escape")  # the settings closed
    wait_idle(page)

    send(page, "What is my name?")
    answer_done(page, "it may have left my context")
    messages = page.get_by_test_id("stChatMessage")
    expect(messages).to_have_count(6)
    inspector = messages.last.get_by_test_id("stExpander")
    inspector.get_by_text("Context:").click()
    expect(inspector).to_contain_text("Memory: Token budget")
    expect(inspector).to_contain_text(re.compile(r"Left out \(not sent\): messages 1–\d"))
    expect(inspector).to_contain_text("What is my name?")
    SHOTS.mkdir(exist_ok=True)
    screenshot_everything(page, SHOTS / "inspector-after-switch.png")

    earlier = messages.nth(3).get_by_test_id("stExpander")  # the answer about tea gardens
    earlier.get_by_text("Context:").click()
    expect(earlier).to_contain_text("Memory: Window (last k turns)")
    expect(earlier).to_contain_text("No earlier message was left out.")
    expect(earlier).to_contain_text("My name is Zoe.")


def test_two_tabs_send_to_one_conversation(
    page: Page, app_url: str, make_account: Callable[[], str], engine: Engine
) -> None:
    """The same person sends from two tabs of one conversation at nearly the same moment:
    both questions and both answers are stored, each question directly followed by its own
    answer, and both exchanges are on screen after a reload."""
    sign_in(page, app_url, make_account())
    send(page, "My name is Dora.")
    answer_done(page, "Dora")
    conversation_id = uuid.UUID(page.url.split("c=")[1][:36])
    wait_for_cookie(page)  # the second tab signs in from the cookie
    other = page.context.new_page()
    other.goto(page.url)
    expect(other.get_by_test_id("stChatMessage")).to_have_count(2, timeout=20_000)

    questions = {page: "Tell me about green tea.", other: "Tell me about chess clocks."}
    for tab, question in questions.items():  # the second goes in while the first streams
        send(tab, question)
    topics = {"Tell me about green tea.": "green tea", "Tell me about chess clocks.": "chess"}

    rows = eventually(
        lambda: messages_of(engine, conversation_id),
        lambda rows: len(rows) >= 6 and all(row.status != "pending" for row in rows),
        seconds=60,
    )
    assert rows is not None, f"the turns did not settle: {messages_of(engine, conversation_id)}"
    assert [row.position for row in rows] == [1, 2, 3, 4, 5, 6]
    assert [row.role for row in rows] == ["human", "ai"] * 3
    assert [row.status for row in rows] == ["complete"] * 6
    asked = [row.content for row in rows[2::2]]
    assert sorted(asked) == sorted(questions.values())
    for question, answer in zip(rows[2::2], rows[3::2], strict=True):
        assert topics[question.content] in answer.content, (question.content, answer.content)

    for tab in questions:
        tab.reload()
        shown = tab.get_by_test_id("stChatMessage")
        expect(shown).to_have_count(6, timeout=20_000)
        for index, question in enumerate(asked):  # in the stored order, each with its answer
            expect(shown.nth(2 + 2 * index)).to_contain_text(question)
            expect(shown.nth(3 + 2 * index)).to_contain_text(topics[question])
    other.close()


def memory_of(engine: Engine, conversation_id: uuid.UUID) -> tuple[str, dict[str, Any]]:
    with Session(engine) as session:
        row = session.execute(
            select(Conversation.memory_strategy, Conversation.memory_params).where(
                Conversation.id == conversation_id
            )
        ).one()
    return row.memory_strategy, row.memory_params


def titles_of(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(Conversation.title)))


def messages_of(engine: Engine, conversation_id: uuid.UUID) -> list[Any]:
    with Session(engine) as session:
        return list(
            session.execute(
                select(Message.position, Message.role, Message.status, Message.content)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.position)
            )
        )


def eventually(read: Callable[[], T], ok: Callable[[T], bool], *, seconds: float) -> T | None:
    """Poll the database until `ok(read())` (the app commits in its own time); the last
    value read when it holds, None when `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = read()
        if ok(value):
            return value
        time.sleep(0.2)
    return None
