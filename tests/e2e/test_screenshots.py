"""Screenshots of the main screens on a desktop (1280x900) and a phone (375x812), kept in
test-artifacts/screenshots/<screen>-<desktop|phone>.png (git-ignored) for a person to look
at, each after checks of what it shows: nothing wider than the screen, no exception or
error box, the control the screen is for visible and on screen.

Screens: the chat page with a conversation of a few turns in the light and the dark theme
(chat-light, chat-dark), the sidebar (on the phone, its drawer opened), the conversation's
Settings popover opened, the Memory lab and the Account page.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import Engine

from chat.auth.preferences import Theme
from chat.services import Services, build_services
from chat.settings import Settings
from tests.support.artifacts import ARTIFACTS
from tests.support.browser import log_in, wait_for_cookie, wait_idle
from tests.support.factories import PASSWORD, chat_turn

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SHOTS = ARTIFACTS / "screenshots"
SCREENS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {
        "viewport": {"width": 375, "height": 812},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}
# Streamlit's own backgrounds, which the app's two themes keep (.streamlit/config.toml).
BACKGROUND: dict[Theme, str] = {"light": "rgb(255, 255, 255)", "dark": "rgb(23, 22, 20)"}
TRIP = [
    "I'm planning a trip to Lisbon in May with my sister.",
    "What should we pack for a week of walking?",
    "Where did I say we are going?",
]
BREAD = ["How long should a sourdough loaf rest before baking?"]


@dataclass(frozen=True)
class Seeded:
    username: str
    user_id: uuid.UUID
    trip: uuid.UUID  # a conversation of a few turns


@pytest.fixture(scope="module")
def seeding(engine: Engine) -> Iterator[Services]:
    """The app's services on the session's database, committing: the running app sees the
    conversations they make."""
    settings = Settings(
        database_url="postgresql://unused",  # the engine is handed in
        cookie_key="s" * 40,
        openai_api_key=None,
        offline_token_delay=0.0,
        messages_per_minute=0,
    )
    services = build_services(settings, engine=engine)
    yield services
    assert services.turns.drain(timeout=60)


@pytest.fixture
def seeded(seeding: Services, make_account: Callable[[str], str]) -> Seeded:
    """A user with two conversations, the trip one of three turns."""
    username = make_account("shots")
    account = seeding.accounts.get(username=username)
    assert account is not None
    trip: uuid.UUID | None = None
    for text in TRIP:
        trip, _ = chat_turn(seeding, account, text, trip)
    chat_turn(seeding, account, BREAD[0])
    assert trip is not None
    return Seeded(username=username, user_id=account.id, trip=trip)


@pytest.fixture(params=list(SCREENS))
def screen(request: pytest.FixtureRequest, browser: Browser) -> Iterator[tuple[str, Page]]:
    name: str = request.param
    context = browser.new_context(**SCREENS[name])
    yield name, context.new_page()
    context.close()


def use_theme(seeding: Services, user_id: uuid.UUID, theme: Theme) -> None:
    seeding.preferences.save(
        user_id=user_id,
        theme=theme,
        show_answer_details=False,
        default_model="",
        default_persona="",
    )


def open_trip(page: Page, app_url: str, seeded: Seeded) -> None:
    page.goto(f"{app_url}/?c={seeded.trip}")
    expect(page.get_by_test_id("stChatMessage")).to_have_count(2 * len(TRIP), timeout=30_000)
    wait_idle(page)


def overflow(page: Page) -> dict[str, int]:
    """How far the page, and the main area that scrolls inside it, are wider than the screen
    (nothing should be: the phone would scroll sideways)."""
    widths: dict[str, int] = page.evaluate(
        """() => {
          const main = document.getElementById("stMain");
          return {
            page: document.scrollingElement.scrollWidth - window.innerWidth,
            main: main ? main.scrollWidth - main.clientWidth : 0,
          };
        }"""
    )
    return {where: excess for where, excess in widths.items() if excess > 0}


def on_screen(page: Page, element: Locator) -> None:
    """Visible, and inside the screen's width once it has come to rest (a drawer slides in)."""
    expect(element).to_be_visible()
    width = page.viewport_size["width"] if page.viewport_size else 0
    box = None
    for _ in range(50):
        box = element.bounding_box()
        if box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{element} reaches out of the screen: {box}, {width} px wide")


def shoot(page: Page, name: str, screen: str) -> None:
    """Check what every screen owes its user, then keep the screenshot."""
    assert overflow(page) == {}, f"{name} is wider than the {screen}"
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}-{screen}.png", animations="disabled")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_chat_page(
    screen: tuple[str, Page], theme: Theme, app_url: str, seeded: Seeded, seeding: Services
) -> None:
    name, page = screen
    use_theme(seeding, seeded.user_id, theme)
    log_in(page, app_url, seeded.username, PASSWORD)
    wait_for_cookie(page)
    open_trip(page, app_url, seeded)
    expect(page.get_by_test_id("stApp")).to_have_css(
        "background-color", BACKGROUND[theme], timeout=20_000
    )
    wait_idle(page)
    box = page.get_by_test_id("stChatInputTextArea")
    on_screen(page, box)
    expect(page.get_by_test_id("stChatMessage").last).to_be_in_viewport()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    if name == "phone":  # focus would raise the on-screen keyboard over the conversation
        expect(box).not_to_be_focused()
    else:
        expect(box).to_be_focused()
    shoot(page, f"chat-{theme}", name)


def test_sidebar_and_conversation_settings(
    screen: tuple[str, Page], app_url: str, seeded: Seeded, seeding: Services
) -> None:
    name, page = screen
    use_theme(seeding, seeded.user_id, "light")
    log_in(page, app_url, seeded.username, PASSWORD)
    wait_for_cookie(page)
    open_trip(page, app_url, seeded)

    sidebar = page.get_by_test_id("stSidebar")
    if name == "phone":  # a drawer, closed at first
        expect(page.get_by_role("button", name="New chat")).not_to_be_in_viewport()
        page.get_by_test_id("stExpandSidebarButton").click()
    for button in ("New chat", "Log out"):
        on_screen(page, sidebar.get_by_role("button", name=button))
    rows = sidebar.locator("[class*='st-key-conv-']").get_by_role("button")
    expect(rows).to_have_count(2)
    for row in rows.all():
        on_screen(page, row)
    shoot(page, "sidebar", name)
    if name == "phone":
        page.get_by_test_id("stSidebarCollapseButton").get_by_role("button").click()
        expect(sidebar.get_by_role("button", name="New chat")).not_to_be_in_viewport()

    wait_idle(page)
    page.get_by_role("button", name="Settings", exact=True).click()
    popover = page.get_by_test_id("stPopoverBody")
    expect(popover.get_by_role("button", name="Save settings")).to_be_visible()
    on_screen(page, popover)
    on_screen(page, popover.get_by_role("textbox", name="System prompt (persona)"))
    shoot(page, "settings", name)


def test_memory_lab_and_account(
    screen: tuple[str, Page], app_url: str, seeded: Seeded, seeding: Services
) -> None:
    name, page = screen
    use_theme(seeding, seeded.user_id, "light")
    log_in(page, app_url, seeded.username, PASSWORD)
    wait_for_cookie(page)

    page.goto(f"{app_url}/lab")
    expect(page.get_by_role("heading", name="Memory lab")).to_be_visible(timeout=30_000)
    wait_idle(page)
    on_screen(page, page.get_by_role("heading", name="Memory lab"))
    expect(page.get_by_text(re.compile(r"^\d+ turns?, \d+ probes?\.$"))).to_be_visible()
    on_screen(page, page.get_by_role("button", name="Run the replay"))
    shoot(page, "lab", name)

    page.goto(f"{app_url}/account")
    expect(page.get_by_role("heading", name="Preferences")).to_be_visible(timeout=30_000)
    wait_idle(page)
    on_screen(page, page.get_by_role("heading", name="Account", exact=True))
    on_screen(page, page.get_by_test_id("stForm").filter(has_text="Save profile").first)
    shoot(page, "account", name)


@pytest.mark.parametrize("screen", ["desktop", "phone"], indirect=True)
def test_a_conversations_settings_and_menu_share_a_line(
    screen: tuple[str, Page], app_url: str, seeded: Seeded
) -> None:
    _, page = screen
    log_in(page, app_url, seeded.username, PASSWORD)
    open_trip(page, app_url, seeded)
    main = page.locator("#stMain")
    settings = main.get_by_role("button", name="Settings", exact=True)
    menu = (
        main.get_by_test_id("stPopoverButton")
        .filter(has=page.locator('[data-testid="stIconMaterial"]', has_text="more_vert"))
        .filter(visible=True)
    )
    on_screen(page, settings)
    on_screen(page, menu)
    # Both measured in one go: the page may be scrolling (to the last message) meanwhile.
    (settings_middle, height), (menu_middle, _) = settings.evaluate(
        """(own, other) => [own, other].map((element) => {
          const box = element.getBoundingClientRect();
          return [box.top + box.height / 2, box.height];
        })""",
        menu.element_handle(),
    )
    assert abs(menu_middle - settings_middle) < height / 2, (settings_middle, menu_middle)
