"""Context size and fact recall of each memory strategy, on probes of different facts.

Replays each probe through the real turn service with the offline model
(chat.conversations.lab.replay, the lab's and `python -m chat lab replay`'s code) and prints,
per probe and strategy: mean and max context tokens per turn, the verbatim-history maximum
against the strategy's budget, the share of probes whose expected text is in the context the
model received and in the offline model's answer, and the share answered of those in context.
Then the issue's targets, each with its verdict, and the user-memory check (a fact stated in
one conversation is in the context of the same user's next conversation, never another's).

The probes: tests/data/memory_probe_people.jsonl (the one the offline model was developed
on), bench/data/holdout_probe.jsonl (written before any tuning, never tuned against) and the
shared probe bundled as chat/data/memory_probe.jsonl. `--probe FILE` adds another.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python bench/memory_strategies.py [--probe FILE ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from scratch_db import scratch_engine

from chat.conversations.lab import BUNDLED, LabTurn, StrategyRun, parse_transcript, replay
from chat.services import build_services
from chat.settings import Settings
from chat.storage.db import session_factory

ROOT = Path(__file__).resolve().parents[1]
PROBES = [
    ROOT / "tests" / "data" / "memory_probe_people.jsonl",
    ROOT / "bench" / "data" / "holdout_probe.jsonl",
    BUNDLED,
]


def answered_when_in_context(run: StrategyRun) -> float | None:
    seen = [p for p in run.probes if p.in_context]
    return sum(p.in_answer for p in seen) / len(seen) if seen else None


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def table(name: str, turns: list[LabTurn], runs: list[StrategyRun], elapsed: float) -> None:
    print(
        f"\n{name}: {len(turns)} turns, {sum(1 for t in turns if t.probe)} probes, "
        f"{len({t.probe.fact for t in turns if t.probe})} facts; replay {elapsed:.1f}s"
    )
    header = (
        f"{'strategy':<16}{'params':<46}{'mean/turn':>10}{'max/turn':>10}{'max hist':>10}"
        f"{'in ctx':>8}{'answered':>10}{'ans|ctx':>9}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        params = ", ".join(f"{k}={v}" for k, v in run.params.items()) or "–"
        print(
            f"{run.strategy:<16}{params:<46}{run.mean_tokens:>10.0f}{max(run.context_tokens):>10}"
            f"{max(run.history_tokens):>10}{percent(run.recall()):>8}"
            f"{percent(run.recall(where='answer')):>10}{percent(answered_when_in_context(run)):>9}"
        )


def targets(name: str, runs: list[StrategyRun]) -> list[tuple[str, str, bool]]:
    by = {run.strategy: run for run in runs}
    recall, full = by["recall"], by["full"]
    checks = [
        (
            "recall: >= 85% in context, mean <= 1,500 tokens",
            f"{percent(recall.recall())}, mean {recall.mean_tokens:.0f}",
            (recall.recall() or 0) >= 0.85 and recall.mean_tokens <= 1500,
        ),
        *[
            (
                f"{s}: >= 70% in context",
                percent(by[s].recall()),
                (by[s].recall() or 0) >= 0.70,
            )
            for s in ("summary", "summary_buffer")
        ],
        (
            "full: offline model answers >= 85% of probes in its context",
            percent(answered_when_in_context(full)),
            (answered_when_in_context(full) or 0) >= 0.85,
        ),
    ]
    return [(f"{name}: {what}", got, ok) for what, got, ok in checks]


def user_memory_check(engine: object, settings: Settings, turns: list[LabTurn]) -> tuple[str, bool]:
    """Alice states the probe's facts in one conversation; in a new one, each probe's
    expected text should be in her context (the user-memory block), never in Bob's."""
    from tests.support.factories import make_user

    services = build_services(settings, engine=engine, sessions=session_factory(engine))  # type: ignore[arg-type]
    alice, bob = make_user(services), make_user(services)
    probes = [t.probe for t in turns if t.probe]
    first = None
    for item in turns:
        if not item.probe:  # the statements and the chatter, not the questions
            turn = services.turns.send(user_id=alice.id, conversation_id=first, text=item.user)
            "".join(turn.stream())
            first = turn.conversation_id
            services.turns.update_memory(user_id=alice.id, conversation_id=first)
    found = {}
    for who in (alice, bob):
        turn = services.turns.send(user_id=who.id, conversation_id=None, text="Hello again!")
        "".join(turn.stream())
        context = "\n".join(b["content"] for b in (turn.outcome.context or {})["blocks"])
        found[who.username] = sum(p.expect.lower() in context.lower() for p in probes)
    share = found[alice.username] / len(probes)
    leaked = found[bob.username]
    return (
        f"{share:.0%} of probed facts in the same user's new conversation, "
        f"{leaked} in another user's",
        share > 0 and leaked == 0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probe", type=Path, action="append", default=[])
    args = parser.parse_args()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="postgresql://unused",
        openai_api_key=None,
        messages_per_minute=0,
        bcrypt_rounds=10,
        cookie_key="b" * 40,
        lab_time_limit=3600,
    )
    verdicts: list[tuple[str, str, bool]] = []
    with scratch_engine() as engine:
        sessions = session_factory(engine)
        for path in [*PROBES, *args.probe]:
            turns = parse_transcript(path.read_bytes())
            started = time.perf_counter()
            runs = replay(sessions=sessions, settings=settings, turns=turns, owner="bench")
            table(path.name, turns, runs, time.perf_counter() - started)
            verdicts += targets(path.name, runs)
            memory, ok = user_memory_check(engine, settings, turns)
            verdicts.append((f"{path.name}: user memory", memory, ok))
    print("\ntargets")
    for what, got, ok in verdicts:
        print(f"  {'ok  ' if ok else 'MISS'} {what}: {got}")


if __name__ == "__main__":
    main()
