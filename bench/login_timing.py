"""Login timing: an unknown username must cost the same as a known one (dummy hash).

Run: TEST_DATABASE_URL=postgresql://... python bench/login_timing.py [rounds]
Prints a table of per-attempt times (ms) for: known user + wrong password, unknown user,
and known user + right password. Uses a throwaway database and the default bcrypt cost.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine

from chat.services import build_services
from chat.settings import Settings
from chat.storage.db import migrate
from tests.support.postgres import fresh_database, server_url


def main(rounds: int) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="postgresql://unused",
        cookie_key="b" * 48,
        bcrypt_rounds=int(os.environ.get("BCRYPT_ROUNDS", "12")),
        login_failures_per_account=10**6,  # measure hashing, not the throttle
        login_failures_per_client=10**6,
    )
    with server_url() as base, fresh_database(base, prefix="chat_bench") as url:
        engine = create_engine(url)
        migrate(engine)
        services = build_services(settings, engine=engine)
        services.accounts.create(
            username="known", email="k@example.com", password="right pass phrase"
        )
        cases = {
            "known user, wrong password": ("known", "wrong pass phrase"),
            "unknown user": ("nobody-at-all", "wrong pass phrase"),
            "known user, right password": ("known", "right pass phrase"),
        }
        print(f"bcrypt cost {settings.bcrypt_rounds}, {rounds} attempts each, milliseconds")
        print(f"{'case':<30} {'median':>8} {'mean':>8} {'p10':>8} {'p90':>8}")
        for label, (username, password) in cases.items():
            samples = []
            for _ in range(rounds):
                started = time.perf_counter()
                services.accounts.authenticate(username=username, password=password, client="b")
                samples.append((time.perf_counter() - started) * 1000)
            deciles = statistics.quantiles(samples, n=10)
            print(
                f"{label:<30} {statistics.median(samples):8.1f} {statistics.fmean(samples):8.1f} "
                f"{deciles[0]:8.1f} {deciles[-1]:8.1f}"
            )
        engine.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
