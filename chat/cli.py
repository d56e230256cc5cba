"""Operators' command line: `python -m chat users create|list|set-password`, `migrate`.

Uses the same settings and database as the app. Passwords come from standard input (one
line) or from an environment variable named with --password-env, never from argv.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from chat.errors import ChatError
from chat.services import build_services
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
    return root


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
