"""The operators' command line, as deployments and tests use it (a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy.engine import URL

ROOT = Path(__file__).resolve().parents[1]


def run_cli(
    database_url: URL, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chat", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "DATABASE_URL": database_url.render_as_string(hide_password=False),
            "BCRYPT_ROUNDS": "10",
            **env,
        },
    )


def test_create_list_and_set_password(database_url: URL) -> None:
    name = f"op-{uuid.uuid4().hex[:8]}"
    created = run_cli(
        database_url, "users", "create", name, "--email", f"{name}@example.com", "--admin",
        stdin="a perfectly fine password\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert f"created admin {name}" in created.stdout
    listed = run_cli(database_url, "users", "list")
    assert any(line.startswith(name) and " admin " in line for line in listed.stdout.splitlines())
    changed = run_cli(
        database_url, "users", "set-password", name, "--password-env", "NEWPW",
        NEWPW="another fine password",
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert "signed out" in changed.stdout


def test_bad_input_is_a_clear_error_not_a_traceback(database_url: URL) -> None:
    short = run_cli(database_url, "users", "create", "shorty", "--email", "s@example.com",
                    stdin="short\n")  # fmt: skip
    assert short.returncode == 1
    assert short.stderr.strip() == "error: Choose a password of at least 8 characters."
    missing = run_cli(database_url, "users", "set-password", "nobody-here", stdin="whatever123\n")
    assert missing.returncode == 1 and "No user called" in missing.stderr
    assert "Traceback" not in short.stderr + missing.stderr


def test_keys_create_list_revoke(database_url: URL) -> None:
    name = f"keys-{uuid.uuid4().hex[:8]}"
    run_cli(database_url, "users", "create", name, "--email", f"{name}@example.com",
            stdin="a perfectly fine password\n")  # fmt: skip
    created = run_cli(database_url, "keys", "create", name, "--name", "backup script")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("chat-") and " " not in key
    listed = run_cli(database_url, "keys", "list", name)
    (row,) = [line for line in listed.stdout.splitlines() if "backup script" in line]
    assert " active " in row and key[:12] in row and key not in listed.stdout
    revoked = run_cli(database_url, "keys", "revoke", name, row.split()[0][:8])
    assert revoked.returncode == 0, revoked.stderr
    assert " revoked " in run_cli(database_url, "keys", "list", name).stdout
    unknown = run_cli(database_url, "keys", "create", "nobody-at-all")
    assert unknown.returncode == 1 and "No user called" in unknown.stderr


def test_lab_replay_prints_one_json_object(database_url: URL, tmp_path: Path) -> None:
    transcript = tmp_path / "probe.jsonl"
    transcript.write_text(
        '{"user": "My cousin Mireille keeps bees in Provence.", "plants": "bees", "probe": null}\n'
        '{"user": "Give me three tips about sourdough.", "plants": null, "probe": null}\n'
        '{"user": "Where does Mireille keep her bees?", "plants": null, '
        '"probe": {"fact": "bees", "expect": "Provence"}}\n'
    )

    done = run_cli(database_url, "lab", "replay", str(transcript), "--json")

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    rows = {row["name"]: row for row in summary["strategies"]}
    assert list(rows) == ["full", "window", "budget", "summary", "summary_buffer", "recall"]
    for row in rows.values():
        assert set(row) == {
            "name", "params", "mean_tokens", "max_tokens", "recall_context", "recall_answer"
        }  # fmt: skip
        assert 0.0 <= row["recall_context"] <= 1.0 and row["max_tokens"] >= row["mean_tokens"]
    assert rows["full"]["recall_context"] == 1.0 and rows["full"]["recall_answer"] == 1.0
    assert rows["window"]["params"] == {"k": 10}


def test_lab_replay_refuses_a_malformed_file_with_a_sentence(
    database_url: URL, tmp_path: Path
) -> None:
    transcript = tmp_path / "bad.jsonl"
    transcript.write_text('{"user": "fine"}\nnot json\n')

    done = run_cli(database_url, "lab", "replay", str(transcript), "--json")
    missing = run_cli(database_url, "lab", "replay", str(tmp_path / "nope.jsonl"), "--json")

    assert done.returncode == 2 and done.stdout == ""
    assert "Line 2 is not valid JSON" in done.stderr and "Traceback" not in done.stderr
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_accounts_made_on_the_command_line_are_not_sign_ups(database_url: URL) -> None:
    """Operators' accounts do not count against the sign-ups allowed from an address."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from chat.storage.tables import AuthEvent

    name = f"operator-{uuid.uuid4().hex[:8]}"
    made = run_cli(database_url, "users", "create", name, "--email", f"{name}@example.com",
                   stdin="a perfectly fine password\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            kinds = session.scalars(select(AuthEvent.kind).where(AuthEvent.username == name)).all()
    finally:
        engine.dispose()
    assert list(kinds) == ["user_created"]


def test_account_and_key_commands_load_no_model_stack() -> None:
    """Operators' commands start in about a second: LangChain and the openai client (most
    of the app's start-up) are imported by the lab's replay only."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, chat.cli; print(' '.join(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert "chat.auth.store" in loaded
    assert not [name for name in loaded if name.startswith(("langchain", "openai", "chat.turn"))]
