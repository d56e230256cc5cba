"""Memory page: the facts the assistant keeps about the user across conversations.

Only draws: the facts and their switches are chat.memory.user_memory (services.memory).
"""

from __future__ import annotations

import streamlit as st

from chat.errors import ChatError
from chat.markup import plain
from pages.support import runtime
from pages.support.clock import local_time

services = runtime.services()
account = runtime.account()

st.title("Memory")
st.caption(
    "Facts you told the assistant, kept across your conversations. After each answer, what "
    "you said about yourself is added here; the facts are sent with your next questions as "
    "their own block (the context inspector shows it). Edit or delete any of them."
)


def act(action: object, done: str) -> None:
    """Run a change; a refusal is a sentence on the page, success a toast and a rerun."""
    try:
        action()  # type: ignore[operator]
    except ChatError as exc:
        st.error(exc.user_message)
    else:
        st.toast(done)
        st.rerun()


try:
    overview = services.memory.overview(user_id=account.id)
    conversations = services.conversations.list(user_id=account.id)
except ChatError as exc:
    st.error(exc.user_message)
    st.stop()

if not overview.instance_enabled:
    st.info("An administrator has turned memory off for everyone: nothing is added or sent.")
enabled = st.toggle("Remember facts about me", value=overview.enabled, key="memory-enabled")
if enabled != overview.enabled:
    act(
        lambda: services.memory.set_enabled(user_id=account.id, enabled=enabled),
        "Memory on." if enabled else "Memory off: nothing is added or sent.",
    )

titles = {c.id: c.title for c in conversations}
off = [cid for cid in overview.off_in if cid in titles]
chosen = st.multiselect(
    "Off in these conversations",
    list(titles),
    default=off,
    format_func=lambda cid: titles[cid],
    key="memory-off-in",
    help="These conversations neither receive your facts nor add to them.",
)
if set(chosen) != set(off):
    for cid in set(chosen) ^ set(off):
        act(
            lambda cid=cid: services.memory.set_for_conversation(
                user_id=account.id, conversation_id=cid, enabled=cid not in chosen
            ),
            "Saved.",
        )

with st.form("memory-add", clear_on_submit=True):
    new = st.text_input("Add a fact", placeholder="My daughter's school is St. Anne's.")
    if st.form_submit_button("Add", icon=":material/add:"):
        act(lambda: services.memory.add(user_id=account.id, content=new), "Fact added.")

st.subheader(f"{len(overview.facts)} fact{'s' * (len(overview.facts) != 1)}")
if not overview.facts:
    st.caption("Nothing yet. Tell the assistant something about yourself in a conversation.")
for fact in overview.facts:
    with st.container(border=True):
        source = fact.conversation_title or (
            "added by you" if fact.origin == "added" else "a deleted conversation"
        )
        st.caption(f"From {plain(source)} · {local_time(fact.created_at)}")
        text = st.text_input("Fact", value=fact.content, key=f"fact-{fact.id}")
        edit, delete = st.columns(2)
        if edit.button("Save", key=f"save-{fact.id}", disabled=text == fact.content):
            act(
                lambda fact=fact, text=text: services.memory.edit(
                    user_id=account.id, fact_id=fact.id, content=text
                ),
                "Fact saved.",
            )
        if delete.button("Delete", key=f"delete-{fact.id}", icon=":material/delete:"):
            act(
                lambda fact=fact: services.memory.delete(user_id=account.id, fact_id=fact.id),
                "Fact deleted: it is gone from every later context.",
            )

if account.role == "admin":
    st.divider()
    st.subheader("For everyone (administrator)")
    instance = st.toggle(
        "Memory across conversations on this instance",
        value=overview.instance_enabled,
        key="memory-instance",
    )
    if instance != overview.instance_enabled:
        act(
            lambda: services.memory.set_instance_enabled(actor=account, enabled=instance),
            "Saved for everyone.",
        )
