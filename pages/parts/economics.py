"""Token economics of the open conversation: context size per answer, usage, cost."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from chat.conversations.economics import Economics


def draw_economics(economics: Economics) -> None:
    if not economics.answers:
        return
    with st.expander("Token economics", icon=":material/monitoring:"):
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
