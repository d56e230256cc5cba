"""Token economics of the open conversation: context size per answer, usage, cost."""

from __future__ import annotations

import uuid

import pandas as pd
import streamlit as st

from chat.conversations.economics import Economics
from chat.errors import ChatError
from chat.services import Services


@st.fragment
def draw_economics(services: Services, user_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
    """A closed expander costs its label: the numbers are read, and the charts built, only
    while it is open (and then only this fragment reruns)."""
    panel = st.expander(
        "Token economics",
        icon=":material/monitoring:",
        key=f"economics-{conversation_id}",
        on_change="rerun",
    )
    if not panel.open:
        return
    try:
        economics = services.conversations.economics(
            user_id=user_id, conversation_id=conversation_id
        )
    except ChatError as exc:
        panel.error(exc.user_message)
        return
    with panel:
        draw_numbers(economics)


def draw_numbers(economics: Economics) -> None:
    if not economics.answers:
        st.caption("No answers yet.")
        return
    frame = pd.DataFrame(
        {
            "answer": [a.turn for a in economics.answers],
            "context tokens": [a.context_tokens for a in economics.answers],
            "prompt tokens (reported)": [a.input_tokens for a in economics.answers],
            "completion tokens (reported)": [a.output_tokens for a in economics.answers],
        }
    ).set_index("answer")
    st.line_chart(frame[["context tokens", "prompt tokens (reported)"]])
    st.bar_chart(frame[["completion tokens (reported)"]])
    left, middle, right = st.columns(3)
    left.metric("Prompt tokens", f"{economics.input_tokens:,}")
    middle.metric("Completion tokens", f"{economics.output_tokens:,}")
    cost = economics.cost
    right.metric("Estimated cost", "n/a" if cost is None else f"${cost:.4f}")
    if economics.unpriced_models:
        st.caption(
            "No price configured for: " + ", ".join(economics.unpriced_models) + " "
            "(MODEL_PRICES in settings)."
        )
    st.caption(f"Last {len(economics.answers)} answers; cost estimated from settings.")
