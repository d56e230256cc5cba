"""In a real browser, what a hosted instance must guarantee: rendered text loads nothing
from elsewhere, the app sends its security headers and still works under them."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from tests.support.app_server import offline_app
from tests.support.browser import log_in, send, wait_idle
from tests.support.factories import PASSWORD
from tests.support.openai_server import FakeOpenAIServer


class _Listener:
    """An HTTP server on 127.0.0.1 that records every path it is asked for."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def listener() -> Iterator[_Listener]:
    server = _Listener()
    yield server
    server.close()


@pytest.fixture(scope="module")
def echo_app(database_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app answering through the local OpenAI-compatible server, which echoes the
    question: a model answer can hold whatever the test puts in it."""
    with FakeOpenAIServer() as server:
        env = {"OPENAI_API_KEY": "test", "OPENAI_BASE_URL": server.base_url, "MODELS": "m"}
        with offline_app(database_url, tmp_path_factory.mktemp("hosting"), extra_env=env) as url:
            yield url


def test_images_in_messages_answers_and_titles_are_never_fetched(
    page: Page,
    echo_app: str,
    listener: _Listener,
    make_account: Callable[[], str],
    database_url: URL,
) -> None:
    username = make_account()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else 0)
    log_in(page, echo_app, username, PASSWORD)
    send(page, f"look ![secret]({listener.url}/message?d=secret) and `![code]({listener.url}/x)`")
    messages = page.get_by_test_id("stChatMessage")
    expect(messages).to_have_count(2, timeout=30_000)
    expect(messages.last).to_contain_text("Echo", timeout=30_000)
    wait_idle(page)
    # A title that holds an image (as a model-made or renamed one can) is drawn as text.
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE conversations SET title = :title FROM users "
                "WHERE users.id = conversations.user_id AND users.username = :username"
            ),
            {"title": f"![t]({listener.url}/title?d=question)", "username": username},
        )
    engine.dispose()
    page.reload()
    wait_idle(page)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("![t](", timeout=20_000)
    expect(page.get_by_test_id("stChatMessage")).to_have_count(2, timeout=20_000)
    expect(page.get_by_text("Images from other sites are shown as links").first).to_be_visible()
    page.wait_for_timeout(1_000)
    assert listener.paths == []
    assert page.locator(f'img[src^="{listener.url}"]').count() == 0
    assert page.get_by_role("link", name="secret").count() >= 1
    assert violations == [], violations


def test_security_headers_are_sent_and_the_app_works_under_them(echo_app: str) -> None:
    with urllib.request.urlopen(echo_app + "/") as answer:
        headers = answer.headers
    policy = headers["Content-Security-Policy"]
    assert "img-src 'self' data:" in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in headers  # plain http here
