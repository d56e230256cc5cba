"""A turn's handle, as followers read it (no database: the handle is plain threads)."""

from __future__ import annotations

import threading
import time
import uuid

from chat.turn.live import Turn
from chat.turn.store import TurnRows, TurnSetup


def new_turn() -> Turn:
    rows = TurnRows(
        conversation_id=uuid.uuid4(), human_id=uuid.uuid4(), reply_id=uuid.uuid4(), question="q"
    )
    setup = TurnSetup(
        model_name="offline",
        temperature=None,
        system_prompt="",
        strategy_name="window",
        title="t",
        first_exchange=False,
    )
    return Turn(user_id=uuid.uuid4(), rows=rows, setup=setup)


def produce(turn: Turn, pieces: list[str], pause: float) -> threading.Thread:
    def run() -> None:
        for piece in pieces:
            turn.append(piece)
            time.sleep(pause)
        turn.outcome.status = "complete"
        turn.end_answer()

    worker = threading.Thread(target=run)
    worker.start()
    return worker


def test_a_page_follower_gets_what_arrived_meanwhile_joined_and_all_of_it() -> None:
    turn = new_turn()
    pieces = [f"w{index} " for index in range(60)]
    worker = produce(turn, pieces, pause=0.002)
    received = list(turn.stream(every=0.05))
    worker.join()
    assert "".join(received) == "".join(pieces)
    # the first word is not held back (with what else had arrived, on a busy machine)
    assert received[0].startswith("w0 ") and len(received[0]) < len("".join(pieces)) / 2
    assert len(received) < len(pieces) / 3  # joined: far fewer redraws than pieces


def test_an_api_follower_gets_every_piece_as_it_came() -> None:
    turn = new_turn()
    pieces = [f"w{index} " for index in range(20)]
    worker = produce(turn, pieces, pause=0.001)
    received = list(turn.stream())
    worker.join()
    assert received == pieces


class CountingCondition(threading.Condition):
    """A condition that counts how often a thread returned from waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self.wakes = 0

    def wait(self, timeout: float | None = None) -> bool:
        woken = super().wait(timeout)
        self.wakes += 1
        return woken


def test_pieces_arriving_while_a_follower_holds_back_do_not_wake_it() -> None:
    """Each wake-up of the page's thread costs CPU: during the hold it sleeps through the
    pieces, and only the end (or a stop) cuts the hold short."""
    turn = new_turn()
    turn._changed = CountingCondition()
    turn_pieces = [f"w{index} " for index in range(40)]
    started = time.monotonic()
    worker = produce(turn, turn_pieces, pause=0.002)
    received = list(turn.stream(every=30.0))
    worker.join()
    assert time.monotonic() - started < 10  # the end cut the 30 s hold short
    # what had arrived when the follower started came at once (on a busy machine, more
    # than the first piece), the rest with the end
    assert received[0].startswith("w0 ") and "".join(received) == "".join(turn_pieces)
    assert len(received) <= 2
    assert turn._changed.wakes <= 3  # not once per piece
