"""The context inspector: under an answer, exactly what the model received for it."""

from __future__ import annotations

import streamlit as st

from chat.conversations.inspector import KIND_LABELS, describe_ranges, inspect_context, why
from chat.conversations.service import StoredMessage
from chat.memory.strategies import STRATEGIES


def draw_inspector(message: StoredMessage) -> None:
    """An expander drawn from the stored context log (so it survives reloads)."""
    if not message.context:
        return
    context = inspect_context(message.context, reply_position=message.position)
    approx = "≈" if context.approximate else ""
    with st.expander(
        f"Context: {approx}{context.total_tokens} tokens in {len(context.blocks)} blocks",
        icon=":material/manage_search:",
    ):
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
