"""Server-side sessions: a row per signed-in browser (device, address, created, last seen).

Signing in creates the row and a one-time code; the browser posts the code to the app's
own route (chat/web/session_route.py), which answers with the remember-me cookie, set by
the server: HttpOnly (no script can read it), Secure under https, SameSite=Strict. The
cookie names the row, so ending a row ends that browser's session (its cookie and any open
tab) wherever it is; the user's revocation cutoff and lifetimes still apply on top
(AccountService.session_account).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from chat.auth import audit, session_cookie
from chat.auth.accounts import SEEN_GRANULARITY, Account, AccountService, normalise_username
from chat.auth.audit import Clock
from chat.settings import Settings
from chat.storage import repository
from chat.storage.db import unit_of_work

CODE_LIFETIME = timedelta(minutes=2)


@dataclass(frozen=True)
class BrowserSessionView:
    id: uuid.UUID
    device: str
    address: str
    created_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class IssuedCookie:
    value: str
    max_age_s: int


def hash_code(code: str) -> str:
    return hashlib.sha256((code or "").encode()).hexdigest()


class BrowserSessions:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        settings: Settings,
        accounts: AccountService,
        clock: Clock = audit.utc_now,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.accounts = accounts
        self.clock = clock

    def start(self, *, account: Account, device: str, address: str) -> tuple[uuid.UUID, str]:
        """A new session for a browser that just signed in, and the one-time code it
        exchanges for its cookie (valid for two minutes, once)."""
        code = secrets.token_urlsafe(32)
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            # Rows of sessions that can no longer be valid are kept no longer.
            repository.delete_old_browser_sessions(
                session=session,
                user_id=account.id,
                before=now - timedelta(hours=self.settings.session_max_hours),
            )
            row = repository.create_browser_session(
                session=session,
                user_id=account.id,
                at=now,
                device=device,
                address=address,
                code_hash=hash_code(code),
                code_expires_at=now + CODE_LIFETIME,
            )
            return row.id, code

    def redeem(self, *, code: str) -> IssuedCookie | None:
        """The remember-me cookie for the session this code was issued to (None: unknown,
        used or expired code)."""
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            row = repository.take_session_code(session=session, code_hash=hash_code(code), at=now)
            if row is None:
                return None
            user = repository.get_user(session=session, user_id=row.user_id)
            if user is None:
                return None
            session_id, issued_at, username = row.id, row.created_at.timestamp(), user.username
        lifetime_s = self.settings.cookie_expiry_days * 86400
        value = session_cookie.encode(
            key=self.settings.resolved_cookie_key(),
            username=username,
            issued_at=issued_at,
            lifetime_s=lifetime_s,
            session_id=session_id,
        )
        return IssuedCookie(value, max(1, int(issued_at + lifetime_s - now.timestamp())))

    def check(
        self, *, username: str, session_id: uuid.UUID, issued_at: float, address: str = ""
    ) -> Account | None:
        """The account behind this browser's session, or None once it is no longer valid
        (the row ended, or anything AccountService.session_account refuses)."""
        with unit_of_work(self.sessions) as session:
            # One read on every run of a page: the user and this browser's row together.
            user, row = repository.get_user_with_browser_session(
                session=session, username=normalise_username(username), session_id=session_id
            )
        account = self.accounts.valid_for_session(
            Account.of(user) if user is not None else None, issued_at=issued_at
        )
        if account is None or row is None or row.ended_at is not None:
            return None
        now = self.clock()
        if now - row.last_seen_at > SEEN_GRANULARITY or (address and address != row.address):
            with unit_of_work(self.sessions) as session:
                repository.touch_browser_session(
                    session=session,
                    user_id=account.id,
                    session_id=session_id,
                    at=now,
                    address=address or row.address,
                )
        return account

    def list(self, *, user_id: uuid.UUID) -> list[BrowserSessionView]:
        """The user's live sessions: not ended, and within the absolute and idle lifetimes."""
        now = self.clock()
        oldest = now - timedelta(hours=self.settings.session_max_hours)
        idle = now - timedelta(minutes=self.settings.session_idle_minutes)
        with unit_of_work(self.sessions) as session:
            rows = repository.list_browser_sessions(session=session, user_id=user_id)
            return [
                BrowserSessionView(r.id, r.device, r.address, r.created_at, r.last_seen_at)
                for r in rows
                if r.created_at > oldest and r.last_seen_at > idle
            ]

    def end(self, *, user_id: uuid.UUID, session_id: uuid.UUID, kind: str = audit.LOGOUT) -> None:
        """End one of the user's sessions (this browser's: signing out)."""
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            ended = repository.end_browser_sessions(
                session=session, user_id=user_id, at=now, session_id=session_id
            )
            user = repository.get_user(session=session, user_id=user_id)
            if ended and user is not None:
                audit.record(
                    session,
                    kind=kind,
                    username=user.username,
                    user_id=user_id,
                    at=now,
                    browser=str(session_id)[:8],
                )

    def end_others(self, *, user_id: uuid.UUID, keep: uuid.UUID) -> int:
        """End every session of the user but `keep` (this browser's)."""
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            ended = repository.end_browser_sessions(
                session=session, user_id=user_id, at=now, keep=keep
            )
            user = repository.get_user(session=session, user_id=user_id)
            if user is not None:
                audit.record(
                    session,
                    kind=audit.SESSIONS_ENDED,
                    username=user.username,
                    user_id=user_id,
                    at=now,
                )
            return ended
