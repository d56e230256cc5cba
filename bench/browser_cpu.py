"""Where a browser's time goes while a person chats: the page's main thread per turn.

One `streamlit run` of the real app (tests/support/app_server.py) on a scratch database, its
model the real ChatOpenAI against tests/support/openai_server.py at 20 ms per token. One
headless Chromium (Debian's) logs in and sends `--turns` questions to one conversation,
after two warm-up turns. Per turn: the CPU time of every Chromium process on the machine
(from /proc, so run it alone: the compositor, rasterizing and the browser process as well as
the page's main thread), and Chromium's own counters for the main thread (the DevTools
protocol's Performance domain): all tasks, JavaScript, layout and style. The profile below
runs meanwhile and adds to all of them: compare runs of this script with each other, not
with load_server.py. That sampling JavaScript profile gives the script time by where it
runs: React, Emotion (Streamlit's styling), the rest of Streamlit's frontend, the app's own
page script (pages/parts/chat_script.py), and Playwright's waiting, which is the
benchmark's and not the page's. Last, the messages the server sent the page per turn (read
off its websocket), by kind: each element drawn by a run, or redrawn while the answer
streams, is one, and the browser redraws what each one brings.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python bench/browser_cpu.py [--turns 12] [--page floor]

`--page floor` profiles bench/floor_page.py instead of the app (see bench/load_server.py).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from load_browser import PASSWORD, idle, log_in, submit
from load_check import print_table, question
from load_server import PAGES, browsers_cpu_seconds
from playwright.async_api import WebSocket, async_playwright
from scratch_db import app_env, scratch_engine
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from chat.services import build_services
from chat.settings import Settings
from tests.support.app_server import started_app
from tests.support.browser import CHROMIUM_ARGS, chromium_path
from tests.support.openai_server import FakeOpenAIServer

WARM_UP_TURNS = 2
MAIN_THREAD = {  # Chromium's counter: what it is
    "TaskDuration": "all tasks",
    "ScriptDuration": "JavaScript",
    "LayoutDuration": "layout",
    "RecalcStyleDuration": "style",
}
# Where script time runs, by the file (or the function) it runs in.
SOURCES = (
    ("React", ("react-dom",)),
    ("Emotion (styling)", ("emotion",)),
    ("Markdown", ("StreamlitMarkdown",)),
    ("the app's page script", ("addCopyButtons", "scrollToSearchResult")),
)


def source_of(frame: dict[str, Any]) -> str:
    where = f"{frame['url']} {frame['functionName']}"
    for name, marks in SOURCES:
        if any(mark in where for mark in marks):
            return name
    if frame["url"].startswith("http"):
        return "the rest of Streamlit's frontend"
    if frame["functionName"] in ("(idle)", "(program)", "(garbage collector)"):
        return frame["functionName"]
    return "Playwright's waiting, and the browser's own"


def message_kind(payload: bytes) -> str:
    """What a message from the server to the page is: an element or block by its type, or
    the message's own type (a run starting or ending, ...)."""
    message = ForwardMsg()
    message.ParseFromString(payload)
    kind = message.WhichOneof("type")
    if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
        return str(message.delta.new_element.WhichOneof("type"))
    if kind == "delta" and message.delta.WhichOneof("type") == "add_block":
        return f"{message.delta.add_block.WhichOneof('type')} (block)"
    return str(kind)


def script_time_by_source(profile: dict[str, Any]) -> Counter[str]:
    """Microseconds of self time by source, from a CDP Profiler profile."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    spent: Counter[str] = Counter()
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        spent[source_of(nodes[node_id]["callFrame"])] += delta
    return spent


async def profile_turns(base_url: str, username: str, turns: int) -> list[tuple[str, object]]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        received: Counter[str] = Counter()  # counted while the profiled turns run
        counting = False

        def count(payload: str | bytes) -> None:
            if counting and isinstance(payload, bytes):
                received[message_kind(payload)] += 1

        def watch(socket: WebSocket) -> None:
            socket.on("framereceived", count)

        page.on("websocket", watch)
        await log_in(page, base_url, username)
        devtools = await context.new_cdp_session(page)
        await devtools.send("Performance.enable")
        for turn in range(WARM_UP_TURNS):
            assert await submit(page, question(0, turn)), "the chat input did not take it"
            await idle(page)

        async def counters() -> dict[str, float]:
            metrics = (await devtools.send("Performance.getMetrics"))["metrics"]
            return {metric["name"]: metric["value"] for metric in metrics}

        await devtools.send("Profiler.enable")
        await devtools.send("Profiler.setSamplingInterval", {"interval": 200})
        before = await counters()
        chromium_before = browsers_cpu_seconds()
        await devtools.send("Profiler.start")
        counting = True
        for turn in range(WARM_UP_TURNS, WARM_UP_TURNS + turns):
            assert await submit(page, question(0, turn)), "the chat input did not take it"
            await page.wait_for_timeout(300)  # the answer under way before waiting for idle
            await idle(page)
        chromium_after = browsers_cpu_seconds()
        counting = False
        profile = (await devtools.send("Profiler.stop"))["profile"]
        after = await counters()
        await browser.close()
    chromium_ms = (chromium_after - chromium_before) * 1000 / turns
    rows: list[tuple[str, object]] = [
        ("CPU ms per turn, all of Chromium's processes (/proc)", f"{chromium_ms:.0f}"),
        *(
            (f"main thread ms per turn: {label}", f"{(after[k] - before[k]) * 1000 / turns:.0f}")
            for k, label in MAIN_THREAD.items()
        ),
    ]
    spent = script_time_by_source(profile)
    for name in [name for name, _ in SOURCES] + [
        "the rest of Streamlit's frontend",
        "Playwright's waiting, and the browser's own",
        "(program)",
        "(garbage collector)",
    ]:
        rows.append((f"profile ms per turn: {name}", f"{spent[name] / 1000 / turns:.1f}"))
    rows.append(("messages from the server per turn", f"{sum(received.values()) / turns:.1f}"))
    for kind, number in received.most_common(8):
        rows.append((f"  of them: {kind}", f"{number / turns:.1f}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--page", choices=sorted(PAGES), default="app")
    args = parser.parse_args()
    with (
        scratch_engine() as engine,
        FakeOpenAIServer(api_key="sk-bench", default_token_delay=0.02) as server,
        tempfile.TemporaryDirectory(prefix="browser-cpu-") as data_dir,
    ):
        url = engine.url.render_as_string(hide_password=False)
        settings = Settings(database_url=url, bcrypt_rounds=10, cookie_key="b" * 40)
        username = f"browser-{uuid.uuid4().hex[:6]}"
        build_services(settings, engine=engine).accounts.create(
            username=username, email=f"{username}@example.com", password=PASSWORD
        )
        env = {**app_env(url, data_dir, server.base_url), "TRUSTED_PROXIES": "127.0.0.1"}
        log_path = Path(data_dir) / "app.log"
        with started_app(env, log_path=log_path, script=PAGES[args.page]) as app:
            rows = asyncio.run(profile_turns(app.url, username, args.turns))
    print_table(
        f"one browser, the {args.page} page, {args.turns} turns in one conversation "
        f"(after {WARM_UP_TURNS}), model 20 ms/token",
        rows,
    )


if __name__ == "__main__":
    main()
