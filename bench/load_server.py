"""Load at the server level: 8 people chatting in real browsers against one running app.

One `streamlit run` of the real app (tests/support/app_server.py) on a scratch database,
its model the real ChatOpenAI against tests/support/openai_server.py streaming at 20 ms per
token ("Echo: <question>", 12 to 42 chunks); the per-user message limit is raised out of the way.
One headless Chromium (Debian's) holds 8 browser contexts; each logs in as its own user and
chats in a loop for 2 minutes (a new conversation every 10 turns, so titles get named too).

What is measured:
- time to first token as the browser sees it: from the Enter keydown on the chat input to
  the first answer text in the DOM under that question, both stamped inside the page
  (a capture-phase key listener and a MutationObserver, so Playwright's polling adds no
  delay); p50/p95. Also the whole turn: Enter to the full answer on screen, page idle.
- errors: an exception or error box in the page after a turn, a JavaScript error, a send
  the chat input did not take, an answer that did not arrive in 60 s.
- lost messages, in the database afterwards: every question a browser submitted is stored
  once, followed by its complete echoed answer.
- peak DB connections of the app (pg_stat_activity, application_name chat-app), sampled
  every 20 ms; the app's pool is the default (5 + overflow 5).
- the app process's CPU time per completed turn (user + system, from /proc, sampled every
  0.5 s, counted from the moment every browser has logged in), and its resident memory
  before the browsers came and at the end, per browser session.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python bench/load_server.py [--users 8 --seconds 120 --token-delay 0.02]

`--page floor` runs bench/floor_page.py instead of the app: a bare Streamlit chat page on
the app's own services, the floor that Streamlit itself sets for the same browsers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from load_browser import ANSWER_TIMEOUT_MS, PAGE_CLOCKS, PASSWORD, idle, log_in, submit
from load_check import (
    check_stored,
    expected_answer,
    machine_load,
    p50_p95_ms,
    print_table,
    question,
)
from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import expect as expect_async
from scratch_db import app_env, scratch_engine
from sqlalchemy import Engine, text

from chat.services import build_services
from chat.settings import Settings
from tests.support.app_server import APP_SCRIPT, started_app
from tests.support.browser import CHROMIUM_ARGS, chromium_path
from tests.support.openai_server import FakeOpenAIServer
from tests.support.proxy import running_proxy

NEW_CHAT_EVERY = 10
PAGES = {"app": APP_SCRIPT, "floor": "bench/floor_page.py"}  # --page: the Streamlit script run


@dataclass
class Browsing:
    user: int
    artifacts: Path
    sent: list[str] = field(default_factory=list)
    first_token: list[float] = field(default_factory=list)
    turn: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


async def one_turn(page: Page, browsing: Browsing, number: int) -> None:
    asked = question(browsing.user, number)
    marker = asked.split(" ", 1)[0]
    await page.evaluate("(m) => { window.__watch = m; window.__firstAt = null; }", marker)
    if not await submit(page, asked):
        browsing.errors["send not taken"] += 1
        return
    browsing.sent.append(asked)
    try:
        await page.wait_for_function(
            "() => window.__firstAt !== null", polling=50, timeout=ANSWER_TIMEOUT_MS
        )
        entered, first = await page.evaluate("() => [window.__enterAt, window.__firstAt]")
        if entered is None:
            raise RuntimeError("the Enter key was not stamped")
        browsing.first_token.append((first - entered) / 1000)
        answer = page.get_by_test_id("stChatMessage").filter(has_text=expected_answer(asked))
        await expect_async(answer.first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
        await idle(page)
        done = await page.evaluate("() => performance.now()")
        browsing.turn.append((done - entered) / 1000)
    except Exception as exc:  # a timeout is the browser's view of a lost answer
        browsing.errors[f"no answer ({type(exc).__name__})"] += 1
        await page.screenshot(path=browsing.artifacts / f"{marker[:-1]}.png", full_page=True)
        await count_error_signs(page, browsing)
        await page.reload()
        return
    await count_error_signs(page, browsing)


async def count_error_signs(page: Page, browsing: Browsing) -> None:
    """Error boxes are redrawn by every run, so what is on screen now belongs to this turn;
    a toast outlives the run that raised it, so toasts are counted as they appear."""
    for kind, selector in (
        ("exception box", '[data-testid="stException"]'),
        ("error box", '[data-testid="stAlertContentError"]'),
    ):
        shown = await page.locator(selector).count()
        if shown:
            browsing.errors[kind] += shown
    toasts = await page.evaluate(
        "() => window.__toasts.splice(0).map((toast) => toast.textContent)"
    )
    for toast in toasts:
        browsing.errors[f"toast: {toast[:60]}"] += 1


async def new_chat(page: Page, browsing: Browsing) -> None:
    try:
        await idle(page)
        await page.get_by_role("button", name="New chat").click()
        await expect_async(page.get_by_role("heading", name="New chat")).to_be_visible(
            timeout=ANSWER_TIMEOUT_MS
        )
    except Exception as exc:
        browsing.errors[f"new chat did not open ({type(exc).__name__})"] += 1
        await page.screenshot(path=browsing.artifacts / f"u{browsing.user}-new-chat.png")
        await page.reload()


async def chat(
    browser: Browser, base_url: str, username: str, browsing: Browsing, start: Start
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_init_script(PAGE_CLOCKS)
    page = await context.new_page()
    page.on("pageerror", lambda error: browsing.errors.update(["javascript error"]))
    try:
        await log_in(page, base_url, username)
        until = await start.when_all_logged_in()
        number = 0
        while time.monotonic() < until:
            if number and number % NEW_CHAT_EVERY == 0:
                await new_chat(page, browsing)
            await one_turn(page, browsing, number)
            number += 1
    finally:
        await context.close()


class Start:
    """The chatting starts together, once every browser has logged in (logins are slow on a
    busy small machine and are not what this measures); the deadline only stops new turns."""

    def __init__(self, browsers: int, seconds: float) -> None:
        self.barrier = asyncio.Barrier(browsers)
        self.seconds = seconds
        self.at = 0.0

    async def when_all_logged_in(self) -> float:
        if await self.barrier.wait() == 0:
            self.at = time.monotonic()
        await self.barrier.wait()
        return self.at + self.seconds


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browsers_cpu_seconds() -> float:
    """CPU time so far of every Chromium process on the machine (the benchmark's browsers
    share the cores with the app: what they use is not the app's to use)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if "chrom" in (entry / "comm").read_text():
                total += cpu_seconds(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # ended meanwhile
    return total


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def watch_cpu(
    pids: list[int],
    stop: threading.Event,
    samples: list[tuple[float, float]],
    browser_samples: list[tuple[float, float]],
) -> None:
    while not stop.wait(0.5):
        samples.append((time.monotonic(), sum(cpu_seconds(pid) for pid in pids)))
        browser_samples.append((time.monotonic(), browsers_cpu_seconds()))


def cpu_at(samples: list[tuple[float, float]], moment: float) -> float:
    """CPU seconds of the sample nearest `moment`."""
    if not samples:
        return 0.0
    return min(samples, key=lambda sample: abs(sample[0] - moment))[1]


def cpu_since(samples: list[tuple[float, float]], since: float) -> float:
    """CPU seconds from the sample nearest `since` to the last one."""
    if not samples:
        return 0.0
    first = min(samples, key=lambda sample: abs(sample[0] - since))
    return samples[-1][1] - first[1]


async def drive(
    base_url: str, names: list[str], seconds: float, artifacts: Path
) -> tuple[list[Browsing], float, float]:
    runs = [Browsing(user=n, artifacts=artifacts) for n in range(len(names))]
    start = Start(len(names), seconds)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        try:
            pairs = zip(names, runs, strict=True)
            await asyncio.gather(*(chat(browser, base_url, n, run, start) for n, run in pairs))
        finally:
            await browser.close()
    return runs, time.monotonic() - start.at, start.at


def watch_connections(engine: Engine, stop: threading.Event, peak: list[int]) -> None:
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = 'chat-app'"
    )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        while not stop.wait(0.02):
            peak[0] = max(peak[0], connection.execute(query).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--token-delay", type=float, default=0.02)
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="app processes; more than one run behind deploy/nginx.conf (Debian's nginx)",
    )
    parser.add_argument(
        "--page",
        choices=sorted(PAGES),
        default="app",
        help="what the browsers chat with: the app, or the floor (bench/floor_page.py)",
    )
    args = parser.parse_args()
    with (
        scratch_engine() as engine,
        FakeOpenAIServer(api_key="sk-bench", default_token_delay=args.token_delay) as server,
    ):
        data_dir = tempfile.mkdtemp(prefix="load-server-")
        url = engine.url.render_as_string(hide_password=False)
        settings = Settings(database_url=url, bcrypt_rounds=10, cookie_key="b" * 40)
        accounts = build_services(settings, engine=engine).accounts
        tag = uuid.uuid4().hex[:6]
        usernames = [f"load-{tag}-{n}" for n in range(args.users)]
        users = [
            accounts.create(username=name, email=f"{name}@example.com", password=PASSWORD).id
            for name in usernames
        ]
        env = {**app_env(url, data_dir, server.base_url), "TRUSTED_PROXIES": "127.0.0.1"}
        stop, peak = threading.Event(), [0]
        samples: list[tuple[float, float]] = []
        browser_samples: list[tuple[float, float]] = []
        with ExitStack() as stack:
            apps = []
            for n in range(args.replicas):  # each with its own data directory
                own = Path(data_dir) / f"app{n}"
                own.mkdir()
                apps.append(
                    stack.enter_context(
                        started_app(
                            {**env, "DATA_DIR": str(own)},
                            log_path=own / "app.log",
                            script=PAGES[args.page],
                        )
                    )
                )
            pids = [app.process.pid for app in apps]
            base_url = apps[0].url
            if args.replicas > 1:
                replicas = [urlsplit(app.url).netloc for app in apps]
                base_url = stack.enter_context(
                    running_proxy(replicas, workdir=Path(data_dir) / "nginx")
                )
            watchers = [
                threading.Thread(target=watch_connections, args=(engine, stop, peak)),
                threading.Thread(target=watch_cpu, args=(pids, stop, samples, browser_samples)),
            ]
            rss_before = sum(resident_mb(pid) for pid in pids)
            for watcher in watchers:
                watcher.start()
            try:
                runs, wall, chatting_from = asyncio.run(
                    drive(base_url, usernames, args.seconds, Path(data_dir))
                )
            finally:
                stop.set()
                for watcher in watchers:
                    watcher.join()
            rss_after = sum(resident_mb(pid) for pid in pids)
            cpu = cpu_since(samples, chatting_from)
            # the browsers are closed before the last samples: their highest total counts
            browsers_cpu = max((value for _, value in browser_samples), default=0.0) - cpu_at(
                browser_samples, chatting_from
            )
            load = machine_load()
        stored = check_stored(engine, {users[r.user]: r.sent for r in runs})
    errors = sum((r.errors for r in runs), Counter())
    if errors or stored.lost:
        print(f"The app's log and screenshots of failed turns are kept in {data_dir}")
    else:
        shutil.rmtree(data_dir)
    first = [s for r in runs for s in r.first_token]
    turns = [s for r in runs for s in r.turn]
    print_table(
        f"server level: {args.users} browsers, {args.replicas} process(es) of the {args.page}"
        f"{' behind nginx' if args.replicas > 1 else ''}, {args.seconds:.0f} s of chatting, model"
        f" {args.token_delay * 1000:.0f} ms/token",
        [
            ("turns completed", len(turns)),
            ("wall s (after the logins)", f"{wall:.1f}"),
            ("turns/s", f"{len(turns) / wall:.2f}"),
            (
                "app CPU per turn ms (all threads of the app processes)",
                f"{cpu * 1000 / max(1, len(turns)):.0f}",
            ),
            (
                "the browsers' CPU per turn ms (same cores)",
                f"{browsers_cpu * 1000 / max(1, len(turns)):.0f}",
            ),
            ("app resident MB before / after", f"{rss_before:.0f} / {rss_after:.0f}"),
            ("resident MB per browser session", f"{(rss_after - rss_before) / args.users:.1f}"),
            ("errors", f"{sum(errors.values())} {dict(errors) or ''}".strip()),
            ("time to first token p50 / p95 ms", p50_p95_ms(first)),
            ("turn (enter to answer, idle) p50 / p95 ms", p50_p95_ms(turns)),
            ("peak DB connections (pg_stat_activity)", peak[0]),
            *stored.table_rows(),
            ("machine load", load),
        ],
    )


if __name__ == "__main__":
    main()
