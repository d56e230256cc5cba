"""Sidebar and chat-pane controls through AppTest: pin, rename, delete, search, paging,
regenerate, edit, show earlier, per-conversation settings."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from chat.auth.accounts import Account
from chat.services import Services
from chat.storage.repository import HIGHLIGHT_START, HIGHLIGHT_STOP
from pages.parts.search import snippet_markdown
from tests.pages.conftest import answered, open_settings
from tests.pages.test_chat import chat_messages, query_value
from tests.support.factories import chat_turn, make_user


def owner_of(app: AppTest, services: Services) -> Account:
    account = services.accounts.get(username=app.session_state["username"])
    assert account is not None
    return account


def start_with_conversation(
    signed_in: Callable[..., AppTest], services: Services, text: str = "Tell me about tea."
) -> tuple[AppTest, Account, uuid.UUID]:
    user = make_user(services)
    conversation_id, _ = chat_turn(services, user, text)
    app = signed_in(query={"c": str(conversation_id)}, username=user.username)
    assert not app.exception
    return app, user, conversation_id


def click(app: AppTest, key: str) -> AppTest:
    app.button(key=key).click()
    return app.run()


def test_pin_moves_a_conversation_to_the_pinned_group(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app, user, first = start_with_conversation(signed_in, app_services)
    chat_turn(app_services, user, "a newer one")
    app = click(app.run(), f"pin-{first}")
    assert not app.exception
    assert app_services.conversations.list(user_id=user.id)[0].id == first
    assert "Pinned" in [caption.value for caption in app.sidebar.caption]
    assert app.button(key=f"pin-{first}").label == "Unpin"


def test_rename_dialog_renames(signed_in: Callable[..., AppTest], app_services: Services) -> None:
    app, _, conversation_id = start_with_conversation(signed_in, app_services)
    app = click(app, f"rename-{conversation_id}")
    app.text_input(key="rename-title").input("Tea notes")
    app = click(app, "rename-save")
    assert not app.exception
    assert app.button(key=f"conv-{conversation_id}").label == "Tea notes"
    assert app.title[0].value == "Tea notes"


def test_rename_refuses_an_empty_title_with_a_sentence(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app, _, conversation_id = start_with_conversation(signed_in, app_services)
    app = click(app, f"rename-{conversation_id}")
    app.text_input(key="rename-title").input("   ")
    app = click(app, "rename-save")
    assert "cannot be empty" in app.error[0].value


def deleted_eventually(services: Services, user: Account, conversation_id: uuid.UUID) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if conversation_id not in [c.id for c in services.conversations.list(user_id=user.id)]:
            return True
        time.sleep(0.1)
    return False


def test_delete_happens_once_its_undo_has_passed(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app, user, conversation_id = start_with_conversation(signed_in, app_services)
    app = click(app, f"delete-{conversation_id}")
    assert "You can undo it" in " ".join(m.value for m in app.markdown)
    assert app_services.conversations.list(user_id=user.id)  # nothing deleted yet
    app = click(app, "delete-confirm")
    assert not app.exception
    assert "c" not in app.query_params
    assert app.title[0].value == "New chat"
    assert not [b for b in app.sidebar.button if b.key == f"conv-{conversation_id}"]
    assert app.button(key="undo-delete")  # offered for a moment
    assert deleted_eventually(app_services, user, conversation_id)
    app = app.run()
    assert not [b for b in app.button if b.key == "undo-delete"]  # the moment has passed


def test_undo_keeps_a_deleted_conversation(
    signed_in: Callable[..., AppTest], app_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_services.settings, "undo_delete_seconds", 30.0)
    app, user, conversation_id = start_with_conversation(signed_in, app_services)
    app = click(click(app, f"delete-{conversation_id}"), "delete-confirm")
    app = click(app, "undo-delete")
    assert not app.exception
    assert [b for b in app.sidebar.button if b.key == f"conv-{conversation_id}"]  # back
    assert conversation_id in [c.id for c in app_services.conversations.list(user_id=user.id)]


def test_search_finds_and_opens_the_message(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app, user, _ = start_with_conversation(signed_in, app_services, "Chess openings please")
    other, _ = chat_turn(app_services, user, "How do I brew oolong tea?")
    app.text_input(key="search").input("oolong").run()
    hits = [b for b in app.button if b.key and b.key.startswith("hit-")]
    assert hits and all(str(other) in hit.key for hit in hits)  # never the chess one
    assert any("**oolong**" in md.value for md in app.sidebar.markdown)
    message_hit = next(hit for hit in hits if not hit.key.endswith("None"))
    message_hit.click()
    app = app.run()
    assert query_value(app, "c") == str(other)
    assert app.query_params.get("m")
    assert any("Search result" in c.value for c in app.caption)


def test_load_more_pages_the_list(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    user = make_user(app_services)
    for index in range(32):
        app_services.turns.new_conversation(user_id=user.id, title=f"Chat {index}")
    app = signed_in(username=user.username)
    rows = lambda: [b for b in app.button if b.key and b.key.startswith("conv-")]  # noqa: E731
    assert len(rows()) == 30
    app = click(app, "load-more")
    assert len(rows()) == 32
    assert not [b for b in app.button if b.key == "load-more"]


def test_regenerate_replaces_the_last_answer(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app, user, conversation_id = start_with_conversation(signed_in, app_services)
    reply = app_services.conversations.open(
        user_id=user.id, conversation_id=conversation_id
    ).messages[-1]
    app = click(app, f"regenerate-{reply.id}")
    assert not app.exception
    view = app_services.conversations.open(user_id=user.id, conversation_id=conversation_id)
    assert len(view.messages) == 2 and view.messages[-1].id == reply.id
    assert len(chat_messages(app)) == 2


def test_edit_and_resend(signed_in: Callable[..., AppTest], app_services: Services) -> None:
    app, user, conversation_id = start_with_conversation(signed_in, app_services, "My name is Bob.")
    human = app_services.conversations.open(
        user_id=user.id, conversation_id=conversation_id
    ).messages[0]
    app = click(app, f"edit-{human.id}")
    app.text_area(key="edit-text").input("My name is Carol.")
    app = answered(click(app, "edit-send"), app_services)
    assert not app.exception
    messages = chat_messages(app)
    assert messages[0] == ("user", "My name is Carol.")
    assert "Carol" in messages[1][1] and len(messages) == 2


def test_show_earlier_reveals_older_messages_as_one_inert_block(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    """Earlier messages come as one element (a page of hundreds costs what one of dozens
    does), in order, with their text escaped: markup a person typed shows as typed."""
    user = make_user(app_services)
    first = 'message 0 <img src="https://evil.example/x.png"> ![y](https://evil.example/y)'
    conversation_id, _ = chat_turn(app_services, user, first)
    for index in range(1, 27):
        chat_turn(app_services, user, f"message {index}", conversation_id)
    app = signed_in(query={"c": str(conversation_id)}, username=user.username)
    assert len(app.chat_message) == 50
    assert "4 not shown" in app.button(key="show-earlier").label
    app = click(app, "show-earlier")
    assert not app.exception
    assert len(app.chat_message) == 50  # the most recent ones, drawn one by one
    [earlier] = [
        element.proto.body
        for element in app.get("html")
        if 'class="earlier-messages"' in element.proto.body
    ]
    assert earlier.count('class="earlier-message ') == 4
    assert earlier.index("message 0") < earlier.index("message 1")
    assert "&lt;img src=&quot;https://evil.example/x.png&quot;&gt;" in earlier
    assert "<img" not in earlier
    assert chat_messages(app)[0] == ("user", "message 2")


def test_conversation_settings_are_saved(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app, user, conversation_id = start_with_conversation(signed_in, app_services)
    open_settings(app, conversation_id)
    assert app.slider(key=f"temperature-{conversation_id}").disabled  # the model's default
    app.checkbox(key=f"default-temperature-{conversation_id}").uncheck()
    app = app.run()
    app.slider(key=f"temperature-{conversation_id}").set_value(0.4)
    app.text_area(key=f"prompt-{conversation_id}").input("You are a pirate.")
    app.button(key=f"save-settings-{conversation_id}").click()
    app = app.run()
    assert not app.exception
    view = app_services.conversations.open(user_id=user.id, conversation_id=conversation_id)
    assert (view.temperature, view.system_prompt) == (0.4, "You are a pirate.")


def test_search_snippets_put_no_space_before_punctuation() -> None:
    start, stop = HIGHLIGHT_START, HIGHLIGHT_STOP
    snippet = f"Ask about {start}tea{stop}, please: {start}oolong{stop}!"
    assert snippet_markdown(snippet) == "Ask about **tea**, please\\: **oolong**\\!"
    assert snippet_markdown(f"{HIGHLIGHT_START}tea{HIGHLIGHT_STOP} time") == "**tea** time"
