"""The login page, drawn by streamlit-authenticator over Postgres users."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from chat.services import Services
from tests.pages.conftest import fields_by_label, log_in
from tests.support.factories import make_user


def test_signed_out_visitor_sees_only_the_login_page(new_app: Callable[..., AppTest]) -> None:
    app = new_app()
    assert not app.exception
    labels = [field.label for field in app.text_input]
    assert "Username" in labels and "Password" in labels
    assert not any(button.label == "New chat" for button in app.button)


def test_wrong_password_is_refused_plainly(
    new_app: Callable[..., AppTest], app_services: Services
) -> None:
    account = make_user(app_services)
    app = log_in(new_app(), account.username, "not the password")
    assert [e.value for e in app.error] == ["Wrong username or password."]
    assert not any(button.label == "New chat" for button in app.button)


def test_unknown_user_gets_the_same_answer(new_app: Callable[..., AppTest]) -> None:
    app = log_in(new_app(), "nobody-by-this-name", "whatever password")
    assert [e.value for e in app.error] == ["Wrong username or password."]


def test_login_opens_the_chat(signed_in: Callable[..., AppTest]) -> None:
    app = signed_in()
    assert not app.exception
    assert any(button.label == "New chat" for button in app.button)
    assert app.title[0].value == "New chat"


def test_registration_signs_the_new_user_in(
    new_app: Callable[..., AppTest], app_services: Services
) -> None:
    app = new_app()
    by_label = fields_by_label(app)
    username = f"newcomer-{uuid.uuid4().hex[:6]}"
    by_label["Username"][1].input(username)
    by_label["Display name"][0].input("New Comer")
    by_label["E-mail"][0].input("newcomer@example.com")
    by_label["Password"][1].input("a long enough secret")
    by_label["Repeat password"][0].input("a long enough secret")
    next(b for b in app.button if b.label == "Register").click()
    app.run()
    assert not app.exception
    assert any(button.label == "New chat" for button in app.button)  # in the chat, signed in
    account = app_services.accounts.get(username=username)
    assert account is not None and account.last_login_at is not None
    assert len(app_services.browser_sessions.list(user_id=account.id)) == 1
    events = app_services.admin.events(actor=make_user(app_services, role="admin"), limit=20)
    kinds = [e.kind for e in events if e.username == username]
    assert kinds == ["login_success", "user_registered"]  # newest first: audited as ever
    # and the password works in the login form, as any account's does
    app = log_in(new_app(), username, "a long enough secret")
    assert any(button.label == "New chat" for button in app.button)


def test_registration_refuses_a_short_password(new_app: Callable[..., AppTest]) -> None:
    app = new_app()
    by_label = fields_by_label(app)
    by_label["Username"][1].input("shorty")
    by_label["E-mail"][0].input("shorty@example.com")
    by_label["Password"][1].input("short")
    by_label["Repeat password"][0].input("short")
    next(b for b in app.button if b.label == "Register").click()
    app.run()
    assert [e.value for e in app.error] == ["Choose a password of at least 8 characters."]
