"""The client address comes from X-Forwarded-For only through listed proxies."""

from __future__ import annotations

import pytest
from starlette.types import Message, Scope

from chat.web.clients import ClientAddress, parse_networks, resolve_client
from tests.support.event_loop import run_coroutine

NGINX = parse_networks(["127.0.0.1"])
TWO = parse_networks(["127.0.0.1", "10.0.0.0/8"])


def test_without_listed_proxies_the_header_is_ignored() -> None:
    assert resolve_client("203.0.113.9", ["1.2.3.4"], ()) == "203.0.113.9"


def test_one_proxy_its_entry_is_the_client_and_earlier_claims_are_ignored() -> None:
    assert resolve_client("127.0.0.1", ["6.6.6.6", "203.0.113.9"], NGINX) == "203.0.113.9"


def test_two_proxies() -> None:
    hops = ["6.6.6.6", "203.0.113.9", "10.1.2.3"]  # claimed, client, TLS terminator
    assert resolve_client("127.0.0.1", hops, TWO) == "203.0.113.9"


def test_a_client_that_is_not_a_proxy_cannot_choose_its_address() -> None:
    assert resolve_client("203.0.113.9", ["1.2.3.4"], NGINX) == "203.0.113.9"


def _seen(middleware_trust: tuple[object, ...], client: str, xff: str) -> str:
    seen: dict[str, str] = {}

    async def app(scope: Scope, receive: object, send: object) -> None:
        seen["client"] = scope["client"][0]

    middleware = ClientAddress(app, trusted_proxies=middleware_trust)  # type: ignore[arg-type]
    scope = {"type": "http", "client": (client, 0), "headers": [(b"x-forwarded-for", xff.encode())]}

    async def receive() -> Message:
        return {"type": "http.request"}

    run_coroutine(middleware(scope, receive, receive))  # type: ignore[arg-type]
    return seen["client"]


def test_uvicorns_own_rewrite_from_localhost_does_not_decide(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uvicorn, trusting 127.0.0.1 by default, already replaced the peer by the header's
    entry: with no proxy listed, the connection is still from 127.0.0.1."""
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    assert _seen((), client="1.2.3.4", xff="1.2.3.4") == "127.0.0.1"
    assert _seen(NGINX, client="1.2.3.4", xff="1.2.3.4") == "1.2.3.4"
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "")
    assert _seen((), client="203.0.113.9", xff="1.2.3.4") == "203.0.113.9"
