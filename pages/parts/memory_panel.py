"""Sidebar panel: the conversation's memory strategy and its parameters."""

from __future__ import annotations

import streamlit as st

from chat.accounts import Account
from chat.conversations import ConversationView
from chat.memory import STRATEGIES
from chat.services import Services


def draw_memory_panel(services: Services, account: Account, view: ConversationView) -> None:
    st.divider()
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
    params = dict(view.memory_params) if strategy == view.memory_strategy else {}
    if strategy == "window":
        params["k"] = st.number_input(
            "Turns kept (k)",
            min_value=1,
            max_value=200,
            value=int(params.get("k", STRATEGIES["window"].defaults["k"])),
            key=f"window-k-{view.id}",
        )
    if strategy != view.memory_strategy or params != view.memory_params:
        services.conversations.set_memory(
            user_id=account.id, conversation_id=view.id, strategy=strategy, params=params
        )
        st.rerun()
