"""The account page through AppTest: profile, password, export, delete all."""

from __future__ import annotations

import json
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from chat.auth.preferences import Preferences
from chat.services import Services
from tests.support.factories import PASSWORD, chat_turn, make_user


def account_page(signed_in: Callable[..., AppTest], services: Services) -> tuple[AppTest, object]:
    user = make_user(services)
    app = signed_in(username=user.username)
    app.switch_page("pages/account.py").run()
    assert not app.exception
    assert app.title[0].value == "Account"
    return app, user


def submit(app: AppTest, label: str) -> AppTest:
    next(b for b in app.button if b.label == label).click()
    return app.run()


def test_profile_is_saved_and_used_by_the_next_answer(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app, user = account_page(signed_in, app_services)
    app.text_input(key="profile-name").input("Ada Lovelace")
    app.text_input(key="profile-language").input("Italiano")
    app.text_area(key="profile-about").input("Mathematician.")
    app = submit(app, "Save profile")
    assert app.success and "Profile saved" in app.success[0].value
    profile = app_services.profiles.get(user_id=user.id)  # type: ignore[attr-defined]
    assert (profile.display_name, profile.language) == ("Ada Lovelace", "Italiano")


def test_password_change_requires_matching_fields_and_signs_out(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app, user = account_page(signed_in, app_services)
    app.text_input(key="new-password").input("a brand new secret")
    app.text_input(key="repeat-password").input("something else")
    app = submit(app, "Change password")
    assert "differ" in app.error[0].value
    # The current password is asked for: a wrong one changes nothing.
    app.text_input(key="current-password").input("not my password")
    app.text_input(key="new-password").input("a brand new secret")
    app.text_input(key="repeat-password").input("a brand new secret")
    app = submit(app, "Change password")
    assert "current password is not right" in app.error[0].value
    app.text_input(key="current-password").input(PASSWORD)
    app.text_input(key="new-password").input("a brand new secret")
    app.text_input(key="repeat-password").input("a brand new secret")
    app = submit(app, "Change password")
    assert "signed out" in app.success[0].value
    assert app_services.accounts.authenticate(
        username=user.username,  # type: ignore[attr-defined]
        password="a brand new secret",
    )


def test_export_offers_json_and_markdown(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app, user = account_page(signed_in, app_services)
    chat_turn(app_services, user, "Export me")  # type: ignore[arg-type]
    app = submit(app, "Prepare export")
    downloads = app.get("download_button")
    assert len(downloads) == 2  # one JSON, one Markdown for the single conversation
    exported = app.session_state["_export"]
    assert json.loads(exported.json_text)["conversations"][0]["messages"][0]["content"] == (
        "Export me"
    )


def test_delete_everything_needs_typed_confirmation(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app, user = account_page(signed_in, app_services)
    chat_turn(app_services, user, "one")  # type: ignore[arg-type]
    chat_turn(app_services, user, "two")  # type: ignore[arg-type]
    app = submit(app, "Delete all my conversations…")
    confirm = next(b for b in app.button if b.label == "Delete everything")
    assert confirm.disabled
    app.text_input(key="delete-all-confirm").input("DELETE").run()
    app = submit(app, "Delete everything")
    assert not app.exception
    assert app_services.conversations.list(user_id=user.id) == []  # type: ignore[attr-defined]
    assert "Deleted 2 conversations." in app.success[0].value


def theme_drawn(app: AppTest) -> set[str]:
    """The themes the run asks the browser for (pages/support/theme.py): the page's own,
    and the entry point's once it applies the theme on every page."""
    scripts = [block.body for block in app.html if "stActiveTheme" in block.body]
    assert scripts
    names = ("System", "Light", "Dark")
    return {name for script in scripts for name in names if f'wanted = "{name}"' in script}


def test_preferences_are_saved_and_the_theme_applied(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app, user = account_page(signed_in, app_services)
    assert theme_drawn(app) == {"System"}
    assert app.radio(key="pref-theme").value == "system"
    assert app.toggle(key="pref-details").value is False
    app.radio(key="pref-theme").set_value("dark")
    app.toggle(key="pref-details").set_value(True)
    app.selectbox(key="pref-model").set_value("offline")
    app.text_area(key="pref-persona").input("You are a patient maths tutor.")
    app = submit(app, "Save preferences")
    assert not app.exception
    assert "Preferences saved" in app.success[0].value
    assert theme_drawn(app) == {"Dark"}
    saved = app_services.preferences.get(user_id=user.id)  # type: ignore[attr-defined]
    assert saved == Preferences("dark", True, "offline", "You are a patient maths tutor.")
    cid = app_services.turns.new_conversation(user_id=user.id)  # type: ignore[attr-defined]
    view = app_services.conversations.open(user_id=user.id, conversation_id=cid)  # type: ignore[attr-defined]
    assert view.system_prompt == "You are a patient maths tutor."


def test_a_refused_persona_is_explained_and_nothing_changes(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app, user = account_page(signed_in, app_services)
    app.radio(key="pref-theme").set_value("light")
    app.text_area(key="pref-persona").input("nul\x00inside")
    app = submit(app, "Save preferences")
    assert "NUL" in app.error[0].value
    assert app.text_area(key="pref-persona").value == "nul\x00inside"  # kept to fix
    assert app_services.preferences.get(user_id=user.id) == Preferences()  # type: ignore[attr-defined]
    assert theme_drawn(app) == {"System"}
