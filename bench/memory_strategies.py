"""Context size and fact recall of each memory strategy on the bundled memory probe.

Replays chat/data/memory_probe.jsonl (a copy of ../shared/data/memory_probe.jsonl) through
the real turn service with the offline model (chat.conversations.lab.replay), and prints,
per strategy:
mean and max context tokens per turn, total tokens, the verbatim-history maximum against the
strategy's budget, and the share of probes whose expected text is in the context the model
received and in the offline model's answer. Also how full buffer grows (tokens at turns
50/100/150/200 and the linear fit).

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python bench/memory_strategies.py
"""

from __future__ import annotations

import time

from scratch_db import scratch_engine

from chat.conversations.lab import bundled_transcript, replay
from chat.settings import Settings


def linear_fit(values: list[int]) -> tuple[float, float]:
    """Slope and R² of values against turn number."""
    n = len(values)
    xs = range(n)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, values, strict=True))
    slope = sxy / sxx
    ss_res = sum(
        (y - (mean_y + slope * (x - mean_x))) ** 2 for x, y in zip(xs, values, strict=True)
    )
    ss_tot = sum((y - mean_y) ** 2 for y in values)
    return slope, 1 - ss_res / ss_tot


def main() -> None:
    turns = bundled_transcript()
    settings = Settings(_env_file=None, database_url="postgresql://unused", openai_api_key=None)  # type: ignore[call-arg]
    with scratch_engine() as engine:
        started = time.perf_counter()
        runs = replay(engine=engine, settings=settings, turns=turns)
        elapsed = time.perf_counter() - started
    print(
        f"memory probe: {len(turns)} turns, {sum(1 for t in turns if t.probe)} probes; "
        f"replay of all strategies {elapsed:.1f}s\n"
    )
    header = (
        f"{'strategy':<16}{'params':<22}{'mean/turn':>10}{'max/turn':>10}{'total':>10}"
        f"{'max hist':>10}{'budget ok':>10}{'recall ctx':>11}{'recall ans':>11}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        budget = run.params.get("max_tokens")
        if run.strategy == "budget":
            ok = "yes" if max(run.context_tokens) <= budget else "NO"
        elif run.strategy == "summary_buffer":
            ok = "yes" if max(run.history_tokens) <= budget else "NO"
        else:
            ok = "–"
        params = ", ".join(f"{k}={v}" for k, v in run.params.items()) or "–"
        print(
            f"{run.strategy:<16}{params:<22}{run.mean_tokens:>10.0f}{max(run.context_tokens):>10}"
            f"{run.total_tokens:>10}{max(run.history_tokens):>10}{ok:>10}"
            f"{run.recall():>11.0%}{run.recall(where='answer'):>11.0%}"
        )
    full = next(run for run in runs if run.strategy == "full")
    slope, r2 = linear_fit(full.context_tokens)
    marks = ", ".join(f"turn {i}: {full.context_tokens[i - 1]}" for i in (50, 100, 150, 200))
    print(f"\nfull buffer growth: {marks}; {slope:.1f} tokens/turn, linear fit R²={r2:.4f}")


if __name__ == "__main__":
    main()
