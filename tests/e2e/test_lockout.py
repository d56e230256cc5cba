"""In a real browser, behind a listed proxy: failures from one client do not lock the
account's owner out elsewhere, and a client cannot pick its own address."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, Response, expect
from sqlalchemy.engine import URL

from tests.support.app_server import offline_app
from tests.support.browser import log_in, submit_login
from tests.support.factories import PASSWORD


@pytest.fixture(scope="module")
def proxied_app(database_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app as if behind one proxy on this host (127.0.0.1 is listed): each browser
    context below claims its address in X-Forwarded-For, as that proxy would send it."""
    env = {"TRUSTED_PROXIES": "127.0.0.1", "LOGIN_FAILURES_PER_ACCOUNT": "3"}
    with offline_app(database_url, tmp_path_factory.mktemp("lockout"), extra_env=env) as url:
        yield url


def _client(browser: Browser, address: str) -> Page:
    context = browser.new_context(extra_http_headers={"X-Forwarded-For": address})
    return context.new_page()


def test_failures_from_one_client_do_not_lock_out_another(
    browser: Browser, proxied_app: str, make_account: Callable[[], str]
) -> None:
    username = make_account()
    attacker = _client(browser, "198.51.100.7")
    for _ in range(3):
        submit_login(attacker, proxied_app, username, "not the password")
        expect(attacker.get_by_text("Wrong username or password.")).to_be_visible()
    submit_login(attacker, proxied_app, username, PASSWORD)
    expect(attacker.get_by_text("Too many failed attempts")).to_be_visible(timeout=10_000)
    # The owner, from another address, signs in with the right password.
    owner = _client(browser, "203.0.113.20")
    log_in(owner, proxied_app, username, PASSWORD)
    expect(owner.get_by_role("button", name="New chat")).to_be_visible()
    attacker.context.close()
    owner.context.close()


def test_the_session_cookie_is_set_by_the_server_httponly_and_secure_under_https(
    browser: Browser, proxied_app: str, make_account: Callable[[], str]
) -> None:
    """Behind the listed proxy, which says the browser came over https."""
    context = browser.new_context(
        extra_http_headers={"X-Forwarded-For": "203.0.113.30", "X-Forwarded-Proto": "https"}
    )
    page = context.new_page()
    answers: list[Response] = []
    page.on("response", lambda r: answers.append(r) if r.url.endswith("/api/session") else None)
    log_in(page, proxied_app, make_account(), PASSWORD)
    (answer,) = answers
    headers = answer.all_headers()
    assert headers["strict-transport-security"].startswith("max-age=")
    header = headers["set-cookie"]
    assert header.startswith("chat_auth=")
    flags = {part.strip().lower() for part in header.split(";")}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= flags
    context.close()


def test_the_session_cookie_as_the_browser_sees_it(
    page: Page, proxied_app: str, make_account: Callable[[], str]
) -> None:
    log_in(page, proxied_app, make_account(), PASSWORD)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "chat_auth"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["secure"] is False  # plain http here
    assert "chat_auth" not in page.evaluate("document.cookie")  # no script can read it
