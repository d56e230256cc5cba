"""The app's own cost of a turn, without the model, against conversation size.

Per strategy and conversation size (10, 1,000, 10,000, 100,000 messages, in a messages table
holding 100,000 messages of another conversation too), times what the turn service does
around the model: the history factory (ownership check), the strategy's view, storing the
question and the answer placeholder, finishing both rows and writing the context log. The
reference is langchain_community's SQLChatMessageHistory on the same data (read all
messages, add the two new ones). Summary strategies start from a summary covering everything
(their steady state); updating it is the summariser's (the model's) work, not timed here.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python bench/turn_overhead.py
"""

from __future__ import annotations

import statistics
import time
import uuid
import warnings

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from scratch_db import scratch_engine
from sqlalchemy import Engine, text

from chat import repository
from chat.db import session_factory, unit_of_work
from chat.memory import STRATEGIES
from chat.settings import Settings
from chat.tokens import count_text_tokens
from chat.turns import ChatService, context_payload

SIZES = (10, 1_000, 10_000, 100_000)
OTHER = 100_000
RUNS = 25
SLOW_RUNS = 3  # full buffer at the large sizes reads everything: a few runs say enough


def seed(engine: Engine, user_id: uuid.UUID, conversation_id: uuid.UUID, count: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO messages (id, conversation_id, user_id, position, role, content,"
                " status, token_count, meta) SELECT gen_random_uuid(), :cid, :uid, i,"
                " CASE WHEN i % 2 = 1 THEN 'human' ELSE 'ai' END,"
                " 'Message ' || i || ': give me three tips about topic ' || i || ' please.',"
                " 'complete', 14, '{}'::jsonb FROM generate_series(1, :n) AS i"
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
    """The turn service's work around the model, through its own functions."""
    text_in, text_out = "What did I say about topic 7?", "You asked for three tips on it."
    human_id, reply_id = uuid.uuid4(), uuid.uuid4()
    started = time.perf_counter()
    with unit_of_work(service.sessions) as session:
        conversation = repository.get_conversation(
            session=session, user_id=user_id, conversation_id=conversation_id
        )
        repository.append_pending_turn(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            human_id=human_id,
            reply_id=reply_id,
            question=text_in,
            question_tokens=count_text_tokens(text_in),
            reply_meta={"model": "offline"},
        )
    history = service.get_history(str(user_id), str(conversation_id))
    sent = [
        SystemMessage(conversation.system_prompt),
        *history.messages,
        HumanMessage(text_in, id=str(human_id)),
    ]
    with unit_of_work(service.sessions) as session:
        repository.finish_message(
            session=session, user_id=user_id, message_id=human_id, status="complete"
        )
        repository.finish_message(
            session=session,
            user_id=user_id,
            message_id=reply_id,
            status="complete",
            content=text_out,
            token_count=count_text_tokens(text_out),
        )
        repository.save_context_log(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            message_id=reply_id,
            strategy=history.strategy.name,
            payload=context_payload(sent, human_id=human_id),
        )
    return time.perf_counter() - started


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
    warnings.filterwarnings("ignore")
    settings = Settings(_env_file=None, database_url="postgresql://unused", openai_api_key=None)  # type: ignore[call-arg]
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
        for size in SIZES:
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
                with engine.connect() as connection:
                    connection.execute(text("ANALYZE messages"))
                runs = SLOW_RUNS if name == "full" and size >= 10_000 else RUNS
                one_turn(service, user_id, cid)  # warm-up
                times = [one_turn(service, user_id, cid) for _ in range(runs)]
                results.setdefault(name, {})[size] = statistics.median(times) * 1000
            sid = f"ref-{size}"
            seed_reference(engine, sid, size)
            reference_turn(engine, sid)
            runs = SLOW_RUNS if size >= 10_000 else RUNS
            times = [reference_turn(engine, sid) for _ in range(runs)]
            results.setdefault("SQLChatMessageHistory", {})[size] = statistics.median(times) * 1000
    print(f"median ms per turn (model excluded); {OTHER:,} other messages in the table\n")
    header = f"{'strategy':<24}" + "".join(f"{size:>12,}" for size in SIZES) + f"{'100k/10':>10}"
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        growth = row[SIZES[-1]] / row[SIZES[0]]
        print(f"{name:<24}" + "".join(f"{row[s]:>12.2f}" for s in SIZES) + f"{growth:>9.2f}x")


if __name__ == "__main__":
    main()
