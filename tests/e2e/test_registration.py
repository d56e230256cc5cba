"""Registration in a real browser under the invite policy: a wrong code is refused, the
right one creates the account and signs the new person in, who has a first chat, and is
still signed in after a reload (the remember-me cookie)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.engine import URL

from tests.support.app_server import offline_app
from tests.support.browser import send, wait_for_cookie, wait_idle
from tests.support.factories import PASSWORD

INVITE_CODE = "browser-test-invite-0123456789"


@pytest.fixture(scope="module")
def app_url(database_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with registration by invite code (the code comes from settings)."""
    env = {"REGISTRATION": "invite", "INVITE_CODE": INVITE_CODE}
    with offline_app(database_url, tmp_path_factory.mktemp("app-data"), extra_env=env) as url:
        yield url


def submit_registration(page: Page, username: str, invite: str) -> None:
    form = page.get_by_test_id("stForm").filter(has_text="Create an account")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Display name").fill("Grace Newcomer")
    form.get_by_label("E-mail").fill(f"{username}@example.com")
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_label("Repeat password").fill(PASSWORD)
    form.get_by_label("Invite code").fill(invite)
    form.get_by_role("button", name="Register").click()


def test_register_with_invite_then_first_chat(page: Page, app_url: str) -> None:
    username = f"new-{uuid.uuid4().hex[:8]}"
    page.goto(app_url)
    register_tab = page.get_by_role("tab", name="Register")
    expect(register_tab).to_be_visible(timeout=30_000)
    wait_idle(page)
    register_tab.click()

    submit_registration(page, username, invite="not-the-code-at-all")
    expect(page.get_by_text("This invite code is not valid.")).to_be_visible(timeout=20_000)
    wait_idle(page)
    submit_registration(page, username, invite=INVITE_CODE)
    # signed in at once: the remember-me cookie is set, the chat opens
    expect(page.get_by_role("button", name="New chat")).to_be_visible(timeout=30_000)
    wait_for_cookie(page)
    wait_idle(page)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Grace Newcomer")
    expect(page.get_by_text("No conversations yet")).to_be_visible()
    send(page, "My name is Grace. Tell me about compilers.")
    answer = page.get_by_test_id("stChatMessage").last
    expect(answer).to_contain_text("compilers", timeout=20_000)
    expect(page).to_have_url(re.compile(r"\?c=[0-9a-f-]{36}"), timeout=20_000)
    expect(
        page.get_by_test_id("stSidebar").get_by_role(
            "button", name=re.compile("compilers", re.IGNORECASE)
        )
    ).to_be_visible(timeout=20_000)

    page.reload()
    expect(page.get_by_role("button", name="New chat")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Grace Newcomer")
