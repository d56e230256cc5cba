"""AppTest: the Memory page lists the user's facts with their source, and changes them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from chat.auth.accounts import Account
from chat.services import Services
from pages.support import runtime
from tests.support.factories import make_user

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "memory.py")


def memory_page(account: Account) -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.session_state[runtime.ACCOUNT_KEY] = account
    return app.run()


def learnt(services: Services, account: Account, text: str) -> None:
    turn = services.turns.send(user_id=account.id, conversation_id=None, text=text)
    "".join(turn.stream())
    assert turn.wait(30)  # facts are learnt after the answer


def test_facts_with_their_source_edit_add_delete(app_services: Services) -> None:
    alice, bob = make_user(app_services), make_user(app_services)
    learnt(app_services, alice, "My sister is called Ingrid. Tips about chess?")
    learnt(app_services, bob, "My locker code is 4417.")
    [fact] = app_services.memory.overview(user_id=alice.id).facts

    app = memory_page(alice)
    assert not app.exception
    assert app.text_input(key=f"fact-{fact.id}").value == "My sister is called Ingrid."
    assert any(c.value.startswith("From Chess ·") for c in app.caption)
    assert "4417" not in str([t.value for t in app.text_input])
    assert not [t for t in app.toggle if t.key == "memory-instance"]  # not an admin

    app.text_input(key=f"fact-{fact.id}").set_value("My sister is called Inga.").run()
    app.button(key=f"save-{fact.id}").click().run()
    assert [f.content for f in app_services.memory.overview(user_id=alice.id).facts] == [
        "My sister is called Inga."
    ]
    app.text_input[0].set_value("I drive a Volvo.")
    app.button[0].click().run()  # the form's submit button
    assert not app.exception
    assert len(app_services.memory.overview(user_id=alice.id).facts) == 2
    app.button(key=f"delete-{fact.id}").click().run()
    assert [f.content for f in app_services.memory.overview(user_id=alice.id).facts] == [
        "I drive a Volvo."
    ]


def test_switches_for_me_one_conversation_and_the_instance(app_services: Services) -> None:
    admin = make_user(app_services, role="admin")
    learnt(app_services, admin, "My bike is a green Brompton.")
    [conversation] = app_services.conversations.list(user_id=admin.id)

    app = memory_page(admin)
    app.toggle(key="memory-enabled").set_value(False).run()
    assert not app_services.memory.overview(user_id=admin.id).enabled
    app.multiselect(key="memory-off-in").set_value([conversation.id]).run()
    assert app_services.memory.overview(user_id=admin.id).off_in == [conversation.id]
    try:
        app.toggle(key="memory-instance").set_value(False).run()
        assert not app.exception
        assert not app_services.memory.overview(user_id=admin.id).instance_enabled
        assert any("turned memory off for everyone" in i.value for i in app.info)
    finally:  # the page tests share one database: leave the instance as it was
        app_services.memory.set_instance_enabled(actor=admin, enabled=True)


def test_the_inspector_shows_the_user_memory_block_with_its_tokens(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    owner = make_user(app_services)
    app_services.preferences.set_show_answer_details(user_id=owner.id, show=True)
    learnt(app_services, owner, "My cat is called Miso.")
    turn = app_services.turns.send(user_id=owner.id, conversation_id=None, text="Hello!")
    "".join(turn.stream())
    assert turn.wait(30)

    app = signed_in(query={"c": str(turn.conversation_id)}, username=owner.username)
    app.session_state[f"context-{turn.reply_id}"] = True  # the inspector, opened
    app.run()

    [inspector] = [e for e in app.expander if e.label.startswith("Context:")]
    labels = [m.value for m in inspector.markdown]
    assert any(
        label.startswith("**User memory** (system)") and "tokens" in label for label in labels
    )
    assert "1 fact you told the assistant (Memory page)" in [c.value for c in inspector.caption]
    assert any("My cat is called Miso." in t.value for t in inspector.text)


def test_a_facts_source_title_is_plain_text(app_services: Services) -> None:
    """A conversation title is the user's or a model's text: shown as the source of a fact,
    it loads nothing (an image in it stays characters)."""
    alice = make_user(app_services)
    learnt(app_services, alice, "My sister is called Ingrid.")
    [fact] = app_services.memory.overview(user_id=alice.id).facts
    assert fact.conversation_id is not None
    app_services.conversations.rename(
        user_id=alice.id,
        conversation_id=fact.conversation_id,
        title="![x](http://127.0.0.1:9/t.png)",
    )
    app = memory_page(alice)
    sources = [c.value for c in app.caption if c.value.startswith("From ")]
    assert sources and all("![x](" not in value for value in sources)
