"""Load at the service level: many users chatting at once through the page's code path.

50 users (threads) each run 20 turns as pages/chat.py does: TurnEngine.send -> consume
Turn.stream() -> wait for the engine's after-answer work (memory update, title). The
services are the real build_services over a real engine from
chat.storage.db.make_engine with a pool of 5 (overflow 0); the model is the real
ChatOpenAI against tests/support/openai_server.py streaming at 20 ms per token (it answers
"Echo: <question>", 12 to 42 chunks). The per-user message limit is raised out of the way
(its query still runs).

What is measured:
- turns/s over the whole run, and errors (any exception, a failed summary update).
- overhead = a turn's wall time (from calling send() to the title stored) minus the time
  the model server spent answering that turn's requests (from receiving each request to
  writing its last byte; the server timestamps its request log). So it counts everything
  the app does (validation, limit check, storing the question, ownership check, memory
  read, HTTP client, chunk handling, storing the answer and context log, memory update,
  title write) including waiting for a pooled connection. The model server shares this
  process (and its GIL), so on a small machine this is an upper bound. It is split into:
  send() to the chat request reaching the server; the server's last byte to the last chunk
  the page reads (the client falling behind the stream); the last chunk to the stream
  closed (the chain's save and the turn's own finish: the answer stored); and the memory
  update and title after it (the title request's model time excluded).
- the pool: connections held per checkout, time to get one (queueing and the pre-ping),
  timeouts; and errors LangChain caught in its callbacks and only logged (the chain's own
  history save runs in one: a pool timeout there reaches no caller, and the turn's own
  finish stores the answer anyway).
- peak DB connections: pg_stat_activity rows of the app's engine (application_name
  chat-app, this database), sampled every 20 ms; never above the pool.
- connections held while streaming, two ways: each chunk the page receives is checked
  against the pool's checkout events for its own thread (a chunk delivered while that turn
  holds a connection is counted); and the sampler records how many streams the model
  server was serving at once next to the pool's checked-out count: with a pool of 5, more
  than 5 concurrent streams is only possible if streaming holds no connection.
- lost messages afterwards, in the database: every question stored once, followed by its
  complete echoed answer.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python bench/load_service.py [--users 50 --turns 20 --token-delay 0.02 --pool 5]
"""

from __future__ import annotations

import argparse
import math
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass

from load_check import (
    MARKER,
    StoredCheck,
    check_stored,
    machine_load,
    p50_p95_ms,
    print_table,
    question,
)
from load_watch import BUSY_STREAMS, PoolHolders, Samples, SwallowedErrors, sample
from scratch_db import endpoint_settings, scratch_engine

from chat.memory.strategies import STRATEGIES
from chat.services import Services, build_services
from chat.storage.db import make_engine
from tests.support.openai_server import FakeOpenAIServer


@dataclass
class TurnRecord:
    user: int
    turn: int
    started: float
    sent: float | None = None
    first_chunk: float | None = None
    last_chunk: float | None = None
    stream_closed: float | None = None
    done: float | None = None
    chunks: int = 0
    chunks_holding: int = 0
    error: str | None = None


def user_loop(
    services: Services, holders: PoolHolders, user: int, user_id: uuid.UUID, turns: int
) -> list[TurnRecord]:
    records, conversation_id = [], None
    for number in range(turns):
        record = TurnRecord(user=user, turn=number, started=time.monotonic())
        records.append(record)
        try:
            turn = services.turns.send(
                user_id=user_id, conversation_id=conversation_id, text=question(user, number)
            )
            record.sent = time.monotonic()
            conversation_id = turn.conversation_id
            for _piece in turn.stream():
                record.last_chunk = time.monotonic()
                record.first_chunk = record.first_chunk or record.last_chunk
                record.chunks += 1
                record.chunks_holding += holders.holding()
            record.stream_closed = time.monotonic()
            # the engine's after-answer work (summary, user memory, title), as a page waits
            if not turn.wait(60):
                record.error = "the after-answer work did not end in 60 s"
            elif turn.outcome.memory_notice:
                record.error = f"summary: {turn.outcome.memory_notice}"
        except Exception as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        record.done = time.monotonic()
    return records


@dataclass
class ModelSide:
    """What the model server did for one turn."""

    spent: float = 0.0  # seconds answering this turn's requests (chat, title, summary)
    chat_received: float | None = None  # when the streamed chat request arrived
    chat_finished: float | None = None  # when its last byte was written
    after_stream: float = 0.0  # seconds answering requests made after the stream (title)


def model_side(
    records: list[TurnRecord], server: FakeOpenAIServer
) -> dict[tuple[int, int], ModelSide]:
    """A request belongs to the user its markers name, and to that user's turn in progress
    when it arrived (each user's turns run one after the other)."""
    spans: dict[int, list[TurnRecord]] = {}
    for record in records:
        spans.setdefault(record.user, []).append(record)
    found: dict[tuple[int, int], ModelSide] = {}
    for request in server.requests:
        body = request["body"] or {}
        contents = " ".join(str(m.get("content")) for m in body.get("messages") or [])
        marker = MARKER.search(contents)
        if marker is None or request["finished_at"] is None:
            continue
        for record in spans.get(int(marker.group(1)), []):
            if record.started <= request["received_at"] <= (record.done or 0):
                side = found.setdefault((record.user, record.turn), ModelSide())
                took = request["finished_at"] - request["received_at"]
                side.spent += took
                if body.get("stream") and side.chat_received is None:
                    side.chat_received = request["received_at"]
                    side.chat_finished = request["finished_at"]
                elif request["received_at"] >= (record.stream_closed or math.inf):
                    side.after_stream += took
                break
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--token-delay", type=float, default=0.02)
    parser.add_argument("--pool", type=int, default=5)
    parser.add_argument("--strategy", default="window", choices=sorted(STRATEGIES))
    args = parser.parse_args()
    with (
        scratch_engine() as monitor,
        FakeOpenAIServer(api_key="sk-bench", default_token_delay=args.token_delay) as server,
    ):
        settings = endpoint_settings(
            server.base_url,
            messages_per_minute=100_000,
            db_pool_size=args.pool,
            db_max_overflow=0,
            default_memory_strategy=args.strategy,
        )
        engine = make_engine(monitor.url.render_as_string(hide_password=False), settings)
        services = build_services(settings, engine=engine)
        users = [
            services.accounts.create(
                username=f"load-{n}", email=f"load-{n}@example.com", password="a load password"
            ).id
            for n in range(args.users)
        ]
        # One turn first, not counted: the first turn in a process imports the model client
        # and loads the tokenizer, which a running server has long done.
        warm = services.accounts.create(
            username="load-warm-up", email="warm@example.com", password="a load password"
        )
        holders = PoolHolders(engine)
        user_loop(services, holders, -1, warm.id, 1)
        holders.reset()
        swallowed = SwallowedErrors()
        stop, results, samples = threading.Event(), [], Samples()

        def sampler() -> None:
            nonlocal samples
            samples = sample(monitor, engine, server, stop)

        watcher = threading.Thread(target=sampler)
        watcher.start()
        started = time.monotonic()
        threads = [
            threading.Thread(
                target=lambda n=n: results.extend(
                    user_loop(services, holders, n, users[n], args.turns)
                )
            )
            for n in range(args.users)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        stop.set()
        watcher.join()
        load = machine_load()
        stored = check_stored(
            monitor,
            {users[n]: [question(n, t) for t in range(args.turns)] for n in range(args.users)},
        )
        spent = model_side(results, server)
        engine.dispose()
    report(args, results, spent, samples, holders, swallowed, stored, wall, load)


def report(
    args: argparse.Namespace,
    results: list[TurnRecord],
    spent: dict[tuple[int, int], ModelSide],
    samples: Samples,
    holders: PoolHolders,
    swallowed: SwallowedErrors,
    stored: StoredCheck,
    wall: float,
    load: str,
) -> None:
    ok = [r for r in results if r.error is None and r.done and r.last_chunk and r.stream_closed]
    overhead, before, lag, storing, closing, first = [], [], [], [], [], []
    for record in ok:
        side = spent.get((record.user, record.turn), ModelSide())
        assert record.done and record.last_chunk and record.stream_closed and record.first_chunk
        overhead.append(record.done - record.started - side.spent)
        first.append(record.first_chunk - record.started)
        if side.chat_received is not None and side.chat_finished is not None:
            before.append(side.chat_received - record.started)
            lag.append(record.last_chunk - side.chat_finished)
        storing.append(record.stream_closed - record.last_chunk)
        closing.append(record.done - record.stream_closed - side.after_stream)
    errors = Counter(r.error.split(":")[0] for r in results if r.error)
    chunks = sum(r.chunks for r in results)
    holding = sum(r.chunks_holding for r in results)
    print_table(
        f"service level: {args.users} users x {args.turns} turns, model"
        f" {args.token_delay * 1000:.0f} ms/token, pool {args.pool} (overflow 0),"
        f" strategy {args.strategy}",
        [
            ("turns", len(results)),
            ("wall s", f"{wall:.1f}"),
            ("turns/s", f"{len(results) / wall:.1f}"),
            ("errors", f"{sum(errors.values())} {dict(errors) or ''}".strip()),
            ("overhead p50 / p95 ms", p50_p95_ms(overhead)),
            ("  send() to the request at the model", p50_p95_ms(before)),
            ("  model's last byte to the last chunk read", p50_p95_ms(lag)),
            ("  last chunk to the answer stored", p50_p95_ms(storing)),
            ("  memory update and title (model excluded)", p50_p95_ms(closing)),
            ("first chunk p50 / p95 ms", p50_p95_ms(first)),
            ("peak DB connections (pg_stat_activity)", samples.peak_backends),
            ("peak non-idle DB connections", samples.peak_active_backends),
            ("peak pool checked out", samples.peak_checked_out),
            ("pool checkouts per turn", f"{holders.checkouts / len(results):.1f}"),
            ("connection held p50 / p95 ms", p50_p95_ms(holders.hold_times)),
            (
                "getting a connection p50 / p95 / max ms",
                f"{p50_p95_ms(holders.waits)} / {max(holders.waits, default=0) * 1000:.0f}",
            ),
            ("pool timeouts", holders.timeouts),
            (
                "errors in LangChain callbacks (logged only)",
                f"{sum(swallowed.seen.values())} {dict(swallowed.seen) or ''}".strip(),
            ),
            ("peak concurrent streams (model server)", samples.peak_streams),
            ("  pool checked out at that moment", samples.checked_out_at_peak_streams),
            (
                f"peak checked out while >= {BUSY_STREAMS} streams",
                f"{samples.peak_checked_out_while_busy} ({samples.busy_samples} samples)",
            ),
            ("chunks received holding a connection", f"{holding} of {chunks}"),
            ("samples (every 20 ms)", samples.count),
            *stored.table_rows(),
            ("machine load", load),
        ],
    )


if __name__ == "__main__":
    main()
