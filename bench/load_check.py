"""What both load benchmarks share: the questions they ask, the lost-message check against
the database afterwards, percentiles and the printed table.

Every question carries a marker (``u3-t7:``) naming its user and turn, and the local model
server answers ``Echo: <question>``, so the stored rows prove not only that nothing was lost
but also that no answer ended up under another user's question.
"""

from __future__ import annotations

import math
import re
import subprocess
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, text

FILLER = (
    "please tell me something short about the weather, the sea, tea, old maps, bread and "
    "night trains, in a few plain sentences for a busy reader today"
)
WORDS = FILLER.split() * 2
STATEMENT_EVERY = 5  # one question in five says something about the user
MARKER = re.compile(r"\bu(\d+)-t(\d+):")


def question(user: int, turn: int) -> str:
    """10 to 40 words after the marker, varying with user and turn: the echoed answer streams
    12 to 42 chunks (27 on average, about half a second at 20 ms per token). With one length
    for all, users started together stay in step and every stream ends at the same moment,
    so the writes after the stream queue for the pool in bursts no real traffic has.

    Most are requests (ending in "?"); one in five states something about the user, which
    the user's memory learns from with a call to the model after the answer, as it does for
    people who say such things. (Before, every question read as such a statement, because
    of the marker in front of the request: each turn paid for a second model call.)"""
    count = 10 + (user * 7 + turn * 13) % 31
    words = " ".join(WORDS[:count]).rstrip(",")
    if turn % STATEMENT_EVERY == STATEMENT_EVERY - 1:
        return f"u{user}-t{turn}: I keep notes on {words}."
    return f"u{user}-t{turn}: {words}?"


def expected_answer(asked: str) -> str:
    return f"Echo: {asked}"


@dataclass
class StoredCheck:
    sent: int = 0
    stored: int = 0
    complete_answers: int = 0
    missing: int = 0  # sent, but no question row
    duplicated: int = 0  # sent once, stored more than once
    bad_answers: int = 0  # question stored, answer missing, not complete or not its echo
    unexpected: int = 0  # a question row nobody sent

    @property
    def lost(self) -> int:
        return self.missing + self.bad_answers

    def table_rows(self) -> list[tuple[str, object]]:
        """The lines both load benchmarks print about what reached the database."""
        return [
            ("questions stored / sent", f"{self.stored} / {self.sent}"),
            ("complete answers", self.complete_answers),
            ("lost messages", self.lost),
            ("duplicated / unexpected questions", f"{self.duplicated} / {self.unexpected}"),
        ]


def check_stored(engine: Engine, sent: dict[uuid.UUID, Sequence[str]]) -> StoredCheck:
    """Every question sent is stored once, followed by its complete echoed answer."""
    rows = defaultdict(list)
    with engine.connect() as connection:
        result = connection.execute(
            text(
                "SELECT user_id, conversation_id, position, role, status, content FROM messages"
                " WHERE user_id = ANY(:ids) ORDER BY user_id, conversation_id, position"
            ),
            {"ids": list(sent)},
        )
        for row in result:
            rows[row.user_id].append(row)
    check = StoredCheck()
    for user_id, questions in sent.items():
        check.sent += len(questions)
        answers: dict[str, list[tuple[str, str]]] = defaultdict(list)
        stored = rows[user_id]
        for index, row in enumerate(stored):
            if row.role != "human":
                continue
            following = stored[index + 1] if index + 1 < len(stored) else None
            if (
                following is None
                or following.conversation_id != row.conversation_id
                or following.role != "ai"
            ):
                answers[row.content].append(("missing", ""))
            else:
                answers[row.content].append((following.status, following.content))
        check.stored += sum(len(found) for found in answers.values())
        for asked in questions:
            found = answers.pop(asked, [])
            if not found:
                check.missing += 1
                continue
            check.duplicated += len(found) - 1
            status, content = found[0]
            if status == "complete" and content == expected_answer(asked):
                check.complete_answers += 1
            else:
                check.bad_answers += 1
        check.unexpected += sum(len(found) for found in answers.values())
    return check


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def p50_p95_ms(values: Sequence[float]) -> str:
    return f"{percentile(values, 0.5) * 1000:.0f} / {percentile(values, 0.95) * 1000:.0f}"


def machine_load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def print_table(title: str, rows: Sequence[tuple[str, object]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n{title}")
    print("-" * (width + 30))
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
