"""Admin actions, one-time reset codes, the registration policy and the first admin."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine

from chat.auth import audit
from chat.auth.accounts import Account
from chat.auth.admin import ensure_initial_admin
from chat.errors import Forbidden, InvalidInput, Throttled
from chat.services import Services, build_services
from chat.settings import Settings
from chat.storage.db import migrate
from tests.support.factories import PASSWORD, Clock, chat_turn, clocked, make_user
from tests.support.postgres import fresh_database


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def svc(services: Services, clock: Clock) -> Services:
    return clocked(services, clock, reset_code_minutes=30)


def test_only_admins_can_act(svc: Services) -> None:
    user, other = make_user(svc), make_user(svc)
    actions: list[Callable[[], object]] = [
        lambda: svc.admin.users(actor=user),
        lambda: svc.admin.set_disabled(actor=user, user_id=other.id, disabled=True),
        lambda: svc.admin.set_role(actor=user, user_id=user.id, role="admin"),
        lambda: svc.admin.issue_reset(actor=user, user_id=other.id),
        lambda: svc.admin.create_user(
            actor=user, username="sneaky", email="s@example.com", password=PASSWORD
        ),
        lambda: svc.admin.set_registration(actor=user, policy="open"),
        lambda: svc.admin.new_invite_code(actor=user),
        lambda: svc.admin.events(actor=user),
    ]
    for action in actions:
        with pytest.raises(Forbidden):
            action()
    assert svc.accounts.get(username="sneaky") is None
    assert svc.accounts.get(username=other.username).disabled is False  # type: ignore[union-attr]


def test_a_demoted_admin_loses_power_at_once(svc: Services) -> None:
    first, second = make_user(svc, role="admin"), make_user(svc, role="admin")
    svc.admin.set_role(actor=first, user_id=second.id, role="user")
    with pytest.raises(Forbidden):
        svc.admin.users(actor=second)  # `second` still says role="admin" in memory


def test_users_table_has_usage_and_actions_are_audited(svc: Services) -> None:
    admin = make_user(svc, role="admin")
    user = make_user(svc)
    chat_turn(svc, user, "hello there")
    rows = {row.account.username: row for row in svc.admin.users(actor=admin)}
    row = rows[user.username]
    assert (row.conversations, row.messages) == (1, 2) and row.tokens > 0
    created = svc.admin.create_user(
        actor=admin, username="made-by-admin", email="m@example.com", password=PASSWORD
    )
    svc.admin.set_role(actor=admin, user_id=created.id, role="admin")
    svc.admin.set_disabled(actor=admin, user_id=created.id, disabled=True)
    kinds = [e.kind for e in svc.admin.events(actor=admin, limit=10)]
    assert kinds[:3] == [audit.USER_DISABLED, audit.ROLE_CHANGED, audit.USER_CREATED]
    with pytest.raises(InvalidInput, match="your own"):
        svc.admin.set_disabled(actor=admin, user_id=admin.id, disabled=True)


def _reset(svc: Services, admin: Account, user: Account) -> str:
    return svc.admin.issue_reset(actor=admin, user_id=user.id).code


def test_reset_code_works_once_and_signs_out_old_sessions(svc: Services, clock: Clock) -> None:
    admin, user = make_user(svc, role="admin"), make_user(svc)
    issued = clock.now.timestamp()
    code = _reset(svc, admin, user)
    clock.advance(seconds=1)
    with pytest.raises(InvalidInput, match="common passwords"):
        svc.accounts.redeem_reset(code=code, password="password123")
    # A refused password leaves the code usable; spacing and case do not matter.
    svc.accounts.redeem_reset(code=code.lower().replace("-", " "), password="new and long")
    assert svc.accounts.authenticate(username=user.username, password="new and long")
    assert svc.accounts.session_account(username=user.username, issued_at=issued) is None
    with pytest.raises(InvalidInput, match="not valid"):
        svc.accounts.redeem_reset(code=code, password="another new one")
    assert svc.accounts.authenticate(username=user.username, password="another new one") is None


def test_reset_codes_expire_and_are_replaced(svc: Services, clock: Clock) -> None:
    admin, user = make_user(svc, role="admin"), make_user(svc)
    old = _reset(svc, admin, user)
    new = _reset(svc, admin, user)
    with pytest.raises(InvalidInput):
        svc.accounts.redeem_reset(code=old, password="new and long")
    clock.advance(minutes=31)
    with pytest.raises(InvalidInput):
        svc.accounts.redeem_reset(code=new, password="new and long")
    assert svc.accounts.authenticate(username=user.username, password=PASSWORD)


@pytest.mark.parametrize(
    ("minutes", "said"),
    [
        (30, "30 minutes"),
        (60, "1 hour"),
        (90, "90 minutes"),
        (180, "3 hours"),
        (170, "about 3 hours"),
        (24 * 60, "24 hours"),
        (2 * 24 * 60, "2 days"),
        (7 * 24 * 60 + 5, "about 7 days"),
    ],
)
def test_a_reset_code_says_how_long_it_is_valid_in_its_own_unit(
    services: Services, clock: Clock, minutes: int, said: str
) -> None:
    svc = clocked(services, clock, reset_code_minutes=minutes)
    admin, user = make_user(svc, role="admin"), make_user(svc)
    assert svc.admin.issue_reset(actor=admin, user_id=user.id).valid_for == said


def test_guessing_reset_codes_is_throttled(svc: Services) -> None:
    strict = clocked(svc, Clock(), login_failures_per_client=3)
    for _ in range(3):
        with pytest.raises(InvalidInput):
            strict.accounts.redeem_reset(code="AAAA-BBBB", password="new and long", client="x")
    with pytest.raises(Throttled):
        strict.accounts.redeem_reset(code="AAAA-BBBB", password="new and long", client="x")


def test_registration_policy(svc: Services) -> None:
    admin = make_user(svc, role="admin")
    assert svc.registration.policy() == "open"
    svc.registration.register(username="free1", email="f@example.com", password=PASSWORD)
    svc.admin.set_registration(actor=admin, policy="closed")
    with pytest.raises(InvalidInput, match="closed"):
        svc.registration.register(username="free2", email="f@example.com", password=PASSWORD)
    svc.admin.set_registration(actor=admin, policy="invite")
    code = svc.admin.new_invite_code(actor=admin)
    with pytest.raises(InvalidInput, match="invite code"):
        svc.registration.register(
            username="free3", email="f@example.com", password=PASSWORD, invite_code="WRONG"
        )
    svc.registration.register(
        username="free4", email="f@example.com", password=PASSWORD, invite_code=code
    )
    assert svc.accounts.get(username="free4") and not svc.accounts.get(username="free3")


def test_invite_code_from_settings(svc: Services) -> None:
    configured = clocked(
        svc, Clock(), registration="invite", invite_code=SecretStr("a-long-configured-code")
    )
    with pytest.raises(InvalidInput, match="invite code is not valid"):
        configured.registration.register(
            username="guessed", email="g@example.com", password=PASSWORD,
            invite_code="a-long-configured-cod",
        )  # fmt: skip
    invited = configured.registration.register(
        username="invited", email="i@example.com", password=PASSWORD,
        invite_code="a-long-configured-code",
    )  # fmt: skip
    assert configured.accounts.get(username="invited") == invited
    assert configured.accounts.get(username="guessed") is None


def test_first_admin_from_settings_on_an_empty_database(
    pg_server_url: str, settings: Settings
) -> None:
    configured = settings.model_copy(
        update={
            "initial_admin_username": "boss",
            "initial_admin_password": SecretStr("first admin secret"),
        }
    )
    with fresh_database(pg_server_url, prefix="chat_first_admin") as url:
        engine = create_engine(url)
        try:
            migrate(engine)
            services = build_services(configured, engine=engine)
            boss = services.accounts.get(username="boss")
            assert boss is not None and boss.role == "admin"
            assert ensure_initial_admin(services.accounts, configured) is None  # only once
            assert services.accounts.authenticate(username="boss", password="first admin secret")
        finally:
            engine.dispose()


def test_production_refuses_weak_secrets() -> None:
    key = "Yq3vN8rT0bLw5ZkP2sXe7HcJ9uMa4DfG6iRo1Qn"
    base = {"app_env": "production", "cookie_key": key, "database_url": "postgresql://x"}
    with pytest.raises(ValueError, match="INVITE_CODE"):
        Settings(_env_file=None, **base, invite_code="short")  # type: ignore[call-arg, arg-type]
    with pytest.raises(ValueError, match="COOKIE_KEY"):
        Settings(_env_file=None, app_env="production", database_url="postgresql://x")  # type: ignore[call-arg]
    assert Settings(_env_file=None, **base)  # type: ignore[call-arg, arg-type]
    weak = [
        "c" * 40,  # a repeated character
        "correcthorsebatterystaplecorrecthorsebattery",  # dictionary words
        "my-company-chat-cookie-key-for-production-2026",
        "abcdefghijklmnopqrstuvwxyz0123456789",  # a sequence
    ]
    for cookie_key in weak:
        with pytest.raises(ValueError, match="COOKIE_KEY"):
            Settings(_env_file=None, **{**base, "cookie_key": cookie_key})  # type: ignore[call-arg, arg-type]
    with pytest.raises(ValueError, match="INVITE_CODE"):
        Settings(_env_file=None, **base, invite_code="invite-invite-invite")  # type: ignore[call-arg, arg-type]


def test_production_registration_defaults_to_closed() -> None:
    key = "Yq3vN8rT0bLw5ZkP2sXe7HcJ9uMa4DfG6iRo1Qn"
    hosted = Settings(  # type: ignore[call-arg]
        _env_file=None, app_env="production", cookie_key=key, database_url="postgresql://x"
    )
    assert hosted.registration == "closed"
    assert Settings(_env_file=None).registration == "open"  # type: ignore[call-arg]


def test_registration_is_rate_limited_per_client(svc: Services) -> None:
    limited = clocked(svc, Clock(), registrations_per_client_per_hour=2)
    for name in ("rl-one", "rl-two"):
        limited.registration.register(
            username=name, email="r@example.com", password=PASSWORD, client="10.9.8.7"
        )
    with pytest.raises(Throttled, match="Too many sign-ups"):
        limited.registration.register(
            username="rl-three", email="r@example.com", password=PASSWORD, client="10.9.8.7"
        )
    limited.registration.register(  # another client is not affected
        username="rl-four", email="r@example.com", password=PASSWORD, client="10.9.8.8"
    )
