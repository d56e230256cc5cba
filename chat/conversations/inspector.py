"""The context inspector's reading of a stored context log.

A context log lists the blocks the model received, by reference (chat/turn/store.py):
`with_texts` puts back the text of each message and summary version it names, and the
whole block of each history message it names by position: one block per message of each
range of positions (logs stored before ranges name one position per block). What the log
does not list is just as telling: the earlier messages that were left out, or folded into
a summary. Those are derived here from the positions, so nothing extra is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from chat.llm.tokens import stored_message_tokens

if TYPE_CHECKING:
    from chat.storage.repository import ViewRow

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
    seen = {position for block in blocks for position in _positions(block)}
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
    history: Mapping[int, ViewRow],
) -> dict[str, Any]:
    """The log with the text of each block it names: `messages` by id, `summaries` by
    (strategy, version), and each history message named by its position whole from
    `history` (the conversation's rows by position), one block per message as the model
    was sent them. A block whose source is gone (a deleted message) says so. The stored
    log's `block_count` is left out: the blocks are all there to count."""
    blocks: list[dict[str, Any]] = []
    for block in payload.get("blocks") or []:
        if _named_by_position(block):
            blocks.extend(
                history_block(position, history.get(position)) for position in _positions(block)
            )
            continue
        if "content" not in block:
            if block.get("message_id"):
                text = messages.get(str(block["message_id"]))
            else:
                text = summaries.get((str(block.get("strategy")), int(block.get("version") or 0)))
            block = {**block, "content": text if text is not None else MISSING}
        blocks.append(block)
    rebuilt = {key: value for key, value in payload.items() if key != "block_count"}
    return {**rebuilt, "blocks": blocks}


def history_block(position: int, row: ViewRow | None) -> dict[str, Any]:
    """A history message's block as the model was sent it (chat/turn/store.py
    context_payload): the stored message, with what it costs from its stored count."""
    if row is None:  # its conversation's rows are only ever deleted all together
        return {
            "role": "",
            "content": MISSING,
            "kind": "history",
            "position": position,
            "tokens": 0,
        }
    return {
        "role": row.role,
        "content": row.content,
        "kind": "history",
        "message_id": str(row.id),
        "position": position,
        "tokens": stored_message_tokens(row.token_count),
    }


class References(NamedTuple):
    """What a stored log names without its text."""

    message_ids: list[str]
    summary_versions: set[tuple[str, int]]
    # history messages, named by their positions in the conversation: (first, last)
    history_ranges: list[tuple[int, int]]


def references(payload: dict[str, Any]) -> References:
    """The messages and summary versions a stored log names, to be read back."""
    found = References([], set(), [])
    for block in payload.get("blocks") or []:
        if _named_by_position(block):
            named = _positions(block)
            found.history_ranges.append((named.start, named.stop - 1))
        elif "content" in block:
            continue
        elif block.get("message_id"):
            found.message_ids.append(str(block["message_id"]))
        elif block.get("version") is not None:
            found.summary_versions.add((str(block.get("strategy")), int(block["version"])))
    return found


def _named_by_position(block: dict[str, Any]) -> bool:
    """A history block stored as positions alone: a range of them, or (logs written
    before ranges) one. Logs written before either name the message by id and keep its
    role and tokens."""
    return block["kind"] == "history" and "message_id" not in block


def _positions(block: dict[str, Any]) -> range:
    """The positions of the messages a block stands for: a stored range of history, or the
    one position of a message block (none for a block that is not a message)."""
    if "first_position" in block:
        return range(int(block["first_position"]), int(block["last_position"]) + 1)
    if block.get("position") is not None:
        return range(int(block["position"]), int(block["position"]) + 1)
    return range(0)


def block_count(payload: dict[str, Any]) -> int:
    """How many blocks the model received, read from a stored log without rebuilding it
    (logs stored before history ranges have one block per block sent)."""
    blocks = payload.get("blocks") or []
    return int(payload.get("block_count", len(blocks)))


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
