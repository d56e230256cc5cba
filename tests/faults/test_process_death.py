"""An app process dies mid-answer: its pending answers are recognised at once (its liveness
lock is free) and settled as interrupted, while those of a live process are left alone.

Each "process" here is a TurnEngine with its own Liveness (its own lock connection), over
the test's transaction; `stop()` is what the death of the process does to its lock. Its
model says its first word and then waits at a gate: a dead process says nothing more. The
gate opens when the test ends, and what the "dead" process then tries to write is refused
(its answers were retried in place, or settled) or corrects a mistaken settling.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.outputs import ChatGenerationChunk
from sqlalchemy.engine import URL

from chat.llm.offline import OfflineChatModel
from chat.services import Services
from chat.storage.liveness import Liveness
from chat.turn.engine import TurnEngine
from tests.support.factories import make_user


class GatedModel(OfflineChatModel):
    """The offline model, holding every word after the first until `gate` is set."""

    gate: threading.Event

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for index, chunk in enumerate(super()._stream(*args, **kwargs)):
            if index == 1:
                self.gate.wait(60)
            yield chunk


@dataclass
class Process:
    turns: TurnEngine
    liveness: Liveness
    gate: threading.Event

    def die(self) -> None:
        """What a killed process leaves behind: its lock is free (the kernel closes its
        connection; the server frees the lock once its backend exits)."""
        self.liveness.stop()


@pytest.fixture
def process(services: Services, database_url: URL) -> Iterator[Callable[[], Process]]:
    """Start another app process (a turn engine with its own liveness lock)."""
    started: list[Process] = []

    def start() -> Process:
        gate = threading.Event()
        liveness = Liveness(database_url).start()
        chat = TurnEngine(
            sessions=services.sessions,
            settings=services.settings,
            model_factory=lambda name: GatedModel(gate=gate),
            liveness=liveness,
        )
        started.append(Process(turns=chat, liveness=liveness, gate=gate))
        return started[-1]

    yield start
    for each in started:
        each.gate.set()
    for each in started:
        assert each.turns.drain(timeout=30)
        each.liveness.stop()


def statuses(services: Services, user_id: uuid.UUID, conversation_id: uuid.UUID) -> list:
    view = services.conversations.open(user_id=user_id, conversation_id=conversation_id)
    return [(m.role, m.status) for m in view.messages]


def test_answers_of_a_dead_process_are_interrupted_when_the_conversation_opens(
    services: Services, process: Callable[[], Process]
) -> None:
    alice = make_user(services)
    dying, living = process(), process()
    # Each has stored its question and an empty answer and is streaming (held at its
    # first word: a dead process runs no more code, not even its clean-up).
    lost = dying.turns.send(user_id=alice.id, conversation_id=None, text="Tell me about tea.")
    busy = living.turns.send(user_id=alice.id, conversation_id=None, text="Tell me about coffee.")

    # While both live, a reader (another tab, another replica) sees both in progress.
    assert statuses(services, alice.id, lost.conversation_id) == [
        ("human", "pending"),
        ("ai", "pending"),
    ]
    dying.die()
    assert statuses(services, alice.id, lost.conversation_id) == [
        ("human", "complete"),
        ("ai", "interrupted"),
    ]
    assert statuses(services, alice.id, busy.conversation_id) == [
        ("human", "pending"),
        ("ai", "pending"),
    ]

    # The interrupted answer is retried in place by the surviving process.
    living.gate.set()
    retry = living.turns.retry(
        user_id=alice.id, conversation_id=lost.conversation_id, reply_id=lost.reply_id
    )
    assert "".join(retry.stream())
    view = services.conversations.open(user_id=alice.id, conversation_id=lost.conversation_id)
    assert [(m.id, m.status) for m in view.messages] == [
        (lost.human_id, "complete"),
        (lost.reply_id, "complete"),
    ]
    assert view.messages[1].meta["instance"] == living.liveness.instance_id


def test_the_next_turn_settles_a_dead_process_answer_first(
    services: Services, process: Callable[[], Process]
) -> None:
    alice = make_user(services)
    dying, living = process(), process()
    lost = dying.turns.send(user_id=alice.id, conversation_id=None, text="My name is Ada.")
    dying.die()
    living.gate.set()
    turn = living.turns.send(
        user_id=alice.id, conversation_id=lost.conversation_id, text="What is my name?"
    )
    assert "My name is Ada" in "".join(turn.stream())  # the question itself was kept
    assert statuses(services, alice.id, lost.conversation_id) == [
        ("human", "complete"),
        ("ai", "interrupted"),
        ("human", "complete"),
        ("ai", "complete"),
    ]


def test_a_live_answer_settled_by_mistake_is_corrected_when_it_ends(
    services: Services, process: Callable[[], Process]
) -> None:
    """A process that lost its lock (its lock connection dropped) looks dead to the others
    for a moment; its answer, when it ends, still gets the final word."""
    alice = make_user(services)
    streaming = process()
    turn = streaming.turns.send(user_id=alice.id, conversation_id=None, text="Tell me about tea.")
    chunks = turn.stream()
    first = next(chunks)
    streaming.die()
    assert statuses(services, alice.id, turn.conversation_id)[-1] == ("ai", "interrupted")
    streaming.gate.set()  # it was alive after all
    rest = "".join(chunks)
    assert turn.wait(30)
    view = services.conversations.open(user_id=alice.id, conversation_id=turn.conversation_id)
    assert (view.messages[-1].status, view.messages[-1].content) == ("complete", first + rest)
