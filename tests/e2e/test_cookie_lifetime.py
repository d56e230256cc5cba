"""In a real browser: shortening COOKIE_EXPIRY_DAYS never brings a revoked cookie back, and
a forged or malformed cookie shows the login form, not an error."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import URL

from tests.support.app_server import offline_env, running_app
from tests.support.browser import log_in, open_with_cookies, wait_for_cookie
from tests.support.factories import PASSWORD


def _cookie(page: Page) -> list[Any]:
    wait_for_cookie(page)
    return [c for c in page.context.cookies() if c["name"] == "chat_auth"]


def test_a_shorter_lifetime_does_not_revive_a_revoked_cookie(
    browser: Browser,
    page: Page,
    make_account: Callable[[], str],
    database_url: URL,
    tmp_path: Path,
) -> None:
    """Revoked by logout (one user) and by a password change (another), then the operator
    shortens COOKIE_EXPIRY_DAYS: neither cookie comes back."""
    logged_out, changed = make_account(), make_account()
    env = offline_env(database_url, tmp_path, extra_env={"COOKIE_EXPIRY_DAYS": "30"})
    with running_app(env, log_path=tmp_path / "app-30.log") as url:
        log_in(page, url, logged_out, PASSWORD)
        revoked = [_cookie(page)]
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)
        other = browser.new_context().new_page()
        log_in(other, url, changed, PASSWORD)
        revoked.append(_cookie(other))
        other.context.close()
        subprocess.run(
            [sys.executable, "-m", "chat", "users", "set-password", changed,
             "--password-env", "NEW_PASSWORD"],
            check=True, env={**os.environ, **env, "NEW_PASSWORD": "a completely new secret"},
            capture_output=True, timeout=60,
        )  # fmt: skip
    env["COOKIE_EXPIRY_DAYS"] = "1"  # the operator shortens the lifetime after an incident
    with running_app(env, log_path=tmp_path / "app-1.log") as url:
        for cookies in revoked:
            replay = open_with_cookies(browser, url, cookies)
            expect(replay.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)
            expect(replay.get_by_role("button", name="New chat")).to_have_count(0)
            replay.context.close()


def test_forged_cookies_show_the_login_form(
    browser: Browser, database_url: URL, tmp_path: Path
) -> None:
    env = offline_env(database_url, tmp_path)
    forged = [
        jwt.encode({"username": "x", "exp_date": 4e9}, "guess", algorithm="HS512"),
        "eyJhbGciOiJub25lIiwia2lkIjoiLi4vLi4ifQ.eyJ1c2VybmFtZSI6ImFkbWluIn0.",
        "not-a-token",
    ]
    with running_app(env, log_path=tmp_path / "app.log") as url:
        for value in forged:
            cookie = {"name": "chat_auth", "value": value, "url": url}
            page = open_with_cookies(browser, url, [cookie])
            expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)
            expect(page.get_by_test_id("stException")).to_have_count(0)
            expect(page.get_by_test_id("stAlertContainer")).to_have_count(0)
            page.context.close()
