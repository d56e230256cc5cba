"""Memory of the user across conversations: learnt after the answer, its own block in the
context, editable, switchable, exported and deleted with the user's data, and never
another user's, through every path that reads a context."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from chat.auth.accounts import Account
from chat.conversations.inspector import why
from chat.errors import NotFound
from chat.llm.offline import OfflineChatModel
from chat.memory.strategies import ViewRequest, strategy_for
from chat.memory.user_memory import Learnt, learn_from_last_answer
from chat.memory.views import read_view
from chat.services import Services
from chat.storage import repository
from chat.storage.db import unit_of_work
from tests.support.factories import make_user
from tests.support.openai_server import FakeOpenAIServer
from tests.support.statements import recorded_statements


def answered(services: Services, user: Account, text: str, cid: uuid.UUID | None = None) -> Any:
    """One turn: the answer, then the memory update the engine runs after it."""
    turn = services.turns.send(user_id=user.id, conversation_id=cid, text=text)
    "".join(turn.stream())
    assert turn.wait(30)
    return turn


def blocks(turn: Any, kind: str) -> list[dict[str, Any]]:
    return [b for b in turn.outcome.context["blocks"] if b["kind"] == kind]


def test_a_fact_from_one_conversation_is_in_the_next_and_never_another_users(
    services: Services,
) -> None:
    alice, bob = make_user(services), make_user(services)
    first = answered(services, alice, "My daughter's school is St. Anne's. Tips about chess?")

    later = answered(services, alice, "Where does my daughter go to school?")
    other = answered(services, bob, "Where does my daughter go to school?")

    assert later.conversation_id != first.conversation_id
    [block] = blocks(later, "user_memory")
    assert "My daughter's school is St. Anne's." in block["content"] and block["tokens"] > 0
    assert why(block) == "1 fact you told the assistant (Memory page)"
    facts = services.memory.overview(user_id=alice.id).facts
    assert block["facts"] == [str(facts[0].id)]
    assert facts[0].conversation_id == first.conversation_id
    assert "St. Anne's" in later.outcome.text  # the offline model answers from the block
    assert blocks(other, "user_memory") == []
    assert "St. Anne" not in json.dumps(other.outcome.context)


def test_facts_are_learnt_after_the_answer_not_before(services: Services) -> None:
    alice = make_user(services)
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="My cat is Miso.")
    first_chunk = next(iter(turn.stream()))
    assert first_chunk and services.memory.overview(user_id=alice.id).facts == []
    "".join(turn.stream())
    assert turn.wait(30)  # the engine's update after the answer
    services.turns.update_memory(user_id=alice.id, conversation_id=turn.conversation_id)
    assert [f.content for f in services.memory.overview(user_id=alice.id).facts] == [
        "My cat is Miso."
    ]  # once per question


def test_a_newer_fact_replaces_the_one_it_restates(services: Services) -> None:
    alice = make_user(services)
    answered(services, alice, "My manager is Priya.")
    answered(services, alice, "Priya left; my new manager is Daniel.")
    assert [f.content for f in services.memory.overview(user_id=alice.id).facts] == [
        "my new manager is Daniel."
    ]


def test_edit_add_delete_and_a_deleted_fact_is_gone_from_later_contexts(
    services: Services,
) -> None:
    alice, bob = make_user(services), make_user(services)
    answered(services, alice, "My locker code is 4417.")
    [fact] = services.memory.overview(user_id=alice.id).facts
    services.memory.edit(user_id=alice.id, fact_id=fact.id, content="My locker code is 5521.")
    added = services.memory.add(user_id=alice.id, content="  I take the 8:12 train.  ")
    with pytest.raises(NotFound):
        services.memory.delete(user_id=bob.id, fact_id=fact.id)
    with pytest.raises(NotFound):
        services.memory.edit(user_id=bob.id, fact_id=fact.id, content="hijacked")

    context = blocks(answered(services, alice, "Hello!"), "user_memory")[0]["content"]
    assert "5521" in context and "4417" not in context and "I take the 8:12 train." in context
    overview = services.memory.overview(user_id=alice.id)
    assert {f.origin for f in overview.facts} == {"edited", "added"}
    assert [f.conversation_title for f in overview.facts if f.id == added] == [None]

    services.memory.delete(user_id=alice.id, fact_id=fact.id)
    context = blocks(answered(services, alice, "Hello again!"), "user_memory")[0]["content"]
    assert "5521" not in context


def test_switches_user_conversation_and_instance(services: Services) -> None:
    alice = make_user(services)
    admin = make_user(services, role="admin")
    first = answered(services, alice, "My bike is a green Brompton.")
    cid = first.conversation_id

    services.memory.set_for_conversation(user_id=alice.id, conversation_id=cid, enabled=False)
    assert blocks(answered(services, alice, "Hello!", cid), "user_memory") == []
    assert blocks(answered(services, alice, "Hello!"), "user_memory")  # other conversations
    assert services.memory.overview(user_id=alice.id).off_in == [cid]
    answered(services, alice, "My boat is a red dinghy.", cid)  # not learnt there
    assert len(services.memory.overview(user_id=alice.id).facts) == 1

    services.memory.set_enabled(user_id=alice.id, enabled=False)
    assert blocks(answered(services, alice, "Hello!"), "user_memory") == []
    services.memory.set_enabled(user_id=alice.id, enabled=True)

    with pytest.raises(NotFound):
        services.memory.set_instance_enabled(actor=alice, enabled=False)
    services.memory.set_instance_enabled(actor=admin, enabled=False)
    assert not services.memory.overview(user_id=alice.id).instance_enabled
    assert blocks(answered(services, alice, "Hello!"), "user_memory") == []
    services.memory.set_instance_enabled(actor=admin, enabled=True)
    assert blocks(answered(services, alice, "Hello!"), "user_memory")


def test_export_and_delete_my_data_include_the_facts(services: Services) -> None:
    alice, bob = make_user(services), make_user(services)
    answered(services, alice, "My blood type is O negative.")
    answered(services, bob, "My blood type is AB positive.")

    exported = json.loads(services.profiles.export(user_id=alice.id).json_text)
    assert [f["content"] for f in exported["memory"]] == ["My blood type is O negative."]

    services.profiles.delete_all_conversations(user_id=alice.id)
    assert services.memory.overview(user_id=alice.id).facts == []
    assert len(services.memory.overview(user_id=bob.id).facts) == 1


def test_no_path_reads_another_users_facts(services: Services) -> None:
    """The turn's own read, the history factory, a view read directly and the repository:
    with bob's conversation id and alice's user id, or the other way round, nothing."""
    alice, bob = make_user(services), make_user(services)
    answered(services, bob, "My passport number is X1234567.")
    bobs = answered(services, bob, "Hello!").conversation_id
    alices = answered(services, alice, "Hello!").conversation_id

    chain = services.turns.chain_for("offline")
    with pytest.raises(NotFound):
        chain.get_session_history(str(alice.id), str(bobs))
    history = chain.get_session_history(str(alice.id), str(alices))
    assert "X1234567" not in " ".join(m.text for m in history.messages)
    with unit_of_work(services.sessions) as session:
        assert _facts(session, alice.id, bobs) == []
        assert _facts(session, alice.id, alices) == []
        assert len(_facts(session, bob.id, bobs)) == 1
        view = read_view(
            session, strategy_for("full"), ViewRequest(user_id=alice.id, conversation_id=bobs)
        )
        assert "X1234567" not in " ".join(m.text for m in view.messages)
    turn = answered(services, alice, "What is my passport number?", alices)
    assert "X1234567" not in json.dumps(turn.outcome.context) + turn.outcome.text


def _facts(session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID) -> list[Any]:
    return repository.facts_for_context(
        session=session, user_id=user_id, conversation_id=conversation_id, limit=50
    )


def test_an_endpoint_model_extracts_the_facts(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    services = endpoint_services
    alice = make_user(services)
    openai_server.enqueue_reply("Noted, Sofia.")
    openai_server.enqueue_reply("- My name is Sofia.\n- My dog is called Biscuit.")
    openai_server.enqueue_reply("Sofia and Biscuit")  # the new conversation's title
    turn = services.turns.send(
        user_id=alice.id, conversation_id=None, text="I'm Sofia and my dog is called Biscuit."
    )
    "".join(turn.stream())
    assert turn.wait(30)

    request = openai_server.chat_requests[-2]["messages"]
    assert "lasting facts about the user" in request[0]["content"]
    assert "I'm Sofia and my dog is called Biscuit." in request[-1]["content"]
    facts = [f.content for f in services.memory.overview(user_id=alice.id).facts]
    assert sorted(facts) == ["My dog is called Biscuit.", "My name is Sofia."]

    openai_server.enqueue_reply("Hello.")
    openai_server.enqueue_reply("Greetings")  # the new conversation's title
    hello = services.turns.send(user_id=alice.id, conversation_id=None, text="Hi")
    "".join(hello.stream())
    assert hello.wait(30)
    sent = openai_server.chat_requests[-2]["messages"]
    assert sent[1]["role"] == "system" and "My dog is called Biscuit." in sent[1]["content"]


def test_a_failing_extractor_loses_nothing(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    services = endpoint_services
    alice = make_user(services)
    openai_server.enqueue_reply("Noted.")
    openai_server.enqueue_error(status=500, message="extractor down")
    openai_server.enqueue_reply("A Volvo")  # the new conversation's title
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="My car is a Volvo.")
    "".join(turn.stream())
    assert turn.wait(30)
    assert turn.outcome.memory_notice is None  # the answer is safe; the facts wait
    assert services.memory.overview(user_id=alice.id).facts == []
    messages = services.conversations.open(
        user_id=alice.id, conversation_id=turn.conversation_id
    ).messages
    assert [m.status for m in messages] == ["complete", "complete"]


def test_a_question_that_says_nothing_about_the_user_reads_no_facts(
    services: Services, engine: Engine
) -> None:
    """Most questions state nothing about the user: after their answer the memory update
    reads neither the facts kept nor those learnt from the question (they are only needed
    for a model call that does not happen), and learning reads the question in one
    statement, the memory's switches included."""
    alice = make_user(services)
    answered(services, alice, "My cat is Miso.")
    turn = answered(services, alice, "How long do cats sleep?")
    with recorded_statements(engine) as statements:
        learnt = learn_from_last_answer(
            sessions=services.sessions,
            user_id=alice.id,
            conversation_id=turn.conversation_id,
            model=OfflineChatModel(),
        )
    assert learnt == Learnt()  # nothing learnt, nothing failed
    assert len(statements) == 1
    assert "FROM messages" in statements[0] and "user_memory" in statements[0]
    with recorded_statements(engine) as statements:
        services.turns.update_memory(user_id=alice.id, conversation_id=turn.conversation_id)
    assert statements  # the update ran
    assert not [s for s in statements if "FROM user_memories" in s]


def test_nothing_is_learnt_while_the_user_has_memory_off(services: Services) -> None:
    alice = make_user(services)
    services.memory.set_enabled(user_id=alice.id, enabled=False)
    answered(services, alice, "My kayak is a yellow Perception.")
    services.memory.set_enabled(user_id=alice.id, enabled=True)
    assert services.memory.overview(user_id=alice.id).facts == []
    answered(services, alice, "My tent is a blue Hilleberg.")
    assert [fact.content for fact in services.memory.overview(user_id=alice.id).facts] == [
        "My tent is a blue Hilleberg."
    ]
