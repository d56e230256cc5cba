"""Sidebar list query for a user with 10,000 conversations (real PostgreSQL).

Creates a scratch database on the server of BENCH_DATABASE_URL (or TEST_DATABASE_URL),
migrates it, inserts the conversations (plus some messages, whose bodies the list must not
read), and prints the time of each page query. Target: at most 5 ms per page query.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python -m bench.conversation_list
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, insert
from sqlalchemy.orm import sessionmaker

from chat.storage import repository
from chat.storage.db import migrate
from chat.storage.tables import Conversation, Message
from tests.support.postgres import _driver, fresh_database

CONVERSATIONS = 10_000
PAGE = 30
RUNS = 50


def main() -> None:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not url:
        raise SystemExit("Set BENCH_DATABASE_URL or TEST_DATABASE_URL to a PostgreSQL server.")
    with fresh_database(_driver(url), prefix="chat_bench") as scratch:
        engine = create_engine(scratch)
        migrate(engine)
        sessions = sessionmaker(engine)
        user_id = uuid.uuid4()
        now = datetime.now(UTC)
        with sessions() as session, session.begin():
            repository.create_user(
                session=session, username="bench", display_name="Bench", email="b@example.com",
                password_hash="x",
            )  # fmt: skip
            user_id = repository.get_user_by_username(session=session, username="bench").id  # type: ignore[union-attr]
            other = repository.create_user(
                session=session, username="other", display_name="Other", email="o@example.com",
                password_hash="x",
            )  # fmt: skip
            rows = [
                {
                    "id": uuid.uuid4(), "user_id": owner, "title": f"Conversation {i}",
                    "memory_strategy": "window", "memory_params": {}, "model": "offline",
                    "system_prompt": "", "pinned": i % 500 == 0,
                    "updated_at": now - timedelta(minutes=i),
                }
                for owner in (user_id, other.id)
                for i in range(CONVERSATIONS)
            ]  # fmt: skip
            session.execute(insert(Conversation), rows)
            body = "lorem ipsum " * 200
            session.execute(
                insert(Message),
                [
                    {
                        "id": uuid.uuid4(), "conversation_id": row["id"], "user_id": user_id,
                        "position": p, "role": "human" if p % 2 else "ai", "content": body,
                        "status": "complete", "token_count": 400, "meta": {},
                    }
                    for row in rows[:2_000]
                    for p in (1, 2)
                ],
            )  # fmt: skip
        with engine.begin() as connection:  # committed: a rolled-back ANALYZE is lost
            connection.exec_driver_sql("ANALYZE")
        cases: list[tuple[str, dict[str, object]]] = [
            ("first page", {"limit": PAGE}),
            ("after 'load more' x4 (limit 150)", {"limit": 5 * PAGE}),
            ("page 100 by keyset", {"limit": PAGE, "keyset_pages": 100}),
            ("page 100 by offset", {"limit": PAGE, "offset": 99 * PAGE}),
        ]
        print(f"{CONVERSATIONS:,} conversations for the user (and as many for another user)")
        print(f"{'query':<36} {'median ms':>10} {'p95 ms':>8} {'rows':>5}")
        with sessions() as session:
            for name, args in cases:
                after = None
                if "keyset_pages" in args:
                    for _ in range(int(args["keyset_pages"]) - 1):  # type: ignore[call-overload]
                        after = repository.list_conversations(
                            session=session, user_id=user_id, limit=PAGE, after=after
                        )[-1]
                timings, count = [], 0
                for _ in range(RUNS):
                    started = time.perf_counter()
                    result = repository.list_conversations(
                        session=session, user_id=user_id, limit=int(args["limit"]),  # type: ignore[call-overload]
                        offset=int(args.get("offset", 0)), after=after,  # type: ignore[call-overload]
                    )  # fmt: skip
                    timings.append((time.perf_counter() - started) * 1000)
                    count = len(result)
                timings.sort()
                print(
                    f"{name:<36} {statistics.median(timings):>10.2f} "
                    f"{timings[int(RUNS * 0.95) - 1]:>8.2f} {count:>5}"
                )
        engine.dispose()
    print("target: <= 5 ms per page query")


if __name__ == "__main__":
    main()
