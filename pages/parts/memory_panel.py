"""The conversation's memory strategy, its parameters and its summary (at the top of its
settings)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from chat.auth.accounts import Account
from chat.conversations.service import ConversationView
from chat.errors import ChatError
from chat.llm.tokens import tokens_are_approximate
from chat.memory.strategies import STRATEGIES
from chat.services import Services

# Inputs per strategy parameter: (label, min, max, step).
PARAM_INPUTS: dict[str, tuple[str, int, int, int]] = {
    "k": ("Turns kept (k)", 1, 200, 1),
    "max_tokens": ("Token limit", 50, 200_000, 50),
    "recent_tokens": ("Recent turns (tokens)", 0, 200_000, 50),
    "recall_tokens": ("Recalled messages (tokens)", 0, 200_000, 50),
    "max_recalled": ("Messages recalled (at most)", 1, 50, 1),
}


def draw_memory_panel(services: Services, account: Account, view: ConversationView) -> None:
    st.caption("Memory")
    names = list(STRATEGIES)
    strategy = st.selectbox(
        "Memory strategy",
        names,
        index=names.index(view.memory_strategy) if view.memory_strategy in names else 0,
        format_func=lambda name: STRATEGIES[name].label,
        key=f"strategy-{view.id}",
        help="\n\n".join(f"**{s.label}**: {s.description}" for s in STRATEGIES.values()),
    )
    st.caption(STRATEGIES[strategy].description)
    defaults = STRATEGIES[strategy].defaults
    current = dict(view.memory_params) if strategy == view.memory_strategy else {}
    params: dict[str, Any] = {**defaults, **current}
    for name in defaults:
        label, low, high, step = PARAM_INPUTS[name]
        params[name] = int(
            st.number_input(
                label,
                min_value=low,
                max_value=high,
                step=step,
                value=min(high, max(low, int(params[name]))),
                key=f"{strategy}-{name}-{view.id}",
            )
        )
    if tokens_are_approximate():
        st.caption("Token counts are approximate (no tokenizer available offline).")
    if strategy != view.memory_strategy or params != {**defaults, **view.memory_params}:
        try:
            services.conversations.set_memory(
                user_id=account.id, conversation_id=view.id, strategy=strategy, params=params
            )
        except ChatError as exc:
            st.error(exc.user_message)
            return
        # No rerun: a message submitted in this same run (typed while a parameter was being
        # edited) would be dropped by it. The next answer reads the stored choice.
        st.toast(f"Memory: {STRATEGIES[strategy].label}, from the next answer on.")
    if STRATEGIES[strategy].stateful:
        draw_summary_state(services, account, view)


def draw_summary_state(services: Services, account: Account, view: ConversationView) -> None:
    try:
        state = services.conversations.summary_state(user_id=account.id, conversation_id=view.id)
    except ChatError as exc:
        st.error(exc.user_message)
        return
    if state is None:
        st.caption("No summary yet: it is written after the next answer.")
        return
    if state.status == "failed":
        st.warning(
            "The last summary update failed; it is retried after the next answer. Nothing is lost.",
            icon=":material/warning:",
        )
    with st.expander(f"Summary (messages 1–{state.covers_position}, {state.token_count} tokens)"):
        st.text(state.content)
