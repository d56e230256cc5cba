"""API keys: shown once, stored hashed, listed and revoked by their owner only."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from chat.auth import audit
from chat.auth.api_keys import Unauthorized, hash_key
from chat.errors import InvalidInput, NotFound
from chat.services import Services
from chat.storage.db import unit_of_work
from chat.storage.tables import ApiKey
from tests.support.factories import make_user


def test_a_key_is_shown_once_and_stored_only_as_its_hash(services: Services) -> None:
    user = make_user(services)
    created = services.api_keys.create(user_id=user.id, name="  my  script ")
    assert created.key.startswith("chat-") and len(created.key) > 40
    assert created.info.name == "my script"
    with unit_of_work(services.sessions) as session:
        stored = session.scalars(select(ApiKey).where(ApiKey.user_id == user.id)).one()
        assert stored.key_hash == hash_key(created.key) != created.key
        assert created.key not in (stored.prefix, stored.name)
    (listed,) = services.api_keys.list(user_id=user.id)
    assert listed.prefix == created.key[:12] and listed.active and listed.last_used_at is None


def test_authenticate_marks_use_and_logs_the_request(services: Services) -> None:
    user = make_user(services)
    key = services.api_keys.create(user_id=user.id, name="k").key
    account = services.api_keys.authenticate(
        key=key, request="GET /api/v1/models", client="1.2.3.4"
    )
    assert account.id == user.id
    (listed,) = services.api_keys.list(user_id=user.id)
    assert listed.last_used_at is not None
    with unit_of_work(services.sessions) as session:
        events = audit.events(session, user_id=user.id)
    request = next(event for event in events if event.kind == audit.API_REQUEST)
    assert request.detail == {"request": "GET /api/v1/models", "key": "k"}
    assert request.client == "1.2.3.4"


@pytest.mark.parametrize("key", [None, "", "   ", "chat-unknown", "x" * 5000, "nul\x00key"])
def test_missing_or_unknown_keys_are_refused(services: Services, key: str | None) -> None:
    with pytest.raises(Unauthorized):
        services.api_keys.authenticate(key=key, request="GET /api/v1/models")


def test_revoked_keys_and_disabled_users_are_refused(services: Services) -> None:
    admin = make_user(services, role="admin")
    user = make_user(services)
    revoked = services.api_keys.create(user_id=user.id, name="old")
    services.api_keys.revoke(user_id=user.id, key_id=revoked.info.id)
    with pytest.raises(Unauthorized):
        services.api_keys.authenticate(key=revoked.key, request="GET /api/v1/models")
    live = services.api_keys.create(user_id=user.id, name="new").key
    services.api_keys.authenticate(key=live, request="GET /api/v1/models")
    services.admin.set_disabled(actor=admin, user_id=user.id, disabled=True)
    with pytest.raises(Unauthorized):
        services.api_keys.authenticate(key=live, request="GET /api/v1/models")
    with unit_of_work(services.sessions) as session:
        reasons = [
            event.detail["reason"]
            for event in audit.events(session, user_id=user.id)
            if event.kind == audit.API_KEY_REFUSED
        ]
    assert sorted(reasons) == ["disabled", "revoked"]


def test_only_the_owner_revokes_or_lists_a_key(services: Services) -> None:
    owner, other = make_user(services), make_user(services)
    created = services.api_keys.create(user_id=owner.id, name="mine")
    with pytest.raises(NotFound):
        services.api_keys.revoke(user_id=other.id, key_id=created.info.id)
    with pytest.raises(NotFound):
        services.api_keys.revoke(user_id=owner.id, key_id=uuid.uuid4())
    assert services.api_keys.list(user_id=other.id) == []
    assert services.api_keys.authenticate(key=created.key, request="t").id == owner.id


@pytest.mark.parametrize("name", ["", "   ", "n" * 101, "a\x00b"])
def test_a_key_needs_a_sensible_name(services: Services, name: str) -> None:
    user = make_user(services)
    with pytest.raises(InvalidInput):
        services.api_keys.create(user_id=user.id, name=name)


def test_api_requests_do_not_crowd_the_users_sign_in_history(services: Services) -> None:
    user = make_user(services)
    key = services.api_keys.create(user_id=user.id, name="busy script").key
    for _ in range(5):
        services.api_keys.authenticate(key=key, request="POST /api/chat")
    kinds = [event.kind for event in services.accounts.login_history(user_id=user.id)]
    assert audit.API_REQUEST not in kinds and audit.API_KEY_CREATED in kinds
