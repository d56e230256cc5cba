"""Who may create an account: the registration policy (open, invite code, closed).

The policy starts from settings and an admin can change it at run time (stored in
`app_settings`, so every replica follows the change). Invite codes are random, shown once
to the admin, and stored only as a SHA-256; a code from settings (INVITE_CODE) also works.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Literal, cast

from sqlalchemy.orm import Session, sessionmaker

from chat.auth import audit
from chat.auth.accounts import Account, AccountService, hash_reset_code
from chat.errors import InvalidInput, Throttled
from chat.settings import Settings
from chat.storage import repository
from chat.storage.db import unit_of_work

Policy = Literal["open", "invite", "closed"]
POLICIES: tuple[Policy, ...] = ("open", "invite", "closed")
POLICY_KEY = "registration"
INVITE_KEY = "invite_code_sha256"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud safely


def random_code(groups: int = 4) -> str:
    """A human-typable code, e.g. 'K7QH-2MZX-93RB-TWAE' (4 x 4 x 5 bits = 80 bits)."""
    chars = [secrets.choice(CODE_ALPHABET) for _ in range(groups * 4)]
    return "-".join("".join(chars[i : i + 4]) for i in range(0, len(chars), 4))


class Registration:
    def __init__(
        self, *, sessions: sessionmaker[Session], settings: Settings, accounts: AccountService
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.accounts = accounts

    def policy(self) -> Policy:
        with unit_of_work(self.sessions) as session:
            stored = repository.get_app_setting(session=session, key=POLICY_KEY)
        return cast(Policy, stored) if stored in POLICIES else self.settings.registration

    def set_policy(self, session: Session, *, policy: str, actor: Account) -> None:
        """Called by the admin service inside its unit of work (after its admin check)."""
        if policy not in POLICIES:
            raise InvalidInput(f"Unknown registration policy {policy!r}.")
        repository.set_app_setting(session=session, key=POLICY_KEY, value=policy)
        audit.record(
            session,
            kind=audit.REGISTRATION_CHANGED,
            username=actor.username,
            user_id=actor.id,
            at=self.accounts.clock(),
            policy=policy,
        )

    def new_invite_code(self, session: Session, *, actor: Account) -> str:
        """A fresh invite code (the previous one stops working); shown once."""
        code = random_code()
        repository.set_app_setting(session=session, key=INVITE_KEY, value=hash_reset_code(code))
        audit.record(
            session,
            kind=audit.INVITE_ISSUED,
            username=actor.username,
            user_id=actor.id,
            at=self.accounts.clock(),
        )
        return code

    def invite_ok(self, code: str) -> bool:
        given = hash_reset_code(code)
        with unit_of_work(self.sessions) as session:
            stored = repository.get_app_setting(session=session, key=INVITE_KEY)
        configured = (
            self.settings.invite_code.get_secret_value() if self.settings.invite_code else ""
        )
        candidates = [c for c in (stored, hash_reset_code(configured) if configured else None) if c]
        return bool(code.strip()) and any(hmac.compare_digest(given, c) for c in candidates)

    def register(
        self,
        *,
        username: str,
        email: str,
        password: str,
        display_name: str = "",
        invite_code: str = "",
        client: str = "",
    ) -> Account:
        """Self-registration under the current policy, a few per client and hour (accounts
        created and invite codes refused both count)."""
        policy = self.policy()
        if policy == "closed":
            raise InvalidInput("Registration is closed. Ask an administrator for an account.")
        now = self.accounts.clock()
        with unit_of_work(self.sessions) as session:
            since = now - timedelta(hours=1)
            counts = [
                repository.count_auth_events(session=session, kind=kind, since=since, client=client)
                for kind in (audit.USER_REGISTERED, audit.REGISTRATION_REFUSED)
            ]
            if sum(count for count, _ in counts) >= self.settings.registrations_per_client_per_hour:
                raise Throttled(
                    "Too many sign-ups from here in the last hour. Try again later, or ask an "
                    "administrator for an account."
                )
            if policy == "invite" and not self.invite_ok(invite_code):
                audit.record(
                    session, kind=audit.REGISTRATION_REFUSED, username="", at=now, client=client
                )
                refused = True
            else:
                refused = False
        if refused:
            raise InvalidInput("This invite code is not valid. Ask an administrator for one.")
        return self.accounts.create(
            username=username,
            email=email,
            password=password,
            display_name=display_name,
            client=client,
        )
