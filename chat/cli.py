"""Operators' command line: `python -m chat users create|list|set-password`,
`keys create|list|revoke` (API keys), `lab replay FILE.jsonl [--json]`, `migrate`.

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

from chat.auth.store import AccountStore, open_account_store
from chat.errors import ChatError, InvalidInput
from chat.settings import get_settings
from chat.storage.db import stop_embedded_database


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
    commands.add_parser(
        "stop-embedded-db", help="stop the embedded PostgreSQL under DATA_DIR (if running)"
    )
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
    keys = commands.add_parser("keys", help="manage users' API keys").add_subparsers(
        dest="action", required=True
    )
    key_create = keys.add_parser("create", help="create a key (printed once, on the last line)")
    key_create.add_argument("username")
    key_create.add_argument("--name", default="", help="what the key is for (default: cli)")
    key_list = keys.add_parser("list", help="list a user's keys")
    key_list.add_argument("username")
    key_revoke = keys.add_parser("revoke", help="revoke a key (id or prefix, from keys list)")
    key_revoke.add_argument("username")
    key_revoke.add_argument("key", help="the key's id, or the start of it as listed")
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


def _keys(store: AccountStore, args: argparse.Namespace) -> None:
    account = store.accounts.get(username=args.username)
    if account is None:
        raise ChatError(f"No user called {args.username!r}.")
    if args.action == "create":
        created = store.api_keys.create(user_id=account.id, name=args.name or "cli")
        print(f"created API key {created.info.name!r} for {account.username}; it is shown once:")
        print(created.key)
    elif args.action == "list":
        print(f"{'id':<36} {'name':<24} {'key':<13} {'status':<8} {'created':<17} last used")
        for key in store.api_keys.list(user_id=account.id):
            status = "active" if key.active else "revoked"
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
            print(
                f"{key.id!s:<36} {key.name:<24} {key.prefix + '…':<13} {status:<8} "
                f"{key.created_at:%Y-%m-%d %H:%M} {used}"
            )
    else:
        wanted = args.key.strip().lower()
        matches = [
            key
            for key in store.api_keys.list(user_id=account.id)
            if str(key.id).startswith(wanted)
            or (len(wanted) >= 8 and key.prefix.lower().startswith(wanted))
        ]
        if len(matches) != 1:
            raise ChatError(
                f"{'No' if not matches else 'More than one'} key of {account.username} matches "
                f"{args.key!r}; use the id from 'keys list'."
            )
        store.api_keys.revoke(user_id=account.id, key_id=matches[0].id)
        print(f"revoked API key {matches[0].name!r} of {account.username}")


def _lab_replay(args: argparse.Namespace) -> int:
    """The lab's replay from the command line; a file it cannot read is exit status 2."""
    from chat.conversations import lab
    from chat.services import build_services  # the model stack: only the lab needs it

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
    if args.command == "stop-embedded-db":
        try:
            settings = get_settings()
            stopped = not settings.database_url and stop_embedded_database(settings.data_dir)
        except ChatError as exc:
            print(f"error: {exc.user_message}", file=sys.stderr)
            return 1
        print("embedded PostgreSQL stopped" if stopped else "no embedded PostgreSQL running")
        return 0
    try:
        if args.command == "lab":
            return _lab_replay(args)
        store = open_account_store(get_settings())
        if args.command == "migrate":
            print("database is at the latest schema")
        elif args.command == "keys":
            _keys(store, args)
        elif args.action == "create":
            account = store.accounts.create(
                username=args.username,
                email=args.email,
                password=_read_password(args.password_env),
                display_name=args.name,
                role="admin" if args.admin else "user",
                actor="command line",  # an operator's account, not a sign-up
            )
            print(f"created {account.role} {account.username}")
        elif args.action == "list":
            print(f"{'username':<24} {'role':<6} {'status':<9} {'created':<20} email")
            for account in store.accounts.list():
                status = "disabled" if account.disabled else "active"
                created = f"{account.created_at:%Y-%m-%d %H:%M}"
                print(
                    f"{account.username:<24} {account.role:<6} {status:<9} {created:<20} "
                    f"{account.email}"
                )
        elif args.action == "set-password":
            store.accounts.set_password(
                username=args.username, password=_read_password(args.password_env)
            )
            print(f"password changed for {args.username}; their sessions were signed out")
    except ChatError as exc:
        print(f"error: {exc.user_message}", file=sys.stderr)
        return 1
    return 0
