"""Time to first token through the whole app path, against a local OpenAI-compatible server.

A turn as the chat page runs it (TurnEngine.send: ownership check, question and placeholder
stored, RunnableWithMessageHistory with the Postgres history, the real ChatOpenAI client,
streaming) against tests/support/openai_server.py on 127.0.0.1. The server answers at once
or at 20 ms per token; first token is measured from the call to send() to the first chunk.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python bench/time_to_first_token.py
"""

from __future__ import annotations

import statistics
import time

from scratch_db import endpoint_settings, scratch_engine

from chat.services import build_services
from chat.storage.db import session_factory
from tests.support.openai_server import FakeOpenAIServer

TURNS = 40


def main() -> None:
    print(
        f"{'server delay/token':>18} {'turns':>6} {'ttft p50 ms':>12} {'ttft p95 ms':>12} "
        f"{'total p50 ms':>13}"
    )
    with scratch_engine() as engine:
        for delay in (0.0, 0.02):
            with FakeOpenAIServer(api_key="sk-bench", default_token_delay=delay) as server:
                settings = endpoint_settings(
                    server.base_url,
                    model_max_retries=0,
                    messages_per_minute=0,
                )
                services = build_services(settings, engine=engine, sessions=session_factory(engine))
                user = services.accounts.create(
                    username=f"bench-{int(delay * 1000)}-{time.time_ns() % 10**6}",
                    email="bench@example.com",
                    password="a bench password",
                )
                conversation_id = None
                firsts, totals = [], []
                for index in range(TURNS):
                    started = time.perf_counter()
                    turn = services.turns.send(
                        user_id=user.id,
                        conversation_id=conversation_id,
                        text=f"Question number {index}: tell me something short.",
                    )
                    first = None
                    for _chunk in turn.stream():
                        if first is None:
                            first = time.perf_counter() - started
                    totals.append(time.perf_counter() - started)
                    firsts.append(first or 0.0)
                    turn.wait(30)  # the after-answer work, before the next question
                    conversation_id = turn.conversation_id
                firsts.sort()
                print(
                    f"{delay * 1000:>16.0f}ms {TURNS:>6} {statistics.median(firsts) * 1000:>12.1f} "
                    f"{firsts[int(len(firsts) * 0.95) - 1] * 1000:>12.1f} "
                    f"{statistics.median(totals) * 1000:>13.1f}"
                )


if __name__ == "__main__":
    main()
