"""The chat page's own cost: CPU of one run of the page by the number of messages on screen.

The real entry point runs under Streamlit's AppTest (in this process, so its CPU time is
the script's: our code, Streamlit's element building and the queries), signed in, on a
conversation of real turns (the offline model, answers with Markdown and their context
logs). For each number of visible messages it prints the CPU of a whole run of the page
(what a rerun costs: a click outside the conversation pane, a reload) and of one "Show
earlier" click (the pane's own rerun), median of several runs, then the top functions of
a profile of the whole run at the largest size.

Targets (issue 13): a run with 500 visible messages costs at most 1.5x one with 50, and
"Show earlier" costs what it draws, not what the page already had.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python bench/page_rerun.py [--sizes 50,500 --runs 7 --profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scratch_db import scratch_engine
from streamlit.runtime.scriptrunner import script_runner as script_runner_module
from streamlit.testing.v1 import AppTest

from chat.settings import get_settings
from pages.support import runtime
from tests.support.factories import PASSWORD, make_user

ENTRY_POINT = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
QUESTION = (
    "Turn {i}: could you list a few **ideas** for the project, with a short example?\n\n"
    "- keep it short\n- say why"
)


PROFILE: list[cProfile.Profile] = []  # when set, the next script run is profiled into it


def run_entry_point(main_script_path: str) -> None:
    """As tests/pages/conftest.py: rerun the entry point (the auth gate), as the server does.
    The script runs on AppTest's own thread, so a profile is taken here."""
    code = compile(Path(main_script_path).read_text(), main_script_path, "exec")
    scope = {"__name__": "__main__", "__file__": main_script_path}
    if PROFILE:
        PROFILE[0].runctx("exec(code, scope)", {"code": code, "scope": scope}, {})
    else:
        exec(code, scope)


def cpu_of(action: Callable[[], object]) -> float:
    started = time.process_time()
    action()
    return (time.process_time() - started) * 1000


def print_profile(profile: cProfile.Profile, lines: int) -> None:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(lines)
    print(out.getvalue())


def signed_in_app(username: str, conversation_id: str) -> AppTest:
    app = AppTest.from_file(ENTRY_POINT, default_timeout=120).run()
    fields: dict[str, Any] = {}
    for field in app.text_input:  # the login form's fields come first
        fields.setdefault(field.label, field)
    fields["Username"].input(username)
    fields["Password"].input(PASSWORD)
    next(button for button in app.button if button.label == "Log in").click()
    app.run()
    app.query_params["c"] = conversation_id
    return app.run()


def show_earlier(app: AppTest) -> bool:
    button = next((b for b in app.button if b.key == "show-earlier"), None)
    if button is None:
        return False
    button.click()
    app.run()
    return True


def visible(app: AppTest) -> int:
    """Messages on screen: drawn one by one, or together as earlier messages."""
    earlier = sum(
        element.proto.body.count('class="earlier-message ')
        for element in app.get("html")
        if hasattr(element, "proto")
    )
    return len(app.chat_message) + earlier


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="50,200,500")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print the top functions")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    script_runner_module._mpa_v1 = run_entry_point  # type: ignore[assignment]

    with scratch_engine() as engine, tempfile.TemporaryDirectory() as data_dir:
        os.environ.update(
            DATABASE_URL=engine.url.render_as_string(hide_password=False),
            DATA_DIR=data_dir,
            OFFLINE_TOKEN_DELAY="0",
            MESSAGES_PER_MINUTE="0",
            OPENAI_API_KEY="",
            CHAT_SECRETS_FILE=str(Path(data_dir) / "none.toml"),
            BCRYPT_ROUNDS="10",
        )
        get_settings.cache_clear()
        services = runtime.services()
        account = make_user(services)
        turns = max(sizes) // 2
        conversation_id = None
        for i in range(turns):
            turn = services.turns.send(
                user_id=account.id, conversation_id=conversation_id, text=QUESTION.format(i=i)
            )
            conversation_id = turn.conversation_id
            turn.wait(timeout=60)
        services.turns.drain(timeout=60)
        print(f"conversation of {turns * 2} messages (offline model), {args.runs} runs each\n")

        app = signed_in_app(account.username, str(conversation_id))
        rows = []
        profile_of_largest = None
        for size in sizes:
            while visible(app) < size and show_earlier(app):
                pass
            shown = visible(app)
            whole = [cpu_of(app.run) for _ in range(args.runs)]
            if args.profile and size == sizes[-1]:
                profile_of_largest = cProfile.Profile()
                PROFILE.append(profile_of_largest)
                app.run()
                PROFILE.clear()
            earlier = None
            if size < max(sizes):
                if args.profile:
                    PROFILE.append(cProfile.Profile())
                earlier = cpu_of(lambda: show_earlier(app))
                if args.profile:
                    print(f"Show earlier from {shown}:")
                    print_profile(PROFILE.pop(), 15)
            rows.append((shown, statistics.median(whole), min(whole), earlier))
        base = rows[0][1]
        header = ("visible", "page run ms CPU", "min", "x first", "show earlier ms")
        print("{:>8} {:>16} {:>7} {:>8} {:>16}".format(*header))
        for shown, median, least, earlier in rows:
            after = f"{earlier:16.0f}" if earlier is not None else f"{'-':>16}"
            print(f"{shown:>8} {median:16.0f} {least:7.0f} {median / base:8.2f} {after}")
        print("\ntarget: the page run at the largest size at most 1.5x the first")
        if profile_of_largest is not None:
            print(f"A run of the page at {rows[-1][0]} visible:")
            print_profile(profile_of_largest, 30)
        services.turns.drain(timeout=60)
        runtime.services.clear()


if __name__ == "__main__":
    main()
