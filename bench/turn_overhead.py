"""The app's own cost of a turn, without the model, against conversation size.

Per strategy and conversation size (10, 1,000, 10,000, 100,000 messages; every conversation
is seeded first, so the messages table holds all of them, 100,000 messages of another
conversation too), times every database step of a turn, through the functions the turn
engine itself calls (chat/turn/store.py, chat/turn/history.py): the conversation's lock,
the limits, the question and the empty answer (open_turn); the history factory's ownership
check and the strategy's view; one save of the answer's text while it streams; the
chain's save (history.add_messages, idempotent by id); the final word on both rows and
the context log (finish_turn). Only the model and LangChain's plumbing are left out. Also
counted: statements and commits per turn.

Each conversation has its own user (the per-minute limit counts one user's recent
questions). Every conversation of the bounded strategies takes one turn per round, so a
slow moment of the machine slows all of them alike; the full buffer and the reference (the
two that read every message) take theirs in rounds of their own afterwards, turn about, so
they are compared under the same load. The bulk load is vacuumed and checkpointed before
the first. The engine pings each connection it checks out, as the app's does. Besides the
wall time, the CPU time of this process per turn is printed: on a busy machine it says what
the app's own Python costs (the database server's work is only in the wall time).
Summary strategies start from a summary covering everything, and after each turn the
strategy folds the new exchange in (after_turn with the offline model, as the app does once
the answer has streamed), so every turn finds their steady state; the folding is the
summariser's work, after the answer, and is not timed. The reference is
langchain_community's SQLChatMessageHistory on the same data (read all messages, add the
two new ones).

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python bench/turn_overhead.py
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
import warnings

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from scratch_db import scratch_engine
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from chat.llm.offline import OfflineChatModel
from chat.memory.strategies import STRATEGIES, ViewRequest
from chat.settings import Settings
from chat.storage import repository
from chat.storage.db import session_factory, unit_of_work
from chat.turn.engine import TurnEngine
from chat.turn.store import finish_turn, open_turn, save_progress

SIZES = (10, 1_000, 10_000, 100_000)
OTHER = 100_000
RUNS = 40
SLOW_RUNS = 3  # full buffer at the large sizes reads everything: a few runs say enough
REFERENCE = "SQLChatMessageHistory"
READ_ALL = ("full", REFERENCE)  # the two that read every message of the conversation


def seed(engine: Engine, user_id: uuid.UUID, conversation_id: uuid.UUID, count: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO messages (id, conversation_id, user_id, position, role, content,"
                " status, token_count, meta, created_at) SELECT gen_random_uuid(), :cid, :uid, i,"
                " CASE WHEN i % 2 = 1 THEN 'human' ELSE 'ai' END,"
                " 'Message ' || i || ': give me three tips about topic ' || i || ' please.',"
                " 'complete', 14, '{}'::jsonb,"
                # written over the past weeks, as a long conversation is (not all this minute)
                " now() - interval '30 days' + i * interval '1 second'"
                " FROM generate_series(1, :n) AS i"
            ),
            {"cid": conversation_id, "uid": user_id, "n": count},
        )


def seed_reference(engine: Engine, session_id: str, count: int) -> None:
    from langchain_community.chat_message_histories import SQLChatMessageHistory

    SQLChatMessageHistory(session_id="init", connection=engine)  # creates its table
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO message_store (session_id, message) SELECT :sid, json_build_object("
                "'type', CASE WHEN i % 2 = 1 THEN 'human' ELSE 'ai' END, 'data', json_build_object("
                "'content', 'Message ' || i || ': give me three tips about topic ' || i ||"
                " ' please.', 'type', CASE WHEN i % 2 = 1 THEN 'human' ELSE 'ai' END,"
                " 'additional_kwargs', '{}'::json, 'response_metadata', '{}'::json))::text"
                " FROM generate_series(1, :n) AS i"
            ),
            {"sid": session_id, "n": count},
        )


def one_turn(
    service: TurnEngine,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    counter: StatementCounter | None = None,
) -> tuple[float, float]:
    """The database work of one turn, in the order the turn service does it: its wall and
    CPU seconds; `counter` counts its statements (the timed part only)."""
    text_in, text_out = "What did I say about topic 7?", "You asked for three tips on it."
    started, cpu_started = time.perf_counter(), time.process_time()
    setup, rows = open_turn(
        service.sessions,
        service.settings,
        user_id=user_id,
        conversation_id=conversation_id,
        question=text_in,
        new_title="bench",
        instance_id=None,
    )
    memory = STRATEGIES[setup.strategy_name]({})
    request = ViewRequest(
        user_id=user_id,
        conversation_id=conversation_id,
        system_prompt=setup.system_prompt,
        question=text_in,
    )
    history = service.get_history(str(user_id), str(conversation_id), request)
    question = HumanMessage(text_in, id=str(rows.human_id))
    sent = [SystemMessage(setup.system_prompt), *history.messages, question]
    save_progress(service.sessions, user_id=user_id, rows=rows, text=text_out[:10])
    # the chain's own save: both rows are stored already, so it adds nothing
    history.add_messages([question, AIMessage(text_out, id=str(rows.reply_id))])
    finish_turn(
        service.sessions,
        user_id=user_id,
        rows=rows,
        status="complete",
        text=text_out,
        meta={"model": "offline", "strategy": history.strategy.name},
        sent=sent,
    )
    elapsed = time.perf_counter() - started, time.process_time() - cpu_started
    if counter is not None:
        counter.counting = False
    if memory.stateful:  # after the answer, as in the app: not part of the turn
        memory.after_turn(
            sessions=service.sessions,
            user_id=user_id,
            conversation_id=conversation_id,
            model=OfflineChatModel(),
        )
    if counter is not None:
        counter.counting = True
    return elapsed


class StatementCounter:
    """Statements and commits sent by an engine (for the per-turn counts in the table)."""

    def __init__(self, engine: Engine) -> None:
        self.statements = self.commits = 0
        self.counting = True
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *_: object) -> None:
        self.statements += self.counting

    def _commit(self, *_: object) -> None:
        self.commits += self.counting


def make_cell(
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    name: str,
    size: int,
) -> tuple[uuid.UUID, uuid.UUID]:
    """A user with one conversation of `size` messages under strategy `name`: its own user,
    so the per-minute limit counts what one real user's turns make it count."""
    strategy = STRATEGIES[name]
    with unit_of_work(sessions) as session:
        user = repository.create_user(
            session=session,
            username=f"bench-{name}-{size}",
            display_name="b",
            email="b@x",
            password_hash="!",
        )
        conversation = repository.create_conversation(
            session=session,
            user_id=user.id,
            title=f"{name}-{size}",
            memory_strategy=name,
            memory_params=dict(strategy.defaults),
            model="offline",
            system_prompt=settings.default_system_prompt,
        )
        user_id, conversation_id = user.id, conversation.id
    seed(engine, user_id, conversation_id, size)
    if strategy.stateful:
        with unit_of_work(sessions) as session:
            repository.save_summary(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                strategy=name,
                content="Facts: name: Sofia\nRecent topics: topic 7",
                covers_position=size,
                token_count=12,
            )
    return user_id, conversation_id


def reference_turn(engine: Engine, session_id: str) -> tuple[float, float]:
    """The reference's turn: read every message, add the two new ones (wall, CPU seconds)."""
    from langchain_community.chat_message_histories import SQLChatMessageHistory

    started, cpu_started = time.perf_counter(), time.process_time()
    history = SQLChatMessageHistory(session_id=session_id, connection=engine)
    _ = history.messages
    history.add_messages(
        [HumanMessage("What did I say about topic 7?"), AIMessage("You asked for three tips.")]
    )
    return time.perf_counter() - started, time.process_time() - cpu_started


def machine_speed(engine: Engine) -> tuple[float, float]:
    """How fast the machine is right now: the median round trip of `SELECT 1` on a pooled
    connection (microseconds) and of a fixed piece of Python (milliseconds). A shared
    machine has slow spells; these tell one from a change in the app."""
    round_trips, python = [], []
    with engine.connect() as connection:
        for _ in range(200):
            started = time.perf_counter()
            connection.exec_driver_sql("SELECT 1")
            round_trips.append(time.perf_counter() - started)
    for _ in range(20):
        started = time.perf_counter()
        sum(i * i for i in range(50_000))
        python.append(time.perf_counter() - started)
    return statistics.median(round_trips) * 1e6, statistics.median(python) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed turns per cell")
    args = parser.parse_args()
    sizes = tuple(int(size) for size in args.sizes.split(","))
    warnings.filterwarnings("ignore")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="postgresql://unused",
        openai_api_key=None,
        # The limit query runs on every turn; each cell is its own user (below), so it counts
        # what a real user's does, at most the limit, and never refuses a timed turn.
        messages_per_minute=args.runs + 5,
    )
    with scratch_engine() as engine:
        sessions = session_factory(engine)
        service = TurnEngine(sessions=sessions, settings=settings, model_factory=lambda _: None)  # type: ignore[arg-type,return-value]
        with unit_of_work(sessions) as session:
            user = repository.create_user(
                session=session, username="bench", display_name="b", email="b@x", password_hash="!"
            )
            other = repository.create_conversation(
                session=session,
                user_id=user.id,
                title="other",
                memory_strategy="full",
                memory_params={},
                model="offline",
                system_prompt="",
            )
            user_id, other_id = user.id, other.id
        seed(engine, user_id, other_id, OTHER)
        seed_reference(engine, "other", OTHER)
        cells: dict[str, dict[int, tuple[uuid.UUID, uuid.UUID]]] = {}
        for name in STRATEGIES:
            for size in sizes:
                cells.setdefault(name, {})[size] = make_cell(
                    engine, sessions, settings, name=name, size=size
                )
        for size in sizes:
            seed_reference(engine, f"ref-{size}", size)
        # Settle the bulk load before timing: vacuum and statistics now, dirty pages on
        # disk, so autovacuum and a checkpoint do not compete with the timed turns.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM (ANALYZE)"))
            connection.execute(text("CHECKPOINT"))
        speed_before = machine_speed(engine)
        wall: dict[str, dict[int, float]] = {}
        cpu: dict[str, dict[int, float]] = {}
        per_turn: dict[str, tuple[float, float]] = {}
        counter = StatementCounter(engine)

        def turn(name: str, size: int, counting: StatementCounter | None) -> tuple[float, float]:
            if name == REFERENCE:
                return reference_turn(engine, f"ref-{size}")
            return one_turn(service, *cells[name][size], counting)

        # Every conversation of the bounded strategies takes a turn in each round, so a slow
        # moment of the machine slows them all alike. The full buffer and the reference run
        # afterwards, turn about: a turn of either builds every message of the conversation
        # (100,000 at the largest size), and the garbage it leaves would land on a bounded
        # cell's turn.
        for group in ([name for name in STRATEGIES if name != "full"], ["full", REFERENCE]):
            runs = {
                (name, size): SLOW_RUNS if name in READ_ALL and size >= 10_000 else args.runs
                for size in sizes  # the full buffer and the reference side by side
                for name in group
            }
            times: dict[tuple[str, int], list[tuple[float, float]]] = {cell: [] for cell in runs}
            counts = {name: [0, 0] for name in group}
            for name, size in runs:
                turn(name, size, None)  # warm-up
            for round_ in range(max(runs.values())):
                for (name, size), cell_runs in runs.items():
                    if round_ < cell_runs:
                        statements, commits = counter.statements, counter.commits
                        times[(name, size)].append(turn(name, size, counter))
                        counts[name][0] += counter.statements - statements
                        counts[name][1] += counter.commits - commits
            for name in group:
                total = sum(cell_runs for (n, _), cell_runs in runs.items() if n == name)
                per_turn[name] = (counts[name][0] / total, counts[name][1] / total)
                for column, into in ((0, wall), (1, cpu)):
                    into[name] = {
                        size: statistics.median(t[column] for t in times[(name, size)]) * 1000
                        for size in sizes
                    }
        speed_after = machine_speed(engine)
    print(f"median ms per turn (model excluded); {OTHER:,} other messages in the table")
    print(
        "machine before / after: SELECT 1 round trip"
        f" {speed_before[0]:.0f} / {speed_after[0]:.0f} us,"
        f" Python yardstick {speed_before[1]:.2f} / {speed_after[1]:.2f} ms\n"
    )
    header = (
        f"{'strategy':<24}"
        + "".join(f"{size:>12,}" for size in sizes)
        + f"{'last/first':>11}{'stmts':>7}{'commits':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, row in wall.items():
        growth = row[sizes[-1]] / row[sizes[0]]
        statements, commits = per_turn[name]
        print(
            f"{name:<24}"
            + "".join(f"{row[s]:>12.2f}" for s in sizes)
            + f"{growth:>9.2f}x{statements:>7.1f}{commits:>9.1f}"
        )
    print("\nmedian CPU ms of this process per turn (the database server's work left out)")
    for name in READ_ALL:
        print(f"{name:<24}" + "".join(f"{cpu[name][s]:>12.2f}" for s in sizes))
    print(f"\nfull / {REFERENCE} (below 1: the full buffer is faster)")
    for label, table in (("wall", wall), ("CPU", cpu)):
        print(
            f"{label:<24}"
            + "".join(f"{table['full'][s] / table[REFERENCE][s]:>12.2f}" for s in sizes)
        )


if __name__ == "__main__":
    main()
