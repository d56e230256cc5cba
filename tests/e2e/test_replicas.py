"""docker-compose.yml's topology without Docker: two replicas, one PostgreSQL, nginx in front.

Two `streamlit run` processes share DATABASE_URL and COOKIE_KEY and start at the same moment
against a database with no schema yet; Debian's nginx runs the repository's deploy/nginx.conf
(rendered for local ports, see tests/support/proxy.py); a headless browser logs in through
the proxy, chats, is moved to the other replica, and logs out there.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from alembic.script import ScriptDirectory
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL

from chat.storage.db import alembic_config
from tests.support.app_server import running_app
from tests.support.browser import log_in, send, wait_for_cookie, wait_idle
from tests.support.factories import PASSWORD
from tests.support.postgres import fresh_database
from tests.support.proxy import running_proxy, served_by

pytestmark = pytest.mark.timeout(300)

COOKIE_KEY = "replica-test-Yq3vN8rT0bLw5ZkP2sXe7HcJ9uMa4DfG6iRo1Qn"


@dataclass
class Topology:
    database_url: URL
    replicas: list[str]  # host:port of each app process
    logs: list[Path]
    proxy: str  # base URL of nginx
    proxy_dir: Path
    first_runs_s: float  # both replicas' first script runs (the migration) done after


def _address(base: str) -> str:
    return urlsplit(base).netloc


@pytest.fixture(scope="module")
def topology(
    pg_server_url: str, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Topology]:
    root = tmp_path_factory.mktemp("replicas")
    with fresh_database(pg_server_url, prefix="chat_replicas") as url, ExitStack() as stack:
        common = {
            "DATABASE_URL": url.render_as_string(hide_password=False),
            "COOKIE_KEY": COOKIE_KEY,
            "TRUSTED_PROXIES": "127.0.0.1",
            "OFFLINE_TOKEN_DELAY": "0.01",
            "BCRYPT_ROUNDS": "10",
            "OPENAI_API_KEY": "",
            "DB_POOL_SIZE": "2",
            "DB_MAX_OVERFLOW": "1",
        }
        apps = []
        for name in ("app1", "app2"):
            data_dir = root / name
            data_dir.mkdir()
            env = {
                **common,
                "DATA_DIR": str(data_dir),
                "CHAT_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
            }
            apps.append(running_app(env, log_path=data_dir / "app.log"))
        # Start both processes at the same moment (each waits for its own health check).
        with ThreadPoolExecutor(max_workers=2) as pool:
            bases = list(pool.map(lambda app: app.__enter__(), apps))
        for app in apps:
            stack.push(app.__exit__)

        # The schema is built on a process's first script run (st.cache_resource): open both
        # replicas at once, directly, so that both migrate concurrently.
        started = time.monotonic()
        context = browser.new_context()
        stack.callback(context.close)
        pages = [context.new_page() for _ in bases]
        for page, base in zip(pages, bases, strict=True):
            page.goto(base, wait_until="commit")
        for page in pages:
            expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=60_000)
        first_runs_s = time.monotonic() - started
        context.close()

        replicas = [_address(base) for base in bases]
        proxy_dir = root / "nginx"
        proxy = stack.enter_context(running_proxy(replicas, workdir=proxy_dir))
        yield Topology(
            database_url=url,
            replicas=replicas,
            logs=[root / name / "app.log" for name in ("app1", "app2")],
            proxy=proxy,
            proxy_dir=proxy_dir,
            first_runs_s=first_runs_s,
        )


def test_replicas_started_together_apply_the_migrations_once(topology: Topology) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = create_engine(topology.database_url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert [row[0] for row in versions] == [head]
    assert {"users", "conversations", "messages"} <= tables
    for replica, log in zip(topology.replicas, topology.logs, strict=True):
        with urllib.request.urlopen(f"http://{replica}/_stcore/health", timeout=5) as answer:
            assert answer.status == 200  # still up
        content = log.read_text(errors="replace")
        assert "start-up failed" not in content and "Traceback" not in content, content
    # Both reached the migration step; exactly one of them ran the upgrades.
    texts = [log.read_text(errors="replace") for log in topology.logs]
    assert all("Context impl PostgresqlImpl" in content for content in texts)
    assert sum("Running upgrade  -> 0001" in content for content in texts) == 1
    print(f"both replicas' first runs (migration included) done in {topology.first_runs_s:.1f}s")


def _route_to(proxy: str, replica: str) -> str:
    """A routing-cookie value that the proxy's hash sends to `replica`."""
    for _ in range(200):
        key = uuid.uuid4().hex
        if served_by(proxy, key) == replica:
            return key
    raise AssertionError(f"no routing key reaches {replica}: is the proxy hashing the cookie?")


def test_proxy_is_sticky_per_cookie_and_upgrades_websockets(topology: Topology) -> None:
    proxy = topology.proxy
    # Without a cookie each visitor gets a fresh key, spread over both replicas.
    fresh = {served_by(proxy) for _ in range(40)}
    assert fresh == set(topology.replicas)
    # With one, every request lands on the same replica.
    for replica in topology.replicas:
        key = _route_to(proxy, replica)
        assert {served_by(proxy, key) for _ in range(20)} == {replica}

    # A websocket handshake through the proxy reaches Streamlit and is upgraded.
    host, port = urlsplit(proxy).netloc.split(":")
    handshake = (
        "GET /_stcore/stream HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(handshake.encode())
        status = sock.recv(4096).decode(errors="replace").split("\r\n", 1)[0]
    assert status.startswith("HTTP/1.1 101"), status


def _create_user(database_url: URL) -> str:
    username = f"replica-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "NEW_PASSWORD": PASSWORD,
        "COOKIE_KEY": COOKIE_KEY,
    }
    subprocess.run(
        [sys.executable, "-m", "chat", "users", "create", username,
         "--email", f"{username}@example.com", "--password-env", "NEW_PASSWORD"],
        check=True, env=env, capture_output=True, timeout=60,
    )  # fmt: skip
    return username


def _upstream(page: Page, url: str) -> str:
    response = page.goto(url)
    assert response is not None
    return str(response.headers.get("x-upstream"))


def test_browser_moved_to_the_other_replica_stays_signed_in_and_logout_is_shared(
    topology: Topology, browser: Browser
) -> None:
    proxy = topology.proxy
    username = _create_user(topology.database_url)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()

    log_in(page, proxy, username, PASSWORD)
    first = next(c["value"] for c in context.cookies() if c["name"] == "chat_route")
    replica_a = served_by(proxy, first)
    # The remember-me cookie's confirmation reruns the page; let it land before chatting.
    wait_for_cookie(page)
    wait_idle(page)
    send(page, "My name is Ada. Tell me about tea.")
    answer = page.get_by_test_id("stChatMessage").filter(has_text="Offline demo model").last
    expect(answer).to_contain_text("My name is Ada", timeout=20_000)
    expect(page).to_have_url(re.compile(r"\?c=[0-9a-f-]{36}"), timeout=20_000)
    conversation_url = page.url
    auth_cookie = next(c for c in context.cookies() if c["name"] == "chat_auth")

    # Move the browser: a routing cookie that hashes to the other replica, then reload.
    replica_b = next(r for r in topology.replicas if r != replica_a)
    to_b = _route_to(proxy, replica_b)
    context.add_cookies([{"name": "chat_route", "value": to_b, "url": proxy}])
    assert _upstream(page, conversation_url) == replica_b
    expect(page.get_by_role("button", name="New chat")).to_be_visible(timeout=30_000)
    messages = page.get_by_test_id("stChatMessage")
    expect(messages.first).to_contain_text("My name is Ada. Tell me about tea.", timeout=20_000)
    expect(messages).to_have_count(2)
    wait_idle(page)

    # Log out on replica B; the old cookie replayed against replica A is refused.
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)
    context.close()

    replay = browser.new_context()
    replay.add_cookies([auth_cookie, {"name": "chat_route", "value": first, "url": proxy}])
    other = replay.new_page()
    assert _upstream(other, conversation_url) == replica_a
    expect(other.get_by_role("button", name="Log in")).to_be_visible(timeout=30_000)
    expect(other.get_by_text("Tell me about tea")).to_have_count(0)
    replay.close()

    # The proxy's own log: the websockets really went to A, then B, then A.
    streams: list[str] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log = (topology.proxy_dir / "access.log").read_text()
        streams = re.findall(r"^/_stcore/stream 101 (\S+)$", log, re.M)
        if {replica_a, replica_b} <= set(streams):
            break
        time.sleep(0.2)
    assert {replica_a, replica_b} <= set(streams), streams
