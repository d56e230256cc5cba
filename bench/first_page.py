"""The first page: how long a person waits for the app after it starts, and after logging in.

(a) Start-up, --starts times: the real app (`streamlit run asgi.py`, as scripts/app and the
    browser tests start it; tests/support/app_server.py) on a scratch database that is
    already migrated (a restart, not a first install), with the offline model. The clock
    starts as the process is spawned. Measured: the first 200 from /api/health (the database
    reached through the app's services; polled every 20 ms on its own thread), and the login
    form visible, then idle (ready for typing), in Chromium: a browser already running opens
    the page as soon as the server accepts connections.
(b) Login to chat, --logins times against one running app, each in a fresh browser context
    (after one login not counted, the app's first): the login form filled, then the clock
    starts at Enter, stamped inside the page (a capture-phase key listener), and stops when
    the chat page's message box is on the page, then when the app is idle with it (no script
    running, connected), both stamped inside the page by a MutationObserver, so Playwright's
    polling adds nothing. Signing in includes the page's one reload (the server sets the
    remember-me cookie, pages/parts/finish_sign_in.py). Passwords are hashed at bcrypt cost
    --bcrypt-rounds (12, the app's default): checking one is part of what the user waits for.

Prints the median and p95 of each (milliseconds), with the machine's load.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python bench/first_page.py [--starts 5 --logins 10 --bcrypt-rounds 12]
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from load_check import machine_load, percentile
from playwright.sync_api import Browser, Locator, Page, sync_playwright
from scratch_db import scratch_engine

from chat.services import build_services
from chat.settings import Settings
from tests.support.app_server import free_port, offline_env, start_app_process, started_app
from tests.support.browser import CHROMIUM_ARGS, chromium_path, wait_idle

USERNAME = "first-page"
PASSWORD = "a first page password"
TIMEOUT_S = 120.0
# Stamped inside the page, in milliseconds since the epoch (performance.timeOrigin + now()):
# Enter on the login form, the signed-in page's load, the message box on the page, then the
# app idle with it.
# Signing in reloads the page once (the cookie exchange), so Enter's stamp is carried to the
# next document in sessionStorage.
LOGIN_CLOCKS = """
const now = () => performance.timeOrigin + performance.now();
window.__boxAt = null; window.__idleAt = null;
window.__loadedAt = sessionStorage.getItem('enterAt') ? performance.timeOrigin : null;
document.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !sessionStorage.getItem('enterAt'))
    sessionStorage.setItem('enterAt', String(now()));
}, true);
const stamp = () => {
  if (!sessionStorage.getItem('enterAt') || window.__idleAt !== null) return;
  const box = document.querySelector('[data-testid="stChatInputTextArea"]');
  if (!box || box.getBoundingClientRect().height === 0) return;
  if (window.__boxAt === null) window.__boxAt = now();
  const app = document.querySelector('[data-testid="stApp"]');
  if (app.getAttribute('data-test-script-state') === 'notRunning'
      && app.getAttribute('data-test-connection-state') === 'CONNECTED')
    window.__idleAt = now();
};
new MutationObserver(stamp).observe(document, {subtree: true, childList: true,
  attributes: true, attributeFilter: ['data-test-script-state', 'data-test-connection-state']});
"""


def login_form(page: Page) -> Locator:
    return page.get_by_test_id("stForm").filter(has_text="Log in").first


def accepting(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def first_health(
    base: str, started: float, result: dict[str, float], stop: threading.Event
) -> None:
    """Seconds from `started` to the first 200 from /api/health, into result["health"]."""
    while not stop.is_set():
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=5) as answer:
                if answer.status == 200:
                    result["health"] = time.monotonic() - started
                    return
        except OSError:
            pass
        time.sleep(0.02)


def one_start(browser: Browser, env: dict[str, str], log_path: Path) -> dict[str, float]:
    """Start the app once; seconds from spawning it to each milestone."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    result: dict[str, float] = {}
    stop = threading.Event()
    with open(log_path, "ab") as log:
        started = time.monotonic()
        process = start_app_process(port, env, log)
        health = threading.Thread(target=first_health, args=(base, started, result, stop))
        health.start()
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            while not accepting(port):
                if process.poll() is not None or time.monotonic() - started > TIMEOUT_S:
                    raise RuntimeError(f"the app did not start; see {log_path}")
                time.sleep(0.02)
            result["listening"] = time.monotonic() - started
            page = context.new_page()
            page.goto(base, timeout=TIMEOUT_S * 1000)
            login_form(page).wait_for(timeout=TIMEOUT_S * 1000)
            result["form"] = time.monotonic() - started
            wait_idle(page, timeout=TIMEOUT_S * 1000)
            result["form_idle"] = time.monotonic() - started
            health.join(timeout=TIMEOUT_S)
        finally:
            stop.set()
            context.close()
            process.terminate()
            process.wait(timeout=30)
    if "health" not in result:
        raise RuntimeError(f"/api/health never answered 200; see {log_path}")
    return result


def one_login(browser: Browser, base: str) -> dict[str, float]:
    """Log in once in a fresh context; seconds from Enter to the box, and to idle with it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page: Page = context.new_page()
        page.add_init_script(LOGIN_CLOCKS)
        page.goto(base)
        form = login_form(page)
        form.wait_for(timeout=TIMEOUT_S * 1000)
        wait_idle(page)
        form.get_by_label("Username").fill(USERNAME)
        password = form.get_by_label("Password", exact=True)
        password.fill(PASSWORD)
        password.press("Enter")
        page.wait_for_function("window.__idleAt !== null", timeout=TIMEOUT_S * 1000)
        stamps = page.evaluate(
            "[Number(sessionStorage.getItem('enterAt')), window.__loadedAt, window.__boxAt,"
            " window.__idleAt]"
        )
        enter, loaded, box, idle = (float(stamp or "nan") for stamp in stamps)
        return {
            "reload": (loaded - enter) / 1000,
            "box": (box - enter) / 1000,
            "idle": (idle - enter) / 1000,
        }
    finally:
        context.close()


def table(title: str, rows: list[tuple[str, list[float]]]) -> None:
    """Milliseconds: median, p95 (nearest rank), min and max of each row's seconds."""
    print(f"\n{title}")
    print(f"{'ms':<44}{'median':>8}{'p95':>8}{'min':>8}{'max':>8}")
    for label, seconds in rows:
        ms = [value * 1000 for value in seconds]
        print(
            f"{label:<44}{percentile(ms, 0.5):8.0f}{percentile(ms, 0.95):8.0f}"
            f"{min(ms):8.0f}{max(ms):8.0f}   n={len(ms)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--logins", type=int, default=10)
    parser.add_argument("--bcrypt-rounds", type=int, default=12)
    args = parser.parse_args()

    with (
        scratch_engine() as engine,
        tempfile.TemporaryDirectory(prefix="first-page-") as folder,
        sync_playwright() as playwright,
    ):
        settings = Settings(
            database_url="postgresql://unused",  # the engine is handed in
            cookie_key="f" * 48,
            bcrypt_rounds=args.bcrypt_rounds,
        )
        build_services(settings, engine=engine).accounts.create(
            username=USERNAME, email="first-page@example.com", password=PASSWORD
        )
        env = offline_env(engine.url, Path(folder))
        env["BCRYPT_ROUNDS"] = str(args.bcrypt_rounds)
        log_path = Path(folder) / "app.log"
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        starts = [one_start(browser, env, log_path) for _ in range(args.starts)]
        with started_app(env, log_path=log_path) as app:
            one_login(browser, app.url)  # the app's first: services built, caches warm
            logins = [one_login(browser, app.url) for _ in range(args.logins)]
        browser.close()

    table(
        "Start-up: from spawning `streamlit run asgi.py` to",
        [
            ("the port accepting connections", [s["listening"] for s in starts]),
            ("/api/health answering 200", [s["health"] for s in starts]),
            ("the login form visible in Chromium", [s["form"] for s in starts]),
            ("the login form idle (ready for typing)", [s["form_idle"] for s in starts]),
        ],
    )
    table(
        f"Login to chat (bcrypt cost {args.bcrypt_rounds}): from Enter on the login form to",
        [
            ("the signed-in page loading (cookie set)", [run["reload"] for run in logins]),
            ("the message box on the page", [run["box"] for run in logins]),
            ("the chat page idle with it", [run["idle"] for run in logins]),
        ],
    )
    print(f"\nmachine: {machine_load()}")


if __name__ == "__main__":
    main()
