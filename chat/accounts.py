"""User accounts: creation, authentication, password changes, session validity.

Shared by the login page, the registration form and the operators' command line, so every
path applies the same rules (username format, password policy, hashing, revocation).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chat import repository
from chat.db import unit_of_work
from chat.errors import InvalidInput
from chat.models import User
from chat.passwords import check_password_policy, dummy_hash, hash_password, verify_password
from chat.settings import Settings

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Account:
    """What the rest of the app may know about a user (never the hash)."""

    id: uuid.UUID
    username: str
    display_name: str
    email: str
    role: str
    disabled: bool
    sessions_valid_after: datetime
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> Account:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            email=user.email,
            role=user.role,
            disabled=user.disabled,
            sessions_valid_after=user.sessions_valid_after,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def validate_username(username: str) -> str:
    name = normalise_username(username)
    if not USERNAME_RE.match(name):
        raise InvalidInput(
            "A username is 2 to 32 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def validate_email(email: str) -> str:
    value = (email or "").strip()
    if not EMAIL_RE.match(value) or len(value) > 320:
        raise InvalidInput("Enter a valid e-mail address.")
    return value


class AccountService:
    def __init__(self, *, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    def create(
        self,
        *,
        username: str,
        email: str,
        password: str,
        display_name: str = "",
        role: str = "user",
    ) -> Account:
        name = validate_username(username)
        mail = validate_email(email)
        check_password_policy(password, min_chars=self.settings.password_min_chars, username=name)
        display = " ".join((display_name or name).split())[:200] or name
        if "\x00" in display:
            raise InvalidInput("A display name cannot contain a NUL character (\\0).")
        password_hash = hash_password(password, rounds=self.settings.bcrypt_rounds)
        try:
            with unit_of_work(self.sessions) as session:
                if repository.get_user_by_username(session=session, username=name):
                    raise InvalidInput(f"The username {name!r} is taken.")
                user = repository.create_user(
                    session=session,
                    username=name,
                    display_name=display,
                    email=mail,
                    password_hash=password_hash,
                    role=role,
                )
                return Account.of(user)
        except IntegrityError as exc:  # a concurrent registration of the same name
            raise InvalidInput(f"The username {name!r} is taken.") from exc

    def authenticate(self, *, username: str, password: str) -> Account | None:
        """The account if the password matches and the account is enabled, else None.

        Unknown usernames are checked against a dummy hash so both cases take the same time.
        """
        name = normalise_username(username)
        with unit_of_work(self.sessions) as session:
            user = repository.get_user_by_username(session=session, username=name)
            account = Account.of(user) if user else None
            stored_hash = user.password_hash if user else None
        if stored_hash is None:
            verify_password(password or "", dummy_hash(self.settings.bcrypt_rounds))
            return None
        if not verify_password(password or "", stored_hash):
            return None
        if account is None or account.disabled:
            return None
        with unit_of_work(self.sessions) as session:
            repository.record_login(session=session, user_id=account.id)
        return account

    def get(self, *, username: str) -> Account | None:
        with unit_of_work(self.sessions) as session:
            user = repository.get_user_by_username(
                session=session, username=normalise_username(username)
            )
            return Account.of(user) if user else None

    def list(self) -> list[Account]:
        with unit_of_work(self.sessions) as session:
            return [Account.of(user) for user in repository.list_users(session=session)]

    def count(self) -> int:
        with unit_of_work(self.sessions) as session:
            return repository.count_users(session=session)

    def set_password(self, *, username: str, password: str) -> None:
        """New password; every session issued before now is revoked."""
        account = self.get(username=username)
        if account is None:
            raise InvalidInput(f"No user called {normalise_username(username)!r}.")
        check_password_policy(
            password, min_chars=self.settings.password_min_chars, username=account.username
        )
        password_hash = hash_password(password, rounds=self.settings.bcrypt_rounds)
        with unit_of_work(self.sessions) as session:
            repository.set_password_hash(
                session=session, user_id=account.id, password_hash=password_hash
            )

    def revoke_sessions(self, *, user_id: uuid.UUID) -> None:
        with unit_of_work(self.sessions) as session:
            repository.revoke_sessions(session=session, user_id=user_id)

    def session_account(self, *, username: str, issued_at: float) -> Account | None:
        """The account behind a remember-me cookie issued at `issued_at` (unix time), or None
        if the user is gone, disabled, or revoked their sessions after it was issued."""
        account = self.get(username=username)
        if account is None or account.disabled:
            return None
        issued = datetime.fromtimestamp(issued_at, tz=UTC)
        if issued < account.sessions_valid_after:
            return None
        return account
