"""Operators' command line: `python -m chat users create|list|set-password`, `migrate`,
`lab replay FILE.jsonl [--json]`.

Uses the same settings and database as the app. Passwords come from standard input (one
line) or from an environment variable named with --password-env, never from argv.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from chat.errors import ChatError, InvalidInput
from chat.services import build_services
from chat.settings import get_settings


def _read_password(env_var: str | None) -> str:
    if env_var:
        value = os.environ.get(env_var)
        if value is None:
            raise ChatError(f"Environment variable {env_var} is not set.")
        return value
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != first:
            raise ChatError("The passwords do not match.")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m chat", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations")
    users = commands.add_parser("users", help="manage user accounts").add_subparsers(
        dest="action", required=True
    )
    create = users.add_parser("create", help="create a user")
    create.add_argument("username")
    create.add_argument("--email", required=True)
    create.add_argument("--name", default="", help="display name (default: the username)")
    create.add_argument("--admin", action="store_true", help="give the admin role")
    create.add_argument("--password-env", metavar="VAR", help="read the password from $VAR")
    users.add_parser("list", help="list users")
    set_password = users.add_parser("set-password", help="set a new password")
    set_password.add_argument("username")
    set_password.add_argument("--password-env", metavar="VAR")
    lab = commands.add_parser("lab", help="the memory lab").add_subparsers(
        dest="action", required=True
    )
    replay = lab.add_parser(
        "replay",
        help="replay a JSONL transcript under every memory strategy with the offline model",
    )
    replay.add_argument("file", type=Path, help='one {"user": ..., "probe": ...} per line')
    replay.add_argument("--json", action="store_true", help="print one JSON object")
    replay.add_argument(
        "--user-memory", action="store_true", help="with the user's memory on, as in the chat"
    )
    return root


def _lab_replay(args: argparse.Namespace) -> int:
    """The lab's replay from the command line; a file it cannot read is exit status 2."""
    from chat.conversations import lab

    settings = get_settings()
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}.", file=sys.stderr)
        return 2
    try:
        turns = lab.parse_transcript(data, max_chars=settings.max_message_chars)
    except InvalidInput as exc:
        print(f"error: {args.file}: {exc.user_message}", file=sys.stderr)
        return 2
    services = build_services(settings)
    runs = lab.replay(
        sessions=services.sessions,
        settings=settings,
        turns=turns,
        owner="command line",
        user_memory=args.user_memory,
    )
    summary = lab.summary_json(runs)
    if args.json:
        print(json.dumps(summary))
        return 0
    print(
        f"{'strategy':<16}{'mean tokens':>12}{'max tokens':>12}{'in context':>12}{'answered':>10}"
    )
    for row in summary["strategies"]:
        context, answer = row["recall_context"], row["recall_answer"]
        print(
            f"{row['name']:<16}{row['mean_tokens']:>12.0f}{row['max_tokens']:>12}"
            f"{'–' if context is None else f'{context:.0%}':>12}"
            f"{'–' if answer is None else f'{answer:.0%}':>10}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "lab":
            return _lab_replay(args)
        services = build_services(get_settings())
        if args.command == "migrate":
            print("database is at the latest schema")
        elif args.action == "create":
            account = services.accounts.create(
                username=args.username,
                email=args.email,
                password=_read_password(args.password_env),
                display_name=args.name,
                role="admin" if args.admin else "user",
            )
            print(f"created {account.role} {account.username}")
        elif args.action == "list":
            print(f"{'username':<24} {'role':<6} {'status':<9} {'created':<20} email")
            for account in services.accounts.list():
                status = "disabled" if account.disabled else "active"
                created = f"{account.created_at:%Y-%m-%d %H:%M}"
                print(
                    f"{account.username:<24} {account.role:<6} {status:<9} {created:<20} "
                    f"{account.email}"
                )
        elif args.action == "set-password":
            services.accounts.set_password(
                username=args.username, password=_read_password(args.password_env)
            )
            print(f"password changed for {args.username}; their sessions were signed out")
    except ChatError as exc:
        print(f"error: {exc.user_message}", file=sys.stderr)
        return 1
    return 0
