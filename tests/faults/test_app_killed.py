"""The app process is killed (SIGKILL) while an answer streams; a new process starts on the
same database. The user logs in again: the question is there, the text of the answer that
had been saved while it streamed is kept and marked as interrupted with a plain sentence,
and Retry answers it in the same rows.
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.engine import URL

from pages.parts.messages import STATUS_NOTES
from tests.support.app_server import offline_env, started_app
from tests.support.browser import click_until, log_in, send, wait_for_cookie, wait_idle
from tests.support.factories import PASSWORD, stored_rows

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

QUESTION = "Tell me a long story about tea and the sea."


def wait_for_saved_text(database_url: URL, username: str, conversation_id: uuid.UUID) -> None:
    """Until the answer in progress has text stored (at most 10 s)."""
    for _ in range(100):
        rows = stored_rows(database_url, username, conversation_id)
        if len(rows) == 2 and rows[1][3]:
            return
        time.sleep(0.1)


def test_answer_cut_by_sigkill_is_marked_interrupted_after_restart(
    page: Page,
    database_url: URL,
    make_account: Callable[[str], str],
    tmp_path: Path,
) -> None:
    username = make_account("killed")
    log_path = tmp_path / "app.log"
    slow = offline_env(database_url, tmp_path, token_delay=0.4)  # ~16 s for the answer
    with started_app(slow, log_path=log_path) as app:
        log_in(page, app.url, username, PASSWORD)
        wait_for_cookie(page)  # its confirmation reruns the page; let it land first
        wait_idle(page)
        send(page, QUESTION)
        answer = page.get_by_test_id("stChatMessage").nth(1)
        expect(answer).to_contain_text("Offline demo", timeout=30_000)  # words on screen
        expect(page).to_have_url(re.compile(r"\?c=[0-9a-f-]{36}"), timeout=10_000)
        match = re.search(r"\?c=([0-9a-f-]{36})", page.url)
        assert match is not None
        conversation_id = uuid.UUID(match.group(1))
        # Killed once the answer's text has been saved while streaming (each second: a
        # kill before the first save loses the answer's first second, and that is all).
        wait_for_saved_text(database_url, username, conversation_id)
        os.kill(app.process.pid, signal.SIGKILL)
        app.process.wait(timeout=10)

    rows = stored_rows(database_url, username, conversation_id)
    assert [(role, status) for _, role, status, _, _ in rows] == [
        ("human", "pending"),
        ("ai", "pending"),
    ]  # nobody could finish it: the process that would have is gone
    (human_id, *_), (reply_id, *_, flushed, reply_meta) = rows
    assert reply_meta.get("instance")  # the dead process's id, its lock now free
    assert flushed.startswith("(Offline demo")  # saved while it streamed

    fast = offline_env(database_url, tmp_path, token_delay=0.01)
    with started_app(fast, log_path=log_path) as app:
        # Same data directory, same cookie key: the browser's remember-me cookie signs the
        # user in to the new process (cookies are per host, not per port).
        page.goto(f"{app.url}/?c={conversation_id}")
        messages = page.get_by_test_id("stChatMessage")
        expect(messages.first).to_contain_text(QUESTION, timeout=30_000)
        expect(messages.nth(1)).to_contain_text(STATUS_NOTES["interrupted"])
        expect(messages.nth(1)).to_contain_text(flushed)
        retry = page.get_by_role("button", name="Retry")
        expect(retry).to_be_visible()
        assert [(role, status) for _, role, status, _, _ in stored_rows(
            database_url, username, conversation_id
        )] == [("human", "complete"), ("ai", "interrupted")]  # fmt: skip

        click_until(page, retry, page.get_by_role("button", name="Regenerate"))
        expect(messages.nth(1)).to_contain_text("tea and the sea", timeout=30_000)
        expect(messages).to_have_count(2)
        final = stored_rows(database_url, username, conversation_id)
        assert [(row_id, role, status) for row_id, role, status, _, _ in final] == [
            (human_id, "human", "complete"),
            (reply_id, "ai", "complete"),
        ]
        assert "tea and the sea" in final[1][3]
        log = log_path.read_text(errors="replace")
        assert "Traceback" not in log, log
