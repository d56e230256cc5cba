"""Memory lab page: replay a transcript under every strategy, side by side.

Only draws: the replay itself is chat.conversations.lab (offline model, a scratch user that is
deleted afterwards).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from chat.conversations import lab
from chat.errors import ChatError
from chat.memory.strategies import STRATEGIES
from pages.support import runtime

services = runtime.services()
account = runtime.account()
RESULT_KEY = "_lab_result"
SOURCES = ("Bundled memory probe", "Upload a JSONL file", "One of my conversations")

st.title("Memory lab")
st.caption(
    "Replays a transcript under every memory strategy with the offline model (no cost, "
    "nothing saved) and shows what each one sends and what it still remembers."
)
with st.sidebar:
    if st.button("Back to chat", icon=":material/chat:", key="lab-back"):
        st.switch_page("pages/chat.py")

source = st.radio("Transcript", SOURCES, key="lab-source", horizontal=True)
turns: list[lab.LabTurn] | None = None
try:
    if source == SOURCES[0]:
        turns = lab.bundled_transcript()
    elif source == SOURCES[1]:
        upload = st.file_uploader(
            'JSONL file: one {"user": ..., "probe": null | {"fact", "expect"}} per line',
            type=["jsonl", "json", "txt"],
            key="lab-upload",
        )
        if upload is not None:
            turns = lab.parse_transcript(
                upload.getvalue(), max_chars=services.settings.max_message_chars
            )
    else:
        conversations = services.conversations.list(user_id=account.id)
        if not conversations:
            st.info("You have no conversations yet.")
        else:
            chosen = st.selectbox(
                "Conversation",
                conversations,
                format_func=lambda item: item.title,
                key="lab-conversation",
            )
            turns = services.conversations.transcript(user_id=account.id, conversation_id=chosen.id)
except ChatError as exc:
    st.error(exc.user_message)
    turns = None

if turns:
    probes = sum(1 for turn in turns if turn.probe)
    st.caption(f"{len(turns)} turn{'s' * (len(turns) != 1)}, {probes} probe{'s' * (probes != 1)}.")
    user_memory = st.checkbox(
        "With user memory",
        key="lab-user-memory",
        help="Facts the offline model learns after each answer enter the next contexts, as "
        "in the chat with your memory on.",
    )
    if st.button("Run the replay", type="primary", key="lab-run"):
        bar = st.progress(
            0.0, text=f"Replaying {len(turns)} turns under {len(STRATEGIES)} strategies…"
        )

        def report(done: int, total: int) -> None:
            if done % 10 == 0 or done == total:
                bar.progress(done / total, text=f"Replayed {done} of {total} turns…")

        try:
            st.session_state[RESULT_KEY] = lab.replay(
                sessions=services.sessions,
                settings=services.settings,
                turns=turns,
                owner=str(account.id),
                user_memory=user_memory,
                progress=report,
            )
        except ChatError as exc:
            st.error(exc.user_message)
        finally:
            bar.empty()

runs: list[lab.StrategyRun] | None = st.session_state.get(RESULT_KEY)
if runs:
    labels = {run.strategy: STRATEGIES[run.strategy].label for run in runs}
    st.subheader("Context tokens per turn")
    st.line_chart(
        pd.DataFrame({labels[run.strategy]: run.context_tokens for run in runs}).rename_axis("turn")
    )

    def percent(value: float | None) -> str:
        return "–" if value is None else f"{value:.0%}"

    st.subheader("Totals")
    tokens = st.column_config.NumberColumn(format="%,d")  # 12,345
    st.dataframe(
        pd.DataFrame(
            {
                "strategy": [labels[run.strategy] for run in runs],
                "total tokens": [run.total_tokens for run in runs],
                "mean per turn": [
                    round(run.total_tokens / len(run.context_tokens)) for run in runs
                ],
                "max per turn": [max(run.context_tokens) for run in runs],
                "probes in context": [percent(run.recall()) for run in runs],
                "probes answered": [percent(run.recall(where="answer")) for run in runs],
            }
        ),
        hide_index=True,
        column_config={
            "total tokens": tokens,
            "mean per turn": tokens,
            "max per turn": tokens,
        },
    )
    each_probe = list(runs[0].probes)
    if each_probe:
        st.subheader("Each probe")
        st.caption(
            "context: the expected text was in what the model received; answer: in its answer."
        )

        def mark(result: lab.ProbeResult) -> str:
            if result.in_context and result.in_answer:
                return "context + answer"
            return "context" if result.in_context else ("answer" if result.in_answer else "–")

        st.dataframe(
            pd.DataFrame(
                {
                    "turn": [p.turn for p in each_probe],
                    "fact": [p.fact for p in each_probe],
                    "expect": [p.expect for p in each_probe],
                    **{labels[run.strategy]: [mark(p) for p in run.probes] for run in runs},
                }
            ),
            hide_index=True,
        )
    facts = sorted({fact for run in runs for fact in run.remembered})
    if facts:
        st.subheader("Probed facts still in context at the last turn")
        st.dataframe(
            pd.DataFrame(
                {
                    labels[run.strategy]: ["yes" if run.remembered[f] else "no" for f in facts]
                    for run in runs
                },
                index=pd.Index(facts, name="fact"),
            )
        )
    else:
        st.caption("The transcript has no probes: only the token counts are compared.")
