"""Keyboard alone, in a real browser: log in, chat, stop an answer, start a new chat and go
back to an earlier conversation without a mouse click; and names a screen reader reads
without Material icon names in them (pages/support/accessibility.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy.engine import URL

from pages.parts.messages import STOPPED_NOTE
from pages.support.accessibility import LABELS_BY_KEY, RUNNING_INDICATOR_STOP
from tests.support.app_server import offline_app
from tests.support.browser import log_in, send, wait_for_cookie, wait_idle
from tests.support.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

WORD_DELAY = 0.15  # an answer takes seconds: time to reach its Stop by keyboard
MOST_PRESSES = 60  # a control further than this from the focus is out of a keyboard's reach
CONVERSATION = re.compile(r"\?c=([0-9a-f-]{36})")
ACTIONS = LABELS_BY_KEY["actions-"]
# Roles whose names a screen reader reads out as the control's name.
NAMED_ROLES = {"button", "link", "tab", "menuitem", "checkbox", "radio", "combobox", "textbox"}


@pytest.fixture(scope="module")
def slow_app(database_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("keyboard-app")
    with offline_app(database_url, data_dir, token_delay=WORD_DELAY) as url:
        yield url


def is_focused(target: Locator) -> bool:
    return bool(target.evaluate("element => element === document.activeElement"))


def described_focus(page: Page) -> str:
    return str(
        page.evaluate(
            """() => {
              const e = document.activeElement;
              if (!e || e === document.body) return "the page itself";
              const name = e.getAttribute("aria-label") || e.innerText || e.value || "";
              return `${e.tagName.toLowerCase()} ${e.getAttribute("data-testid") || ""} `
                + JSON.stringify(name.slice(0, 40));
            }"""
        )
    )


def press_until_focused(page: Page, target: Locator, key: str = "Tab") -> list[str]:
    """Press `key` until `target` has the focus; what had the focus on the way (one entry a
    press, the last one `target`)."""
    target.wait_for(state="visible", timeout=30_000)
    passed: list[str] = []
    for _ in range(MOST_PRESSES):
        page.keyboard.press(key)
        passed.append(described_focus(page))
        if is_focused(target):
            return passed
    raise AssertionError(
        f"{target} never had the focus after {MOST_PRESSES} x {key}; passed: {passed}"
    )


def expect_box_focused(page: Page) -> None:
    """The message box has the focus, ready for typing."""
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_focused(timeout=15_000)


def type_and_send(page: Page, text: str) -> None:
    """Type into the focused message box and press Enter; the emptied box confirms it went."""
    wait_idle(page)
    expect_box_focused(page)
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("stChatInputTextArea")).to_have_value("", timeout=10_000)


def conversation_in_url(page: Page) -> str:
    expect(page).to_have_url(CONVERSATION, timeout=20_000)
    match = CONVERSATION.search(page.url)
    assert match is not None
    return match.group(1)


def test_keyboard_alone_logs_in_chats_stops_and_switches_conversations(
    page: Page, slow_app: str, make_account: Callable[[str], str]
) -> None:
    username = make_account("keys")
    page.goto(slow_app)
    form = page.get_by_test_id("stForm").filter(has_text="Log in").first
    expect(form).to_be_visible(timeout=30_000)
    wait_idle(page)

    # Log in: the username has the focus, type, Tab to the password, type, Enter.
    expect(form.get_by_label("Username")).to_be_focused(timeout=15_000)
    page.keyboard.type(username)
    press_until_focused(page, form.get_by_label("Password", exact=True))
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    # The chat page opens with the focus in the message box: type at once.
    expect(page.get_by_role("button", name="New chat")).to_be_visible(timeout=30_000)
    wait_for_cookie(page)
    type_and_send(page, "Hello, I keep bees in the garden.")
    first = conversation_in_url(page)
    expect(page.get_by_role("button", name="Regenerate")).to_be_visible(timeout=60_000)
    wait_idle(page)
    expect_box_focused(page)  # still there for the next message

    # A new chat from the sidebar's button, by keyboard; the focus goes back to the box.
    press_until_focused(page, page.get_by_role("button", name="New chat"), key="Shift+Tab")
    page.keyboard.press("Enter")
    expect(page).not_to_have_url(CONVERSATION, timeout=20_000)
    expect(page.get_by_role("heading", name="New chat")).to_be_visible()
    expect_box_focused(page)

    # An answer on its way: its Stop is the control just before the box.
    type_and_send(page, "Tell me a long story about tea and the sea.")
    second = conversation_in_url(page)
    assert second != first
    stop = page.get_by_role("button", name="Stop", exact=True)
    expect(stop).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text(
        "Offline demo", timeout=30_000
    )
    before_stop = press_until_focused(page, stop, key="Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text(
        STOPPED_NOTE, timeout=20_000
    )
    expect(stop).to_have_count(0)
    wait_idle(page)
    expect_box_focused(page)  # the Stop is gone: the focus is back where typing happens

    # The first conversation, from the sidebar: Tab to its row, Enter.
    row = page.locator(f".st-key-conv-{first}").get_by_role("button")
    press_until_focused(page, row)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"\?c={first}"), timeout=20_000)
    expect(page.get_by_test_id("stChatMessage").first).to_contain_text("I keep bees")
    wait_idle(page)
    expect_box_focused(page)

    # Checked last, so that the flow above is checked whatever this says: the answer's Stop
    # is the control just before the box, one Shift+Tab away.
    assert len(before_stop) == 1, f"Stop is not the control before the message box: {before_stop}"


def accessible_names(page: Page) -> list[tuple[str, str]]:
    """(role, name) of every control in Chromium's accessibility tree, as a screen reader
    gets them."""
    session = page.context.new_cdp_session(page)
    try:
        nodes: list[dict[str, Any]] = session.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        session.detach()
    named = []
    for node in nodes:
        role = node.get("role", {}).get("value")
        if node.get("ignored") or role not in NAMED_ROLES:
            continue
        named.append((str(role), str(node.get("name", {}).get("value", ""))))
    return named


def icon_names(page: Page) -> set[str]:
    """The Material icons drawn on the page, by their ligature ("more_vert")."""
    drawn = page.eval_on_selector_all(
        '[data-testid="stIconMaterial"]', "icons => icons.map(icon => icon.textContent.trim())"
    )
    return {str(name) for name in drawn if name}


def carries_icon(name: str, icons: set[str]) -> bool:
    """Whether a name reads out an icon: Streamlit's "more_vert icon", a ligature with an
    underscore anywhere ("stop_circle"), or one in front of the label ("add New chat")."""
    words = name.split()
    return (
        name.endswith(" icon")
        or any("_" in word and word in icons for word in words)
        or (len(words) > 1 and words[0] in icons)
    )


def spoken_icons(page: Page) -> list[tuple[str, str]]:
    """The controls on the page whose names read out an icon."""
    icons = icon_names(page)
    assert icons, "no Material icon on the page: nothing was checked"
    return [(role, name) for role, name in accessible_names(page) if carries_icon(name, icons)]


def test_names_carry_no_icon_names(
    page: Page, slow_app: str, make_account: Callable[[str], str]
) -> None:
    log_in(page, slow_app, make_account("names"), PASSWORD)
    wait_for_cookie(page)
    send(page, "Hello there, my name is Ada.")
    conversation = conversation_in_url(page)
    expect(page.get_by_role("button", name="Regenerate")).to_be_visible(timeout=60_000)
    wait_idle(page)
    assert spoken_icons(page) == []

    # The conversation's settings, opened by keyboard.
    settings = page.get_by_role("button", name="Settings", exact=True)
    settings.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Save settings")).to_be_visible()
    assert spoken_icons(page) == []
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Save settings")).to_have_count(0)

    for path, heading in (
        ("account", "Preferences"),
        ("lab", "Memory lab"),
        ("memory", "Memory"),
        ("sessions", "Your sessions"),
    ):
        page.goto(f"{slow_app}/{path}")
        expect(page.get_by_role("heading", name=heading).first).to_be_visible(timeout=20_000)
        wait_idle(page)
        assert spoken_icons(page) == [], path
        # No "Link to heading" per heading: one tab stop and one announcement each.
        assert ("link", "Link to heading") not in accessible_names(page), path

    # The conversation's ⋮ menu opens from the keyboard.
    page.goto(f"{slow_app}/?c={conversation}")
    actions = (
        page.locator("#stMain")
        .get_by_test_id("stPopoverButton")
        .filter(has=page.locator('[data-testid="stIconMaterial"]', has_text="more_vert"))
        .filter(visible=True)
    )
    expect(actions).to_have_count(1, timeout=20_000)
    wait_idle(page)
    # The page puts the focus in the message box once it is drawn: moved from there, not
    # before that (which would take it back).
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_focused(timeout=15_000)
    actions.focus()
    page.keyboard.press("Enter")
    for action in ("Pin to the top", "Rename", "Delete"):
        # One control answers to each name, the menu's own included ("click Delete").
        expect(page.get_by_role("button", name=action)).to_have_count(1)
        expect(page.get_by_role("button", name=action)).to_be_visible()
    assert spoken_icons(page) == []
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Rename", exact=True)).to_have_count(0)
    # Named for what is in it (by its element key: pages/support/accessibility.py), not by
    # its icon; checked last, the checks above hold whatever this says.
    expect(actions).to_have_accessible_name(ACTIONS)


def test_a_conversation_opened_from_its_address_has_the_focus_in_the_box(
    page: Page, slow_app: str, make_account: Callable[[str], str]
) -> None:
    """A reload or a bookmark opens the conversation ready for typing; the headings carry no
    anchors to tab through."""
    log_in(page, slow_app, make_account("reload"), PASSWORD)
    wait_for_cookie(page)
    send(page, "Hello there.")
    conversation = conversation_in_url(page)
    expect(page.get_by_role("button", name="Regenerate")).to_be_visible(timeout=60_000)
    page.goto(f"{slow_app}/?c={conversation}")
    expect(page.get_by_test_id("stChatMessage").first).to_contain_text("Hello there.")
    wait_idle(page)
    expect_box_focused(page)
    for anchor in page.locator('[data-testid="stHeaderActionElements"] a').all():
        expect(anchor).to_be_hidden()


@pytest.fixture
def app_with_running_indicator(database_url: URL, tmp_path: Path) -> Iterator[str]:
    """The app with Streamlit's toolbar shown (the app's own config hides it), so that its
    running indicator, with a Stop of its own, is drawn while the page runs."""
    toolbar = {"STREAMLIT_CLIENT_TOOLBAR_MODE": "viewer"}
    with offline_app(database_url, tmp_path, token_delay=WORD_DELAY, extra_env=toolbar) as url:
        yield url


def test_streamlits_own_stop_is_never_a_second_stop_beside_the_answers(
    page: Page, app_with_running_indicator: str, make_account: Callable[[str], str]
) -> None:
    """Streamlit's Stop ends the page's run, not the answer: while the answer's own Stop is
    shown it is hidden, and it is named for what it does."""
    log_in(page, app_with_running_indicator, make_account("indicator"), PASSWORD)
    wait_for_cookie(page)
    send(page, "Tell me a long story about tea and the sea.")
    stop = page.get_by_role("button", name="Stop", exact=True)
    expect(stop).to_be_visible(timeout=30_000)
    indicator = page.get_by_test_id("stStatusWidget")
    expect(indicator).to_be_visible(timeout=10_000)  # the page has been running a while
    expect(indicator.locator("button")).to_have_attribute("aria-label", RUNNING_INDICATOR_STOP)
    expect(indicator.locator("button")).to_be_hidden()
    expect(page.get_by_role("button", name=re.compile(r"\bstop", re.IGNORECASE))).to_have_count(1)
    assert not any("stop" in name.lower() for _, name in accessible_names(page) if name != "Stop")
