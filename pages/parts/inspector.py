"""The context inspector: under an answer, exactly what the model received for it.

Closed, it costs a label (the log's totals); its text is rebuilt from the log's references
only when someone opens it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from chat.conversations.inspector import (
    KIND_LABELS,
    block_count,
    describe_ranges,
    inspect_context,
    why,
)
from chat.conversations.service import StoredMessage
from chat.memory.strategies import STRATEGIES

ContextOf = Callable[[StoredMessage], dict[str, Any] | None]


def draw_inspector(message: StoredMessage, context_of: ContextOf) -> None:
    """An expander over the stored context log (so it survives reloads). `context_of`
    reads the log with its text."""
    if not message.context:
        return
    approx = "≈" if message.context.get("approximate") else ""
    total = int(message.context.get("total_tokens") or 0)
    count = block_count(message.context)
    inspector = st.expander(
        f"Context: {approx}{total} tokens in {count} blocks",
        icon=":material/manage_search:",
        key=f"context-{message.id}",
        on_change="rerun",
    )
    if not inspector.open:
        return
    payload = context_of(message)
    if payload is None:
        inspector.caption("This answer's context is no longer stored.")
        return
    with inspector:
        draw_context(payload, message)


def draw_context(payload: dict[str, Any], message: StoredMessage) -> None:
    context = inspect_context(payload, reply_position=message.position)
    approx = "≈" if context.approximate else ""
    strategy = str(message.meta.get("strategy") or "")
    if strategy in STRATEGIES:
        st.caption(f"Memory: {STRATEGIES[strategy].label}")
    for block in context.blocks:
        where = f" · message {block['position']}" if block.get("position") else ""
        if block.get("covers_position"):
            where = f" · covers messages 1–{block['covers_position']}"
        st.markdown(
            f"**{KIND_LABELS.get(block['kind'], block['kind'])}** ({block['role']}{where}) "
            f"· {approx}{block['tokens']} tokens"
        )
        if reason := why(block):
            st.caption(reason)
        st.text(block["content"])
    if context.summarised:
        st.caption(f"Folded into the summary: messages 1–{context.summarised[1]}.")
    if context.left_out:
        st.caption(f"Left out (not sent): messages {describe_ranges(context.left_out)}.")
    else:
        st.caption("No earlier message was left out.")
    if context.approximate:
        st.caption("Token counts are approximate (no tokenizer available offline).")
