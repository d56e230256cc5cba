"""Each memory strategy's view on real Postgres, read from the stored context logs."""

from __future__ import annotations

import uuid
from typing import Any

from chat.auth.accounts import Account
from chat.llm.tokens import count_text_tokens
from chat.memory.base import row_cost, tail_within
from chat.memory.strategies import FullBuffer, ViewRequest
from chat.services import Services
from chat.storage import repository
from chat.storage.db import unit_of_work
from tests.support.factories import make_user


def turn(services: Services, user: Account, text: str, cid: uuid.UUID | None) -> dict[str, Any]:
    """One full turn (the answer, then the engine's memory update); its context log."""
    sent = services.turns.send(user_id=user.id, conversation_id=cid, text=text)
    "".join(sent.stream())
    assert sent.wait(30)
    assert sent.outcome.memory_notice is None  # the summary did not fail
    assert sent.outcome.context is not None
    return {"cid": sent.conversation_id, **sent.outcome.context}


def history_positions(context: dict[str, Any]) -> list[int]:
    return [b["position"] for b in context["blocks"] if b["kind"] == "history"]


def conversation_with(services: Services, user: Account, turns: int) -> uuid.UUID:
    services.memory.set_enabled(user_id=user.id, enabled=False)  # the strategies alone
    cid = turn(services, user, "My name is Sofia. Tips about chess openings?", None)["cid"]
    for index in range(1, turns):
        turn(services, user, f"Give me three tips about topic number {index}.", cid)
    return cid


def use(services: Services, user: Account, cid: uuid.UUID, strategy: str, **params: Any) -> None:
    services.conversations.set_memory(
        user_id=user.id, conversation_id=cid, strategy=strategy, params=params
    )


def test_full_buffer_is_every_settled_message_in_order_with_its_id(services: Services) -> None:
    """The full view is every stored message the model may see, oldest first, each with its
    row's id, position and stored token count; failed, empty and in-flight rows are left
    out, and another user's request reads nothing of the conversation."""
    alice, bob = make_user(services), make_user(services)
    cid = services.turns.new_conversation(user_id=alice.id)
    rows = [
        ("human", "complete", "What is a sonnet?"),
        ("ai", "complete", "A poem of fourteen lines."),
        ("human", "complete", "And a haiku?"),
        ("ai", "error", "A poem of three"),  # failed: its partial text was never sent
        ("human", "complete", "A haiku, please."),
        ("ai", "interrupted", "Old pond, a frog"),  # stopped: what was shown is kept
        ("human", "complete", "Go on."),
        ("ai", "interrupted", ""),  # stopped before its first word
        ("system", "complete", "Answer in English."),
        ("human", "pending", "And a limerick?"),  # this turn's own input
        ("ai", "pending", ""),
    ]
    with unit_of_work(services.sessions) as session:
        stored = []
        for role, status, content in rows:
            message = repository.add_message(
                session=session,
                user_id=alice.id,
                conversation_id=cid,
                role=role,
                content=content,
                token_count=count_text_tokens(content),
                status=status,
            )
            stored.append((message.id, message.position, role, status, content))
    expected = [
        (role, content, str(id_), {"position": position, "token_count": count_text_tokens(content)})
        for id_, position, role, status, content in stored
        if status in ("complete", "interrupted") and content
    ]
    with unit_of_work(services.sessions) as session:
        view = FullBuffer().load(session, ViewRequest(user_id=alice.id, conversation_id=cid))
        foreign = FullBuffer().load(session, ViewRequest(user_id=bob.id, conversation_id=cid))
    assert [(m.type, m.content, m.id, m.response_metadata) for m in view.messages] == expected
    assert [m.content for m in view.messages][-2:] == ["Go on.", "Answer in English."]
    assert view.omitted == 0
    assert foreign.messages == []


def test_window_keeps_exactly_the_last_k_turns(services: Services) -> None:
    alice = make_user(services)
    cid = conversation_with(services, alice, 5)  # positions 1..10
    use(services, alice, cid, "window", k=2)
    context = turn(services, alice, "What is my name?", cid)
    assert history_positions(context) == [7, 8, 9, 10]
    stored = services.conversations.open(user_id=alice.id, conversation_id=cid).messages
    assert "can't find anything about that" in stored[-1].content  # the window forgot it
    use(services, alice, cid, "window", k=50)  # more turns than exist: everything
    assert history_positions(turn(services, alice, "And now?", cid)) == list(range(1, 13))


def test_token_budget_fits_the_budget_and_starts_on_a_question(services: Services) -> None:
    alice = make_user(services)
    cid = conversation_with(services, alice, 8)
    for budget in (120, 200, 333, 500):
        use(services, alice, cid, "budget", max_tokens=budget)
        context = turn(services, alice, "What is my name?", cid)
        history = [b for b in context["blocks"] if b["kind"] == "history"]
        assert context["total_tokens"] <= budget
        assert history and history[0]["role"] == "human"
        positions = [b["position"] for b in history]
        assert positions == list(range(positions[0], positions[-1] + 1))  # contiguous, newest
        # one more (older) message would not have fitted, unless it was an answer dropped
        # to start on a question
        assert context["blocks"][-1]["kind"] == "input"
    use(services, alice, cid, "budget", max_tokens=10)  # smaller than system + input
    context = turn(services, alice, "Hello?", cid)
    assert [b["kind"] for b in context["blocks"]] == ["system", "input"]


def test_budget_edge_is_exact(services: Services) -> None:
    """A budget that exactly fits the last exchange keeps it; one token less keeps nothing
    (the answer alone would fit, but a view never starts on an answer)."""
    alice = make_user(services)
    cid = conversation_with(services, alice, 3)
    with unit_of_work(services.sessions) as session:
        rows = repository.recent_messages(
            session=session, user_id=alice.id, conversation_id=cid, limit=2
        )
        exact = sum(row_cost(row) for row in rows)

        def kept(budget: int) -> list[int]:
            found = tail_within(
                session=session, user_id=alice.id, conversation_id=cid, budget=budget
            )
            return [row.position for row in found]

        assert kept(exact) == [5, 6]
        assert kept(exact - 1) == []
        assert kept(exact + row_cost(rows[0]) * 10)[0] % 2 == 1  # starts on a question
        other = make_user(services)
        assert (
            tail_within(session=session, user_id=other.id, conversation_id=cid, budget=9999) == []
        )


def test_running_summary_watermark_and_facts(services: Services) -> None:
    alice = make_user(services)
    cid = conversation_with(services, alice, 3)  # positions 1..6, summary is window's
    use(services, alice, cid, "summary")
    first = turn(services, alice, "Give me three tips about jazz harmony.", cid)
    # no summary yet: the uncovered messages are sent verbatim, nothing lost
    assert history_positions(first) == [1, 2, 3, 4, 5, 6]
    second = turn(services, alice, "What is my name?", cid)
    kinds = [b["kind"] for b in second["blocks"]]
    assert kinds == ["system", "summary", "input"]
    summary = second["blocks"][1]
    assert summary["covers_position"] == 8 and "Sofia" in summary["content"]
    stored = services.conversations.open(user_id=alice.id, conversation_id=cid).messages
    assert "Sofia" in stored[-1].content
    assert count_text_tokens(summary["content"]) < 200


def test_summary_buffer_folds_only_what_left_the_buffer(services: Services) -> None:
    alice = make_user(services)
    cid = conversation_with(services, alice, 1)
    use(services, alice, cid, "summary_buffer", max_tokens=150)
    for index in range(8):
        context = turn(services, alice, f"Give me three tips about subject {index}.", cid)
    history = history_positions(context)
    summary = next(b for b in context["blocks"] if b["kind"] == "summary")
    assert summary["covers_position"] + 1 == history[0]  # no gap, no overlap
    assert sum(b["tokens"] for b in context["blocks"] if b["kind"] == "history") <= 150
    assert "Sofia" in summary["content"]
    answer = turn(services, alice, "What is my name?", cid)
    assert answer["blocks"][1]["kind"] == "summary"


def test_switching_strategy_never_rewrites_messages(services: Services) -> None:
    alice = make_user(services)
    cid = conversation_with(services, alice, 4)
    before = services.conversations.open(user_id=alice.id, conversation_id=cid).messages
    sizes = {}
    for strategy in ("full", "window", "budget", "summary", "summary_buffer", "full"):
        use(services, alice, cid, strategy)
        sizes[strategy] = len(turn(services, alice, "What is my name?", cid)["blocks"])
    after = services.conversations.open(user_id=alice.id, conversation_id=cid).messages
    assert [(m.id, m.content) for m in after[: len(before)]] == [(m.id, m.content) for m in before]
    assert sizes["summary"] < sizes["full"]
