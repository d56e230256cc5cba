"""The Recall strategy on real PostgreSQL: recent turns plus the earlier messages most
relevant to the new input, found by full-text search and shown with why."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from chat.auth.accounts import Account
from chat.conversations.inspector import inspect_context, why
from chat.llm.offline import OfflineChatModel
from chat.memory.recall import Recall
from chat.memory.strategies import ViewRequest
from chat.services import Services, build_services
from chat.settings import Settings
from chat.storage import repository
from chat.storage.db import unit_of_work
from tests.chat.test_memory_strategies import turn, use
from tests.support.factories import make_user


@pytest.fixture
def services(
    settings: Settings, connection: Connection, sessions: sessionmaker[Session]
) -> Services:
    """The app's services without the per-minute limit: these conversations are long."""
    return build_services(
        settings.model_copy(update={"messages_per_minute": 0}),
        engine=connection.engine,
        sessions=sessions,
        model_factory=lambda name: OfflineChatModel(),
    )


def chatty(services: Services, user: Account, first: str, turns: int) -> uuid.UUID:
    services.memory.set_enabled(user_id=user.id, enabled=False)  # recall alone
    cid = turn(services, user, first, None)["cid"]
    for index in range(turns):
        turn(services, user, f"Give me three tips about topic number {index}.", cid)
    return cid


def blocks(context: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for b in context["blocks"] if b["kind"] == kind]


def test_recall_brings_back_the_relevant_early_message_and_says_why(services: Services) -> None:
    alice = make_user(services)
    cid = chatty(services, alice, "My daughter's school is St. Anne's. Tips about chess?", 20)
    use(services, alice, cid, "recall", recent_tokens=200)

    context = turn(services, alice, "Where does my daughter go to school?", cid)

    recalled = blocks(context, "recalled")
    assert [b["position"] for b in recalled][:2] == [1, 2]  # the statement, its answer
    assert recalled[0]["tokens"] > 0 and recalled[0]["score"] > 0
    assert {"daughter", "school"} <= set(recalled[0]["matched"])
    assert "school" in why(recalled[0]) and "full-text search" in why(recalled[0])
    history = [b["position"] for b in blocks(context, "history")]
    assert history and min(history) > 30  # the recent turns, verbatim
    answer = services.conversations.open(user_id=alice.id, conversation_id=cid).messages[-1]
    assert "St. Anne's" in answer.content
    inspected = inspect_context(answer.context or {}, reply_position=answer.position)
    assert (1, 1) not in inspected.left_out


def test_recall_fits_its_budget_and_finds_word_families(services: Services) -> None:
    alice = make_user(services)
    cid = chatty(services, alice, "I'm allergic to peanuts.", 12)
    use(services, alice, cid, "recall", recent_tokens=100, recall_tokens=60, max_recalled=2)

    context = turn(services, alice, "Which food allergy do I have?", cid)

    recalled = blocks(context, "recalled")
    assert [b["content"] for b in recalled][:1] == ["I'm allergic to peanuts."]
    assert sum(b["tokens"] for b in recalled) <= 60
    assert len(recalled) <= 2


def test_nothing_relevant_means_nothing_recalled(services: Services) -> None:
    alice = make_user(services)
    cid = chatty(services, alice, "My daughter's school is St. Anne's.", 8)
    use(services, alice, cid, "recall", recent_tokens=100)

    assert blocks(turn(services, alice, "Xylophones?", cid), "recalled") == []


def test_recall_never_reaches_another_conversation_or_user(services: Services) -> None:
    alice, bob = make_user(services), make_user(services)
    secret = chatty(services, bob, "My locker code is 4417 at the gym.", 1)
    other = chatty(services, alice, "My bike lock code is 9902.", 1)
    cid = chatty(services, alice, "Hello there.", 6)
    use(services, alice, cid, "recall", recent_tokens=50)

    context = turn(services, alice, "What is my locker code and my lock code?", cid)

    text = "\n".join(b["content"] for b in context["blocks"])
    assert "4417" not in text and "9902" not in text
    with unit_of_work(services.sessions) as session:
        # asked for bob's conversation as alice: nothing, even by id
        view = Recall({"recent_tokens": 0}).load(
            session,
            ViewRequest(user_id=alice.id, conversation_id=secret, question="locker code"),
        )
        assert view.messages == []
        rows = repository.recall_candidates(
            session=session,
            user_id=alice.id,
            conversation_id=secret,
            question="locker code",
            before_position=100,
            limit=5,
        )
        assert rows == []
        mine = repository.recall_candidates(
            session=session,
            user_id=alice.id,
            conversation_id=other,
            question="lock code",
            before_position=100,
            limit=5,
        )
        assert [r.position for r in mine][:1] == [1]


def test_recall_reads_the_pending_question_when_not_told(services: Services) -> None:
    """The history factory knows only (user, conversation): the view finds the question
    the turn stored."""
    alice = make_user(services)
    cid = chatty(services, alice, "My cello teacher is Mrs. Ruiz.", 10)
    use(services, alice, cid, "recall", recent_tokens=100)
    chain = services.turns.chain_for("offline")
    history = chain.get_session_history(str(alice.id), str(cid))  # no pending question
    assert not any(m.response_metadata.get("recalled") for m in history.messages)
    with unit_of_work(services.sessions) as session:
        repository.add_message(
            session=session,
            user_id=alice.id,
            conversation_id=cid,
            role="human",
            content="Who teaches me the cello?",
            token_count=6,
            status="pending",
        )
    history = chain.get_session_history(str(alice.id), str(cid))
    recalled = [m.text for m in history.messages if m.response_metadata.get("recalled")]
    assert recalled[0] == "My cello teacher is Mrs. Ruiz."
