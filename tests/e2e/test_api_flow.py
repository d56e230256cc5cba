"""The HTTP API and the page are two faces of one store, in a real browser: a conversation
made through the API is listed, opened and continued in the page, and the page's turn is
in the API's history; a key created on the Account page works; /api/docs draws under the
app's Content-Security-Policy."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy.engine import URL

from tests.support.browser import click_until, log_in, send, wait_idle
from tests.support.factories import PASSWORD


def cli_key(database_url: URL, username: str) -> str:
    """A key made with the operators' command line (its last line of output)."""
    done = subprocess.run(
        [sys.executable, "-m", "chat", "keys", "create", username, "--name", "e2e"],
        env={**os.environ, "DATABASE_URL": database_url.render_as_string(hide_password=False)},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


def test_an_api_conversation_is_listed_opened_and_continued_in_the_page(
    page: Page, app_url: str, make_account: Callable[[], str], database_url: URL
) -> None:
    username = make_account("api")
    api = httpx.Client(
        base_url=f"{app_url}/api",
        headers={"Authorization": f"Bearer {cli_key(database_url, username)}"},
        timeout=30,
    )
    made = api.post("/chat", json={"message": "My name is Ada. Tell me about sails."})
    assert made.status_code == 200, made.text
    conversation_id = made.json()["conversation_id"]
    title = api.get(f"/history/{conversation_id}").json()["title"]

    log_in(page, app_url, username, PASSWORD)
    sidebar = page.get_by_test_id("stSidebar")
    row = sidebar.get_by_role("button", name=title, exact=True)
    expect(row).to_be_visible(timeout=20_000)
    click_until(page, row, page.get_by_text("My name is Ada.").first)
    expect(page).to_have_url(re.compile(rf"\?c={conversation_id}"), timeout=20_000)
    expect(page.get_by_test_id("stChatMessage")).to_have_count(2)

    send(page, "What is my name?")
    expect(page.get_by_test_id("stChatMessage")).to_have_count(4, timeout=20_000)
    expect(page.get_by_test_id("stChatMessage").last).to_contain_text(
        "My name is Ada", timeout=30_000
    )
    wait_idle(page)
    history = api.get(f"/history/{conversation_id}").json()["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[2]["content"] == "What is my name?"
    assert "My name is Ada" in history[3]["content"] and history[3]["status"] == "complete"
    api.close()


def test_a_key_made_on_the_account_page_works_and_the_docs_draw(
    page: Page, app_url: str, make_account: Callable[[], str]
) -> None:
    log_in(page, app_url, make_account("keys"), PASSWORD)
    page.goto(f"{app_url}/account")
    name = page.get_by_label("Key name")
    expect(name).to_be_visible(timeout=20_000)
    wait_idle(page)
    name.fill("browser key")
    page.get_by_role("button", name="Create key").click()
    code = page.get_by_test_id("stCode")
    expect(code).to_contain_text("chat-", timeout=20_000)
    key = code.inner_text().strip()
    models = httpx.get(f"{app_url}/api/v1/models", headers={"Authorization": f"Bearer {key}"})
    assert models.status_code == 200 and models.json()["data"]

    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.goto(f"{app_url}/api/docs")
    expect(page.get_by_text("Chat API").first).to_be_visible(timeout=20_000)
    expect(page.get_by_text("/v1/chat/completions").first).to_be_visible()
    assert not [text for text in errors if "Content Security Policy" in text], errors
