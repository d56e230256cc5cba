"""The chat page through AppTest: send, stream, URL, isolation, refusals, memory selector."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from chat.services import Services
from tests.pages.conftest import answered, open_settings
from tests.support.factories import chat_turn, make_user
from tests.support.statements import PAGE_THREAD, recorded_statements


def query_value(app: AppTest, key: str) -> str:
    value = app.query_params[key]
    return value[0] if isinstance(value, list) else str(value)


def shown(markdown: str) -> str:
    """The text Markdown shows for escapes, hard breaks and non-breaking spaces (how a
    person's message is drawn, chat.markup.literal_markdown)."""
    return re.sub(r"\\(.)", r"\1", markdown.replace("  \n", "\n")).replace("\u00a0", " ")


def chat_messages(app: AppTest) -> list[tuple[str, str]]:
    """(role, text shown) of each message drawn one by one."""
    return [
        (message.name, " ".join(shown(md.value) for md in message.markdown))
        for message in app.chat_message
    ]


def test_sending_a_message_stores_it_and_opens_the_conversation(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app = signed_in()
    answered(app.chat_input[0].set_value("My name is Grace. Hello!").run(), app_services)
    assert not app.exception
    conversation_id = query_value(app, "c")
    messages = chat_messages(app)
    assert messages[0] == ("user", "My name is Grace. Hello!")
    assert messages[1][0] == "assistant" and "My name is Grace" in messages[1][1]
    assert [b.label for b in app.button if b.key and b.key.startswith("conv-")]
    assert uuid.UUID(conversation_id)


def test_a_new_chat_is_set_up_before_its_first_message(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    """Persona and temperature chosen on the empty chat are the new conversation's from
    its first answer; the next new chat starts from the user's defaults again."""
    app = signed_in()
    assert app.slider(key="temperature-new").disabled  # the model's default, ticked
    app.checkbox(key="default-temperature-new").uncheck()
    app = app.run()
    app.slider(key="temperature-new").set_value(0.3)
    app.text_area(key="prompt-new").input("You are a terse pirate.")
    app = answered(app.chat_input[0].set_value("Ahoy there.").run(), app_services)
    assert not app.exception
    owner = app_services.accounts.get(username=app.session_state["username"])
    assert owner is not None
    view = app_services.conversations.open(
        user_id=owner.id, conversation_id=uuid.UUID(query_value(app, "c"))
    )
    assert (view.system_prompt, view.temperature) == ("You are a terse pirate.", 0.3)
    assert view.title == "Ahoy there"  # named from the question, as any new chat
    assert view.messages[-1].status == "complete"
    app.button(key="new-chat").click()
    app = app.run()
    assert app.text_area(key="prompt-new").value == app_services.settings.default_system_prompt


def test_deep_link_to_own_conversation(
    signed_in: Callable[..., AppTest], new_app: Callable[..., AppTest], app_services: Services
) -> None:
    owner = make_user(app_services)
    conversation_id, _ = chat_turn(app_services, owner, "Remember the milk")
    app = signed_in(query={"c": str(conversation_id)}, username=owner.username)
    assert chat_messages(app)[0] == ("user", "Remember the milk")


def test_another_users_conversation_is_not_found(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    owner = make_user(app_services)
    conversation_id, _ = chat_turn(app_services, owner, "private diary entry")
    app = signed_in(query={"c": str(conversation_id)})
    assert [e.value for e in app.error] == ["Conversation not found."]
    assert chat_messages(app) == []
    assert "private diary" not in str(app)


def test_malformed_conversation_id_is_not_found(signed_in: Callable[..., AppTest]) -> None:
    app = signed_in(query={"c": "../../etc/passwd"})
    assert [e.value for e in app.error] == ["Conversation not found."]


def test_markdown_is_rendered_without_raw_html(signed_in: Callable[..., AppTest]) -> None:
    app = signed_in()
    app.chat_input[0].set_value("<img src=x onerror=alert(1)> **bold**").run()
    for message in app.chat_message:
        for block in message.markdown:
            assert block.proto.allow_html is False


def test_memory_selector_switches_strategy_without_losing_messages(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app = signed_in()
    answered(app.chat_input[0].set_value("first question").run(), app_services)
    conversation_id = uuid.UUID(query_value(app, "c"))
    assert not app.get("selectbox")  # the settings are drawn only while open
    open_settings(app, conversation_id)
    app.selectbox(key=f"strategy-{conversation_id}").select("full").run()
    assert not app.exception
    owner = app_services.accounts.get(username=app.session_state["username"])
    assert owner is not None
    view = app_services.conversations.open(user_id=owner.id, conversation_id=conversation_id)
    assert view.memory_strategy == "full"
    assert len(view.messages) == 2


def test_offline_model_is_labelled(signed_in: Callable[..., AppTest]) -> None:
    app = signed_in()
    assert any("offline model" in info.value for info in app.info)


def test_a_message_sent_with_a_memory_change_in_the_same_run_is_kept(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    """A parameter edited, then Enter in the chat box: the browser sends both in one run.
    Both must land: the new window size, and the message under it."""
    app = signed_in()
    answered(app.chat_input[0].set_value("first question").run(), app_services)
    conversation_id = uuid.UUID(query_value(app, "c"))
    open_settings(app, conversation_id)
    app.number_input(key=f"window-k-{conversation_id}").set_value(3)
    answered(app.chat_input[0].set_value("second question").run(), app_services)
    assert not app.exception
    owner = app_services.accounts.get(username=app.session_state["username"])
    assert owner is not None
    view = app_services.conversations.open(user_id=owner.id, conversation_id=conversation_id)
    assert view.memory_params["k"] == 3
    assert [m.content for m in view.messages if m.role == "human"] == [
        "first question",
        "second question",
    ]


def test_a_message_sent_without_answer_details_reads_no_context_logs(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    """Context logs are for the inspector, shown with answer details only: a run that sends
    a message, follows its answer and draws it as stored reads none (each is a statement)."""
    app = signed_in()
    answered(app.chat_input[0].set_value("Hello, I am planning a garden.").run(), app_services)
    with recorded_statements(app_services.engine) as statements:
        answered(app.chat_input[0].set_value("Which herbs grow in shade?").run(), app_services)
    assert not app.exception
    assert chat_messages(app)[-2] == ("user", "Which herbs grow in shade?")
    assert any("INSERT INTO context_logs" in s for s in statements)  # stored by the answer
    assert not [s for s in statements if "FROM context_logs" in s]


def test_a_message_typed_is_sent_before_the_conversation_is_read(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    """The page reads the conversation's row twice when a message is typed: locked, to add
    the question, then to draw the conversation with it (each read is a statement)."""
    app = signed_in()
    answered(app.chat_input[0].set_value("Hello, I am planning a garden.").run(), app_services)
    with recorded_statements(app_services.engine, thread=PAGE_THREAD) as statements:
        app.chat_input[0].set_value("Which herbs grow in shade?").run()
    assert not app.exception
    assert chat_messages(app)[-2] == ("user", "Which herbs grow in shade?")
    row = "SELECT conversations.id, conversations.user_id"
    reads = [s for s in statements if s.startswith(row)]
    assert len(reads) == 2 and reads[0].endswith("FOR UPDATE")


def test_a_message_typed_on_a_conversation_not_found_is_kept(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    alice = make_user(app_services)
    conversation_id, _ = chat_turn(app_services, alice, "my secret plans")
    app = signed_in({"c": str(conversation_id)})
    app.chat_input[0].set_value("Tell me the plans.").run()
    assert not app.exception
    assert "Conversation not found." in [error.value for error in app.error]
    stored = app_services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
    assert [m.content for m in stored.messages if m.role == "human"] == ["my secret plans"]
    app.query_params.clear()  # the user goes to a new chat: the text is offered back
    app.run()
    assert [code.value for code in app.code] == ["Tell me the plans."]
