"""The HTTP API under load: turns/s, and its own overhead to first token beside the page's.

One `streamlit run asgi.py` of the real app (tests/support/app_server.py) on a scratch
database; its model is the real ChatOpenAI against tests/support/openai_server.py streaming
"Echo: <question>" at 20 ms per token (12 to 42 chunks); the per-user message limit is
raised out of the way. Each client has its own user and API key.

1. Time to first token, one turn at a time (--turns per path, each path in one
   conversation, the first turn a warm-up), from the client's call to the first answer
   text it receives:
   - the model server alone (the openai client straight to it): what the model costs;
   - POST /api/v1/chat/completions, stream=true, through the official openai client;
   - POST /api/chat/stream (server-sent events, httpx);
   - the page, in headless Chromium: Enter keydown to the first answer text in the DOM,
     both stamped inside the page (bench/load_browser.py); --no-browser skips it.
   The overhead is each path's p50 minus the model server's own p50.
2. Throughput: --clients openai clients at once, non-streaming, for --seconds (a new
   conversation every 10 turns): turns/s, latency, errors, the app process's CPU per turn
   (from /proc), and the database afterwards: every question stored once with its
   complete answer.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python bench/api_load.py [--turns 20 --clients 8 --seconds 30 --token-delay 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import openai
from load_browser import ANSWER_TIMEOUT_MS, PAGE_CLOCKS, PASSWORD, idle, log_in, submit
from load_check import (
    check_stored,
    expected_answer,
    machine_load,
    p50_p95_ms,
    percentile,
    print_table,
    question,
)
from openai import OpenAI
from playwright.async_api import async_playwright
from playwright.async_api import expect as expect_async
from scratch_db import app_env, scratch_engine

from chat.services import build_services
from chat.settings import Settings
from tests.support.app_server import started_app
from tests.support.browser import CHROMIUM_ARGS, chromium_path
from tests.support.openai_server import FakeOpenAIServer

MODEL = "test-model"
NEW_CONVERSATION_EVERY = 10


def first_token_model_alone(server: FakeOpenAIServer, turns: int) -> list[float]:
    client = OpenAI(base_url=server.base_url, api_key="sk-bench", max_retries=0)
    firsts = []
    for number in range(turns):
        started = time.perf_counter()
        stream = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": question(90, number)}], stream=True
        )
        first = None
        for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
        firsts.append(first or float("nan"))
    return firsts


def first_token_openai(api: str, key: str, turns: int) -> list[float]:
    client = OpenAI(base_url=f"{api}/v1", api_key=key, max_retries=0, timeout=60)
    firsts, conversation = [], None
    for number in range(turns):
        started = time.perf_counter()
        stream = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": question(91, number)}],
            stream=True,
            extra_body={"conversation_id": conversation} if conversation else None,
        )
        first = None
        for chunk in stream:
            conversation = chunk.model_extra["conversation_id"]  # type: ignore[index]
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
        firsts.append(first or float("nan"))
    return firsts


def first_token_sse(api: str, key: str, turns: int) -> list[float]:
    firsts, conversation = [], None
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        for number in range(turns):
            body = {"message": question(92, number), "conversation_id": conversation}
            started = time.perf_counter()
            first = None
            with http.stream("POST", f"{api}/chat/stream", json=body) as answer:
                for line in answer.iter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    event = json.loads(line[6:])
                    conversation = event.get("conversation_id", conversation)
                    if first is None and event.get("token"):
                        first = time.perf_counter() - started
            firsts.append(first or float("nan"))
    return firsts


async def first_token_page(base_url: str, username: str, turns: int) -> list[float]:
    firsts = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        await context.add_init_script(PAGE_CLOCKS)
        page = await context.new_page()
        await log_in(page, base_url, username)
        for number in range(turns):
            asked = question(93, number)
            marker = asked.split(" ", 1)[0]
            await page.evaluate("(m) => { window.__watch = m; window.__firstAt = null; }", marker)
            if not await submit(page, asked):
                firsts.append(float("nan"))
                continue
            await page.wait_for_function(
                "() => window.__firstAt !== null", polling=20, timeout=ANSWER_TIMEOUT_MS
            )
            entered, first = await page.evaluate("() => [window.__enterAt, window.__firstAt]")
            firsts.append((first - entered) / 1000)
            answer = page.get_by_test_id("stChatMessage").filter(has_text=expected_answer(asked))
            await expect_async(answer.first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
            await idle(page)
        await browser.close()
    return firsts


def throughput(
    api: str, keys: list[str], seconds: float
) -> tuple[list[list[str]], list[float], Counter[str], float]:
    sent: list[list[str]] = [[] for _ in keys]
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    until = time.monotonic() + seconds

    def client_loop(user: int) -> None:
        client = OpenAI(base_url=f"{api}/v1", api_key=keys[user], max_retries=0, timeout=60)
        conversation, number = None, 0
        while time.monotonic() < until:
            if number % NEW_CONVERSATION_EVERY == 0:
                conversation = None
            asked = question(user, number)
            number += 1
            started = time.perf_counter()
            try:
                done = client.chat.completions.create(
                    model=MODEL,
                    messages=[{"role": "user", "content": asked}],
                    extra_body={"conversation_id": conversation} if conversation else None,
                )
            except openai.APIError as exc:
                with lock:
                    errors[type(exc).__name__] += 1
                continue
            finally:
                sent[user].append(asked)
            elapsed = time.perf_counter() - started
            conversation = done.model_extra["conversation_id"]  # type: ignore[index]
            with lock:
                latencies.append(elapsed)
                if done.choices[0].message.content != expected_answer(asked):
                    errors["wrong answer"] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(len(keys))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent, latencies, errors, time.monotonic() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its finished children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def overhead(firsts: list[float], model: list[float]) -> str:
    return f"{(percentile(firsts, 0.5) - percentile(model, 0.5)) * 1000:+.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=21)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--token-delay", type=float, default=0.02)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    with (
        scratch_engine() as engine,
        FakeOpenAIServer(api_key="sk-bench", default_token_delay=args.token_delay) as server,
    ):
        data_dir = tempfile.mkdtemp(prefix="api-load-")
        url = engine.url.render_as_string(hide_password=False)
        settings = Settings(database_url=url, bcrypt_rounds=10, cookie_key="b" * 40)
        services = build_services(settings, engine=engine)
        tag = uuid.uuid4().hex[:6]

        def user_with_key(name: str) -> tuple[uuid.UUID, str, str]:
            account = services.accounts.create(
                username=name, email=f"{name}@example.com", password=PASSWORD
            )
            return (
                account.id,
                account.username,
                services.api_keys.create(user_id=account.id, name="bench").key,
            )

        solo = user_with_key(f"api-{tag}-solo")
        page_user = user_with_key(f"api-{tag}-page")
        crowd = [user_with_key(f"api-{tag}-{n}") for n in range(args.clients)]
        env = app_env(url, data_dir, server.base_url)
        with started_app(env, log_path=Path(data_dir) / "app.log") as app:
            api = f"{app.url}/api"
            paths: list[tuple[str, Callable[[], list[float]]]] = [
                ("model server alone", lambda: first_token_model_alone(server, args.turns)),
                ("API /v1/chat/completions (openai, stream)",
                 lambda: first_token_openai(api, solo[2], args.turns)),
                ("API /chat/stream (SSE)", lambda: first_token_sse(api, solo[2], args.turns)),
            ]  # fmt: skip
            if not args.no_browser:
                paths.append(
                    ("page (Chromium, Enter to first text)",
                     lambda: asyncio.run(first_token_page(app.url, page_user[1], args.turns))),
                )  # fmt: skip
            httpx.get(f"{api}/health", timeout=60).raise_for_status()  # services built
            # The first turn of each path warms it up (connections, caches): not counted.
            firsts = {name: measure()[1:] for name, measure in paths}
            cpu_before = cpu_seconds(app.process.pid)
            sent, latencies, errors, wall = throughput(api, [k for _, _, k in crowd], args.seconds)
            cpu = cpu_seconds(app.process.pid) - cpu_before
            load = machine_load()
        stored = check_stored(engine, {crowd[n][0]: sent[n] for n in range(len(crowd))})
        services.close()
    model = firsts["model server alone"]
    print_table(
        f"first token, one turn at a time ({args.turns} turns per path; model"
        f" {args.token_delay * 1000:.0f} ms/token): p50 / p95 ms, overhead = p50 - model's p50",
        [(name, f"{p50_p95_ms(values)}   overhead {overhead(values, model)} ms")
         for name, values in firsts.items()],
    )  # fmt: skip
    print_table(
        f"API throughput: {args.clients} openai clients at once, non-streaming,"
        f" {args.seconds:.0f} s",
        [
            ("turns completed", len(latencies)),
            ("turns/s", f"{len(latencies) / wall:.2f}"),
            ("turn latency p50 / p95 ms", p50_p95_ms(latencies)),
            ("errors", f"{sum(errors.values())} {dict(errors) or ''}".strip()),
            ("app CPU per turn ms", f"{cpu / max(1, len(latencies)) * 1000:.1f}"),
            *stored.table_rows(),
            ("machine load", load),
        ],
    )
    print(f"\nThe app's log: {data_dir}/app.log")


if __name__ == "__main__":
    main()
