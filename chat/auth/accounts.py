"""User accounts: creation, authentication, password changes, session validity.

Shared by the login page, the registration form and the operators' command line, so every
path applies the same rules (username format, password policy, hashing, revocation).
"""

from __future__ import annotations

import builtins
import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chat.auth import audit, throttle
from chat.auth.audit import Clock
from chat.auth.passwords import check_password_policy, dummy_hash, hash_password, verify_password
from chat.auth.usernames import fold
from chat.errors import AccountDisabled, InvalidInput
from chat.settings import Settings
from chat.storage import repository
from chat.storage.db import unit_of_work
from chat.storage.tables import User
from chat.validation import DISPLAY_NAME, clean, storable, unstorable_reason

MAX_USERNAME_CHARS = 32
# Starts and ends with a letter or digit: "alice." would pass for "alice".
USERNAME_RE = re.compile(rf"^[a-z0-9][a-z0-9._-]{{0,{MAX_USERNAME_CHARS - 2}}}[a-z0-9]$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Activity is written at most this often per user (not on every rerun).
SEEN_GRANULARITY = timedelta(minutes=1)


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
    last_seen_at: datetime | None = None

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
            last_seen_at=user.last_seen_at,
        )


def normalise_username(username: str) -> str:
    """As typed at login, made safe to look up and record (a name with a NUL byte matches
    no account; it must not break the query that says so)."""
    return storable(unicodedata.normalize("NFKC", username or "").strip().lower())


def validate_username(username: str) -> str:
    name = normalise_username(username)
    if not USERNAME_RE.match(name):
        raise InvalidInput(
            "A username is 2 to 32 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit."
        )
    return name


def validate_email(email: str) -> str:
    value = (email or "").strip()
    if not EMAIL_RE.match(value) or len(value) > 320 or unstorable_reason(value):
        raise InvalidInput("Enter a valid e-mail address.")
    return value


class AccountService:
    """Every rule about who may sign in, and for how long. `clock` is injectable so tests can
    move time forward (throttle windows, idle and absolute lifetimes)."""

    def __init__(
        self, *, sessions: sessionmaker[Session], settings: Settings, clock: Clock = audit.utc_now
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock

    def create(
        self,
        *,
        username: str,
        email: str,
        password: str,
        display_name: str = "",
        role: str = "user",
        actor: str = "",
        client: str = "",
    ) -> Account:
        """A new account; `actor` is the admin who created it ("" for self-registration)."""
        name = validate_username(username)
        mail = validate_email(email)
        check_password_policy(password, min_chars=self.settings.password_min_chars, username=name)
        # A blank display name at registration means "call me by my username".
        display = clean(display_name, replace(DISPLAY_NAME, required=False)) or name
        password_hash = hash_password(password, rounds=self.settings.bcrypt_rounds)
        try:
            with unit_of_work(self.sessions) as session:
                if repository.get_user_by_username(session=session, username=name):
                    raise InvalidInput(f"The username {name!r} is taken.")
                if repository.username_fold_taken(session=session, username_fold=fold(name)):
                    raise InvalidInput(
                        f"The username {name!r} looks too much like an existing one. "
                        "Choose another."
                    )
                user = repository.create_user(
                    session=session,
                    username=name,
                    display_name=display,
                    email=mail,
                    password_hash=password_hash,
                    role=role,
                    username_fold=fold(name),
                )
                audit.record(
                    session,
                    kind=audit.USER_CREATED if actor else audit.USER_REGISTERED,
                    username=name,
                    user_id=user.id,
                    at=self.clock(),
                    client=client,
                    by=actor,
                    role=role,
                )
                return Account.of(user)
        except IntegrityError as exc:  # a concurrent registration of the same name
            raise InvalidInput(f"The username {name!r} is taken.") from exc

    def authenticate(self, *, username: str, password: str, client: str = "") -> Account | None:
        """The account if the password matches and the account is enabled, else None;
        AccountDisabled when the password matches a disabled account.

        Raises Throttled (without checking the password) when this username or client has
        too many recent failures (chat.auth.throttle). Unknown usernames are checked against
        a dummy hash so both cases take the same time; every outcome is an audit event.
        """
        name = normalise_username(username)[:64]
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            verdict = throttle.verdict(
                session, self.settings, username=name, client=client, now=now
            )
            if not verdict.allowed:
                audit.record(
                    session,
                    kind=audit.LOGIN_THROTTLED,
                    username=name,
                    at=now,
                    client=client,
                    scope=verdict.scope,
                )
            user = repository.get_user_by_username(session=session, username=name)
            account = Account.of(user) if user else None
            stored_hash = user.password_hash if user else None
        if not verdict.allowed:
            raise throttle.refuse(verdict)
        matched = verify_password(
            password or "", stored_hash or dummy_hash(self.settings.bcrypt_rounds)
        )
        ok = matched and stored_hash is not None and account is not None and not account.disabled
        with unit_of_work(self.sessions) as session:
            audit.record(
                session,
                kind=audit.LOGIN_SUCCESS if ok else audit.LOGIN_FAILURE,
                username=name,
                user_id=account.id if account else None,
                at=now,
                client=client,
                **({} if ok else {"reason": "disabled" if matched else "credentials"}),
            )
            if ok and account is not None:
                repository.record_login(session=session, user_id=account.id, at=now)
        if matched and account is not None and account.disabled:
            # Only after the right password: a wrong one must not tell who is disabled.
            raise AccountDisabled()
        return account if ok else None

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

    def set_password(
        self, *, username: str, password: str, actor: str = "", client: str = ""
    ) -> None:
        """New password; every session issued before now is revoked."""
        account = self.get(username=username)
        if account is None:
            raise InvalidInput(f"No user called {normalise_username(username)!r}.")
        check_password_policy(
            password, min_chars=self.settings.password_min_chars, username=account.username
        )
        password_hash = hash_password(password, rounds=self.settings.bcrypt_rounds)
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            repository.set_password_hash(
                session=session, user_id=account.id, password_hash=password_hash, at=now
            )
            repository.discard_password_resets(session=session, user_id=account.id, at=now)
            audit.record(
                session,
                kind=audit.PASSWORD_CHANGED,
                username=account.username,
                user_id=account.id,
                at=now,
                client=client,
                by=actor or account.username,
            )

    def change_password(self, *, username: str, current: str, new: str, client: str = "") -> None:
        """The signed-in user's own change: the current password first (checked and
        throttled like a sign-in), so an unattended open tab cannot take the account."""
        if self.authenticate(username=username, password=current, client=client) is None:
            raise InvalidInput("Your current password is not right. Nothing was changed.")
        self.set_password(username=username, password=new, client=client)

    def redeem_reset(self, *, code: str, password: str, client: str = "") -> Account:
        """Set a new password with an admin-issued one-time code (no other way exists for a
        signed-out user). Failures are throttled per client like logins; a code works once,
        and a refused password leaves it unused."""
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            verdict = throttle.verdict(
                session, self.settings, username=None, client=client, now=now,
                kind=audit.RESET_FAILURE,
            )  # fmt: skip
        if not verdict.allowed:
            raise throttle.refuse(verdict)
        password_hash = hash_password(password, rounds=self.settings.bcrypt_rounds)
        with unit_of_work(self.sessions) as session:
            user_id = repository.take_password_reset(
                session=session, token_hash=hash_reset_code(code), at=now
            )
            user = repository.get_user(session=session, user_id=user_id) if user_id else None
            if user is not None:
                # Raising here rolls the code's use back: it stays valid for a better password.
                check_password_policy(
                    password, min_chars=self.settings.password_min_chars, username=user.username
                )
                repository.set_password_hash(
                    session=session, user_id=user.id, password_hash=password_hash, at=now
                )
                repository.discard_password_resets(session=session, user_id=user.id, at=now)
            audit.record(
                session,
                kind=audit.RESET_REDEEMED if user else audit.RESET_FAILURE,
                username=user.username if user else "",
                user_id=user.id if user else None,
                at=now,
                client=client,
            )
        if user is None:
            raise InvalidInput("This reset code is not valid: it may be mistyped, used or expired.")
        return Account.of(user)

    def end_sessions(self, *, user_id: uuid.UUID, kind: str = audit.LOGOUT) -> datetime:
        """Every cookie and live session issued before now stops working; returns the cutoff."""
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            repository.revoke_sessions(session=session, user_id=user_id, at=now)
            user = repository.get_user(session=session, user_id=user_id)
            audit.record(
                session, kind=kind, username=user.username if user else "", user_id=user_id, at=now
            )
        return now

    def session_account(self, *, username: str, issued_at: float) -> Account | None:
        """The account behind a session that started at `issued_at` (unix time: a cookie's
        issue time, or a live session's login), or None if that session is no longer valid:
        user gone or disabled, sessions revoked since, absolute or idle lifetime exceeded.
        An idle user's sessions are all revoked, so an old cookie can never come back."""
        return self.valid_for_session(self.get(username=username), issued_at=issued_at)

    def valid_for_session(self, account: Account | None, *, issued_at: float) -> Account | None:
        """`account` (already read) if a session that started at `issued_at` may still use
        it, else None; the rules of session_account, which reads the account first."""
        if account is None or account.disabled:
            return None
        now = self.clock()
        issued = datetime.fromtimestamp(issued_at, tz=UTC)
        if issued < account.sessions_valid_after:
            return None
        if now - issued > timedelta(hours=self.settings.session_max_hours):
            return None
        seen = max(t for t in (account.last_seen_at, account.last_login_at, issued) if t)
        if now - seen > timedelta(minutes=self.settings.session_idle_minutes):
            self.end_sessions(user_id=account.id, kind=audit.SESSION_EXPIRED)
            return None
        if account.last_seen_at is None or now - account.last_seen_at > SEEN_GRANULARITY:
            with unit_of_work(self.sessions) as session:
                repository.touch_last_seen(session=session, user_id=account.id, at=now)
        return account

    def login_history(self, *, user_id: uuid.UUID, limit: int = 20) -> builtins.list[audit.Event]:
        """The user's own recent security events (sign-ins, where from), newest first;
        their API requests are traffic, not security events, and would crowd them out."""
        with unit_of_work(self.sessions) as session:
            return audit.events(session, limit=limit, user_id=user_id, without=(audit.API_REQUEST,))


def hash_reset_code(code: str) -> str:
    """Codes are random (80 bits), so a plain SHA-256 is enough; spacing and case are ignored."""
    normal = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    return hashlib.sha256(normal.encode()).hexdigest()
