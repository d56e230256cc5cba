"""The context inspector's reading of a stored context log.

A context log lists the blocks the model received, by reference (chat/turn/store.py):
`with_texts` puts back the text of each message and summary version it names. What the log
does not list is just as telling: the earlier messages that were left out, or folded into
a summary. Those are derived here from the positions, so nothing extra is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MISSING = "(no longer stored)"
KIND_LABELS = {
    "system": "System prompt",
    "summary": "Summary",
    "history": "Earlier message",
    "recalled": "Recalled message",
    "user_memory": "User memory",
    "input": "New input",
}
HOW_RECALLED = {"text": "full-text search", "vector": "vector similarity", "both": "text + vector"}


@dataclass(frozen=True)
class InspectedContext:
    blocks: list[dict[str, Any]]
    total_tokens: int
    approximate: bool
    summarised: tuple[int, int] | None  # positions folded into the summary (first, last)
    left_out: list[tuple[int, int]]  # ranges of earlier positions the model did not see


def _ranges(positions: list[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for position in positions:
        if ranges and ranges[-1][1] == position - 1:
            ranges[-1] = (ranges[-1][0], position)
        else:
            ranges.append((position, position))
    return ranges


def inspect_context(payload: dict[str, Any], *, reply_position: int) -> InspectedContext:
    """`reply_position` is the answer's own position; its question is the one before."""
    blocks = list(payload.get("blocks") or [])
    seen = {b["position"] for b in blocks if b.get("position") is not None}
    covers = max(
        (b.get("covers_position") or 0 for b in blocks if b["kind"] == "summary"), default=0
    )
    earlier = range(covers + 1, max(covers + 1, reply_position - 1))
    return InspectedContext(
        blocks=blocks,
        total_tokens=int(payload.get("total_tokens") or 0),
        approximate=bool(payload.get("approximate")),
        summarised=(1, covers) if covers else None,
        left_out=_ranges([p for p in earlier if p not in seen]),
    )


def with_texts(
    payload: dict[str, Any],
    *,
    messages: dict[str, str],
    summaries: dict[tuple[str, int], str],
) -> dict[str, Any]:
    """The log with the text of each block it names: `messages` by id, `summaries` by
    (strategy, version). A block whose source is gone (a deleted message) says so."""
    blocks = []
    for block in payload.get("blocks") or []:
        if "content" not in block:
            if block.get("message_id"):
                text = messages.get(str(block["message_id"]))
            else:
                text = summaries.get((str(block.get("strategy")), int(block.get("version") or 0)))
            block = {**block, "content": text if text is not None else MISSING}
        blocks.append(block)
    return {**payload, "blocks": blocks}


def references(payload: dict[str, Any]) -> tuple[list[str], set[tuple[str, int]]]:
    """The message ids and summary versions a log names without their text."""
    ids: list[str] = []
    versions: set[tuple[str, int]] = set()
    for block in payload.get("blocks") or []:
        if "content" in block:
            continue
        if block.get("message_id"):
            ids.append(str(block["message_id"]))
        elif block.get("version") is not None:
            versions.add((str(block.get("strategy")), int(block["version"])))
    return ids, versions


def why(block: dict[str, Any]) -> str:
    """Why a block is in the context, for blocks that were chosen rather than kept in
    order: a recalled message (how it was found, its score, the words it shares with the
    new input) or the user-memory block (how many facts)."""
    if block["kind"] == "recalled":
        words = ", ".join(block.get("matched") or []) or "none in common"
        how = HOW_RECALLED.get(str(block.get("how") or "text"), str(block.get("how")))
        return f"recalled by {how}, score {float(block.get('score') or 0):.3f}; words: {words}"
    if block["kind"] == "user_memory":
        facts = len(block.get("facts") or [])
        return f"{facts} fact{'s' * (facts != 1)} you told the assistant (Memory page)"
    return ""


def describe_ranges(ranges: list[tuple[int, int]]) -> str:
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in ranges)
