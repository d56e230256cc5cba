"""What an admin can do: see users with their usage, create, disable/enable, promote/demote,
issue one-time password-reset codes, set the registration policy, read security events.

Every method takes the acting account and re-checks it against Postgres (an admin demoted
or disabled a second ago can do nothing), then does its work and writes its audit event in
one unit of work.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from chat.auth import audit
from chat.auth.accounts import Account, AccountService, hash_reset_code
from chat.auth.registration import Registration, random_code
from chat.errors import Forbidden, InvalidInput, NotFound
from chat.settings import Settings
from chat.storage import repository
from chat.storage.db import unit_of_work


@dataclass(frozen=True)
class UserRow:
    account: Account
    conversations: int
    messages: int
    tokens: int


@dataclass(frozen=True)
class IssuedReset:
    username: str
    code: str  # shown once; only its hash is stored
    expires_in_minutes: int

    @property
    def valid_for(self) -> str:
        """The code's lifetime as the admin reads it out: "24 hours", "2 days"."""
        return describe_lifetime(self.expires_in_minutes)


def describe_lifetime(minutes: int) -> str:
    """A lifetime in the unit people use for it: minutes under two hours, hours under two
    days, then days; "about" when the unit rounds it ("about 3 hours" for 170 minutes)."""
    if minutes < 120 and minutes != 60:
        return f"{minutes} minute{'s' * (minutes != 1)}"
    unit, size = ("hour", 60) if minutes < 2 * 24 * 60 else ("day", 24 * 60)
    count = round(minutes / size)
    text = f"{count} {unit}{'s' * (count != 1)}"
    return text if count * size == minutes else f"about {text}"


class AdminService:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        settings: Settings,
        accounts: AccountService,
        registration: Registration,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.accounts = accounts
        self.registration = registration

    def _admin(self, session: Session, actor: Account) -> Account:
        user = repository.get_user(session=session, user_id=actor.id)
        if user is None or user.disabled or user.role != "admin":
            raise Forbidden("Only an administrator can do that.")
        return Account.of(user)

    def _target(self, session: Session, user_id: uuid.UUID) -> Account:
        user = repository.get_user(session=session, user_id=user_id)
        if user is None:
            raise NotFound("No such user.")
        return Account.of(user)

    def users(self, *, actor: Account) -> list[UserRow]:
        with unit_of_work(self.sessions) as session:
            self._admin(session, actor)
            stats = repository.user_stats(session=session)
            rows = []
            for user in repository.list_users(session=session):
                found = stats.get(user.id)
                rows.append(
                    UserRow(
                        Account.of(user),
                        found.conversations if found else 0,
                        found.messages if found else 0,
                        found.tokens if found else 0,
                    )
                )
            return rows

    def create_user(
        self, *, actor: Account, username: str, email: str, password: str, role: str = "user"
    ) -> Account:
        if role not in ("user", "admin"):
            raise InvalidInput(f"Unknown role {role!r}.")
        with unit_of_work(self.sessions) as session:
            admin = self._admin(session, actor)
        return self.accounts.create(
            username=username, email=email, password=password, role=role, actor=admin.username
        )

    def set_disabled(self, *, actor: Account, user_id: uuid.UUID, disabled: bool) -> None:
        """Disabling also ends every session of the user (their next interaction signs out)."""
        now = self.accounts.clock()
        with unit_of_work(self.sessions) as session:
            admin = self._admin(session, actor)
            target = self._target(session, user_id)
            if target.id == admin.id:
                raise InvalidInput("You cannot disable your own account.")
            repository.set_user_flags(session=session, user_id=user_id, disabled=disabled)
            if disabled:
                repository.revoke_sessions(session=session, user_id=user_id, at=now)
            audit.record(
                session,
                kind=audit.USER_DISABLED if disabled else audit.USER_ENABLED,
                username=target.username,
                user_id=target.id,
                at=now,
                by=admin.username,
            )

    def end_sessions(self, *, actor: Account, user_id: uuid.UUID) -> None:
        """Sign the user out everywhere: every cookie and open tab stops working."""
        now = self.accounts.clock()
        with unit_of_work(self.sessions) as session:
            admin = self._admin(session, actor)
            target = self._target(session, user_id)
            repository.revoke_sessions(session=session, user_id=target.id, at=now)
            audit.record(
                session,
                kind=audit.SESSIONS_ENDED,
                username=target.username,
                user_id=target.id,
                at=now,
                by=admin.username,
            )

    def unlock(self, *, actor: Account, user_id: uuid.UUID) -> None:
        """Failed sign-ins on this account before now stop counting (chat.auth.throttle)."""
        with unit_of_work(self.sessions) as session:
            admin = self._admin(session, actor)
            target = self._target(session, user_id)
            audit.record(
                session,
                kind=audit.LOGIN_UNLOCKED,
                username=target.username,
                user_id=target.id,
                at=self.accounts.clock(),
                by=admin.username,
            )

    def set_role(self, *, actor: Account, user_id: uuid.UUID, role: str) -> None:
        if role not in ("user", "admin"):
            raise InvalidInput(f"Unknown role {role!r}.")
        with unit_of_work(self.sessions) as session:
            admin = self._admin(session, actor)
            target = self._target(session, user_id)
            if target.id == admin.id:
                raise InvalidInput("You cannot change your own role (ask another admin).")
            repository.set_user_flags(session=session, user_id=user_id, role=role)
            audit.record(
                session,
                kind=audit.ROLE_CHANGED,
                username=target.username,
                user_id=target.id,
                at=self.accounts.clock(),
                by=admin.username,
                role=role,
            )

    def issue_reset(self, *, actor: Account, user_id: uuid.UUID) -> IssuedReset:
        """A one-time code the user redeems on the login page; earlier codes stop working."""
        now = self.accounts.clock()
        minutes = self.settings.reset_code_minutes
        code = random_code()
        with unit_of_work(self.sessions) as session:
            admin = self._admin(session, actor)
            target = self._target(session, user_id)
            repository.discard_password_resets(session=session, user_id=target.id, at=now)
            repository.create_password_reset(
                session=session,
                user_id=target.id,
                token_hash=hash_reset_code(code),
                expires_at=now + timedelta(minutes=minutes),
                created_by=admin.id,
            )
            audit.record(
                session,
                kind=audit.RESET_ISSUED,
                username=target.username,
                user_id=target.id,
                at=now,
                by=admin.username,
            )
        return IssuedReset(target.username, code, minutes)

    def set_registration(self, *, actor: Account, policy: str) -> None:
        with unit_of_work(self.sessions) as session:
            admin = self._admin(session, actor)
            self.registration.set_policy(session, policy=policy, actor=admin)

    def new_invite_code(self, *, actor: Account) -> str:
        with unit_of_work(self.sessions) as session:
            admin = self._admin(session, actor)
            return self.registration.new_invite_code(session, actor=admin)

    def events(self, *, actor: Account, limit: int = 100) -> list[audit.Event]:
        with unit_of_work(self.sessions) as session:
            self._admin(session, actor)
            return audit.events(session, limit=limit)


def ensure_initial_admin(accounts: AccountService, settings: Settings) -> Account | None:
    """On first start (no users at all), create the admin named in settings, if any."""
    if not settings.initial_admin_username or settings.initial_admin_password is None:
        return None
    if accounts.count() > 0:
        return None
    return accounts.create(
        username=settings.initial_admin_username,
        email=settings.initial_admin_email
        or f"{settings.initial_admin_username}@localhost.invalid",
        password=settings.initial_admin_password.get_secret_value(),
        role="admin",
        actor="settings",
    )
