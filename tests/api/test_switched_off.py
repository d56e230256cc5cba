"""API_ENABLED=false: every /api request is a 404 with a sentence (the API app in process,
through Starlette's test client; no services are built)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from chat.api.app import create_api
from chat.services import Services
from chat.settings import get_settings


@pytest.fixture
def switched_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("API_ENABLED", "false")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def no_services() -> Services:
    raise AssertionError("a switched-off API built the services")


def test_every_route_is_404_when_switched_off(switched_off: None) -> None:
    client = TestClient(create_api(no_services))
    for method, path in [("GET", "/health"), ("POST", "/chat"), ("GET", "/docs"),
                         ("POST", "/v1/chat/completions"), ("GET", "/openapi.json")]:  # fmt: skip
        answer = client.request(method, path, json={})
        assert answer.status_code == 404
        assert answer.json()["error"]["message"] == "The HTTP API is switched off on this server."
