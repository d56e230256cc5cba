"""The Account page's API keys through AppTest: created with a name, shown once, listed,
revoked; and the pages' services are the ones the API uses in the same process."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from chat.auth.api_keys import Unauthorized
from chat.services import Services, process_services
from pages.support import runtime
from tests.support.factories import make_user


def test_create_show_once_list_and_revoke(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    user = make_user(app_services)
    app = signed_in(username=user.username)
    app.switch_page("pages/account.py").run()
    assert not app.exception
    assert "You have no API keys." in [caption.value for caption in app.caption]

    app.text_input(key="api-key-name").input("my **script**")
    next(b for b in app.button if b.label == "Create key").click()
    app = app.run()
    (shown,) = [block.value for block in app.code]
    assert "not shown again" in app.success[0].value
    account = app_services.api_keys.authenticate(key=shown, request="test")
    assert account.id == user.id
    (listed,) = app_services.api_keys.list(user_id=user.id)
    assert listed.name == "my **script**"
    assert any("my \\*\\*script\\*\\*" in block.value for block in app.markdown)

    app = app.run()  # any later run: the key is not shown again
    assert not app.code

    app.button(key=f"api-key-revoke-{listed.id}").click()
    app = app.run()
    assert not app.exception
    assert not app_services.api_keys.list(user_id=user.id)[0].active
    with pytest.raises(Unauthorized):
        app_services.api_keys.authenticate(key=shown, request="test")


def test_an_empty_name_is_refused_with_a_sentence(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    user = make_user(app_services)
    app = signed_in(username=user.username)
    app.switch_page("pages/account.py").run()
    next(b for b in app.button if b.label == "Create key").click()
    app = app.run()
    assert app.error[0].value == "Give the key a name."
    assert app_services.api_keys.list(user_id=user.id) == []


def test_pages_and_api_share_the_process_services(app_services: Services) -> None:
    assert runtime.services() is process_services() is app_services
