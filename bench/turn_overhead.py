"""The app's own cost of a turn, without the model, against conversation size.

Per strategy and conversation size (10, 1,000, 10,000, 100,000 messages, in a messages table
holding 100,000 messages of another conversation too), times every database step of a turn,
through the functions the turn service itself calls (chat/turn_store.py, chat/history.py):
limits, the question and the answer placeholder (open_turn); the history factory's ownership
check and the strategy's view; the chain's save (history.add_messages: it skips rows in flight); the
final word on both rows and the context log (finish_turn). Only the model and LangChain's
plumbing are left out. Also counted: statements and commits per turn. The reference is
langchain_community's SQLChatMessageHistory on the same data (read all messages, add the two
new ones). Summary strategies start from a summary covering everything (their steady
state); updating it is the summariser's (the model's) work, not timed here.

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

from chat import repository
from chat.db import session_factory, unit_of_work
from chat.memory import STRATEGIES
from chat.settings import Settings
from chat.turn_store import finish_turn, open_turn
from chat.turns import ChatService

SIZES = (10, 1_000, 10_000, 100_000)
OTHER = 100_000
RUNS = 25
SLOW_RUNS = 3  # full buffer at the large sizes reads everything: a few runs say enough


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


def one_turn(service: ChatService, user_id: uuid.UUID, conversation_id: uuid.UUID) -> float:
    """The database work of one turn, in the order the turn service does it."""
    text_in, text_out = "What did I say about topic 7?", "You asked for three tips on it."
    started = time.perf_counter()
    setup, rows = open_turn(
        service.sessions,
        service.settings,
        user_id=user_id,
        conversation_id=conversation_id,
        question=text_in,
    )
    service.rows_in_flight.update((rows.human_id, rows.reply_id))  # as ChatService._run does
    history = service.get_history(str(user_id), str(conversation_id))
    question = HumanMessage(text_in, id=str(rows.human_id))
    sent = [SystemMessage(setup.system_prompt), *history.messages, question]
    # the chain's save: it skips the rows of turns in flight, as in the app
    history.add_messages([question, AIMessage(text_out, id=str(rows.reply_id))])
    finish_turn(
        service.sessions,
        user_id=user_id,
        conversation_id=conversation_id,
        rows=rows,
        status="complete",
        text=text_out,
        meta={"model": "offline", "strategy": history.strategy.name},
        sent=sent,
    )
    service.rows_in_flight.difference_update((rows.human_id, rows.reply_id))
    return time.perf_counter() - started


class StatementCounter:
    """Statements and commits sent by an engine (for the per-turn counts in the table)."""

    def __init__(self, engine: Engine) -> None:
        self.statements = self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *_: object) -> None:
        self.statements += 1

    def _commit(self, *_: object) -> None:
        self.commits += 1


def reference_turn(engine: Engine, session_id: str) -> float:
    from langchain_community.chat_message_histories import SQLChatMessageHistory

    started = time.perf_counter()
    history = SQLChatMessageHistory(session_id=session_id, connection=engine)
    _ = history.messages
    history.add_messages(
        [HumanMessage("What did I say about topic 7?"), AIMessage("You asked for three tips.")]
    )
    return time.perf_counter() - started


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
        messages_per_minute=1_000_000,  # the limit query runs on every turn, never refuses
    )
    with scratch_engine() as engine:
        sessions = session_factory(engine)
        service = ChatService(sessions=sessions, settings=settings, model_factory=lambda _: None)  # type: ignore[arg-type,return-value]
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
        results: dict[str, dict[int, float]] = {}
        per_turn: dict[str, tuple[float, float]] = {}
        counter = StatementCounter(engine)
        for size in sizes:
            for name, strategy in STRATEGIES.items():
                with unit_of_work(sessions) as session:
                    conversation = repository.create_conversation(
                        session=session,
                        user_id=user_id,
                        title=f"{name}-{size}",
                        memory_strategy=name,
                        memory_params=dict(strategy.defaults),
                        model="offline",
                        system_prompt=settings.default_system_prompt,
                    )
                    cid = conversation.id
                seed(engine, user_id, cid, size)
                if strategy.stateful:
                    with unit_of_work(sessions) as session:
                        repository.save_summary(
                            session=session,
                            user_id=user_id,
                            conversation_id=cid,
                            strategy=name,
                            content="Facts: name: Sofia\nRecent topics: topic 7",
                            covers_position=size,
                            token_count=12,
                        )
                with engine.begin() as connection:  # committed: a rolled-back ANALYZE is lost
                    connection.execute(text("ANALYZE messages"))
                runs = SLOW_RUNS if name == "full" and size >= 10_000 else args.runs
                one_turn(service, user_id, cid)  # warm-up
                counter.statements = counter.commits = 0
                times = [one_turn(service, user_id, cid) for _ in range(runs)]
                per_turn[name] = (counter.statements / runs, counter.commits / runs)
                results.setdefault(name, {})[size] = statistics.median(times) * 1000
            sid = f"ref-{size}"
            seed_reference(engine, sid, size)
            reference_turn(engine, sid)
            runs = SLOW_RUNS if size >= 10_000 else args.runs
            times = [reference_turn(engine, sid) for _ in range(runs)]
            results.setdefault("SQLChatMessageHistory", {})[size] = statistics.median(times) * 1000
    print(f"median ms per turn (model excluded); {OTHER:,} other messages in the table\n")
    header = (
        f"{'strategy':<24}"
        + "".join(f"{size:>12,}" for size in sizes)
        + f"{'last/first':>11}{'stmts':>7}{'commits':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        growth = row[sizes[-1]] / row[sizes[0]]
        statements, commits = per_turn.get(name, (float("nan"), float("nan")))
        print(
            f"{name:<24}"
            + "".join(f"{row[s]:>12.2f}" for s in sizes)
            + f"{growth:>9.2f}x{statements:>7.1f}{commits:>9.1f}"
        )


if __name__ == "__main__":
    main()
