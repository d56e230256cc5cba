"""The route that turns a one-time code into the session cookie."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.testclient import TestClient

from chat.services import Services
from chat.web.app import routes
from tests.support.factories import make_user


def _client(services: Services) -> TestClient:
    return TestClient(Starlette(routes=routes(lambda: services)), base_url="http://chat.test")


def test_a_code_becomes_an_httponly_strict_cookie_once(services: Services) -> None:
    user = make_user(services)
    _, code = services.browser_sessions.start(account=user, device="t", address="a")
    client = _client(services)
    answer = client.post("/api/session", data={"code": code}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith("chat_auth=")
    for flag in ("httponly", "samesite=strict", "path=/"):
        assert flag in cookie
    assert "secure" not in cookie  # plain http
    again = client.post("/api/session", data={"code": code}, follow_redirects=False)
    assert "set-cookie" not in again.headers


def test_a_form_on_another_site_cannot_sign_the_browser_in(services: Services) -> None:
    user = make_user(services)
    _, code = services.browser_sessions.start(account=user, device="t", address="a")
    client = _client(services)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        answer = client.post(
            "/api/session", data={"code": code}, headers=headers, follow_redirects=False
        )
        assert "set-cookie" not in answer.headers
    assert client.get("/api/session").status_code == 405
