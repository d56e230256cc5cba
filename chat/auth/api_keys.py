"""Per-user keys for the HTTP API: created with a name, shown once, stored hashed, revoked.

A key is 32 random bytes (256 bits), so a plain SHA-256 of it is enough to store (nothing
to brute-force, unlike a password) and lets a request find its key with one indexed
lookup. A key works while it is not revoked and its user is not disabled; creating,
revoking and refusing keys are audit events.
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from chat.auth import audit
from chat.auth.accounts import Account
from chat.auth.audit import Clock
from chat.errors import ChatError, InvalidInput
from chat.storage import repository
from chat.storage.db import unit_of_work
from chat.storage.tables import ApiKey
from chat.validation import TextField, clean

KEY_PREFIX = "chat-"
SHOWN_PREFIX_CHARS = 12  # "chat-" and 7 characters of the key: enough to tell keys apart
# Last use is written at most this often per key (not on every request).
USE_GRANULARITY = timedelta(minutes=1)
KEY_NAME = TextField("The key's name", 100, shape="line", when_empty="Give the key a name.")


class Unauthorized(ChatError):
    """No usable API key: missing, unknown, revoked, or its user is disabled. One sentence
    for all, so a caller cannot tell which keys exist."""

    user_message = (
        "A valid API key is needed: send it as 'Authorization: Bearer <key>'. "
        "Create one on the Account page."
    )


@dataclass(frozen=True)
class ApiKeyInfo:
    """What a list may show of a key (never the key or its hash)."""

    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewApiKey:
    info: ApiKeyInfo
    key: str  # shown once, never stored


def hash_key(key: str) -> str:
    return hashlib.sha256(key.strip().encode("utf-8", "replace")).hexdigest()


class ApiKeyService:
    def __init__(self, *, sessions: sessionmaker[Session], clock: Clock = audit.utc_now) -> None:
        self.sessions = sessions
        self.clock = clock

    def create(self, *, user_id: uuid.UUID, name: str, client: str = "") -> NewApiKey:
        """A new key for the user; its text is in the result and nowhere else."""
        label = clean(name, KEY_NAME)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with unit_of_work(self.sessions) as session:
            user = repository.get_user(session=session, user_id=user_id)
            if user is None:
                raise InvalidInput("No such user.")
            row = repository.add_api_key(
                session=session,
                user_id=user_id,
                name=label,
                key_hash=hash_key(key),
                prefix=key[:SHOWN_PREFIX_CHARS],
            )
            audit.record(
                session,
                kind=audit.API_KEY_CREATED,
                username=user.username,
                user_id=user_id,
                at=self.clock(),
                client=client,
                key=label,
            )
            return NewApiKey(info=_info(row), key=key)

    def list(self, *, user_id: uuid.UUID) -> builtins.list[ApiKeyInfo]:
        with unit_of_work(self.sessions) as session:
            return [
                _info(row) for row in repository.list_api_keys(session=session, user_id=user_id)
            ]

    def revoke(self, *, user_id: uuid.UUID, key_id: uuid.UUID, client: str = "") -> None:
        """The key stops working at once. NotFound if it is not this user's."""
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            name = repository.revoke_api_key(
                session=session, user_id=user_id, key_id=key_id, at=now
            )
            user = repository.get_user(session=session, user_id=user_id)
            audit.record(
                session,
                kind=audit.API_KEY_REVOKED,
                username=user.username if user else "",
                user_id=user_id,
                at=now,
                client=client,
                key=name,
            )

    def authenticate(self, *, key: str | None, request: str, client: str = "") -> Account:
        """The account behind a usable key, or Unauthorized. Either way the request
        (`request`: method and path) goes in the audit log, in the same transaction that
        marks the key as used (at most once a minute)."""
        if not key or not key.strip():
            with unit_of_work(self.sessions) as session:
                audit.record(
                    session,
                    kind=audit.API_KEY_REFUSED,
                    username="",
                    at=self.clock(),
                    client=client,
                    request=request,
                    reason="missing",
                )
            raise Unauthorized()
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            found = repository.find_api_key(session=session, key_hash=hash_key(key))
            if found is None:
                refusal: dict[str, Any] = {
                    "username": "",
                    "user_id": None,
                    "reason": "unknown",
                    "key": "",
                }
            else:
                api_key, user = found
                account = Account.of(user)
                if api_key.revoked_at is None and not user.disabled:
                    if api_key.last_used_at is None or now - api_key.last_used_at > USE_GRANULARITY:
                        repository.touch_api_key(
                            session=session, user_id=user.id, key_id=api_key.id, at=now
                        )
                    audit.record(
                        session,
                        kind=audit.API_REQUEST,
                        username=user.username,
                        user_id=user.id,
                        at=now,
                        client=client,
                        request=request,
                        key=api_key.name,
                    )
                    return account
                reason = "revoked" if api_key.revoked_at is not None else "disabled"
                refusal = {
                    "username": user.username,
                    "user_id": user.id,
                    "reason": reason,
                    "key": api_key.name,
                }
            audit.record(
                session,
                kind=audit.API_KEY_REFUSED,
                at=now,
                client=client,
                request=request,
                **refusal,
            )
        raise Unauthorized()


def _info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )
