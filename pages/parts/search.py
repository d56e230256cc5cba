"""Sidebar search over the user's own titles and messages, with highlighted snippets."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import streamlit as st

from chat.auth.accounts import Account
from chat.errors import ChatError
from chat.markup import plain
from chat.services import Services
from chat.storage.repository import HIGHLIGHT_START, HIGHLIGHT_STOP


def snippet_markdown(snippet: str) -> str:
    """The database's highlighted snippet as safe Markdown: matched words in bold."""
    out: list[str] = []
    for index, part in enumerate(re.split(f"[{HIGHLIGHT_START}{HIGHLIGHT_STOP}]", snippet)):
        if not part.strip():
            out.append(" " if part else "")
            continue
        escaped = plain(part)  # spaces around it kept: no space appears before punctuation
        if index % 2:
            escaped = f"**{escaped}**"
        out.append(" " * part[0].isspace() + escaped + " " * part[-1].isspace())
    return re.sub(" {2,}", " ", "".join(out)).strip()


def draw_search(
    services: Services,
    account: Account,
    open_conversation: Callable[[uuid.UUID, uuid.UUID | None], None],
) -> bool:
    """Draw the search box and, when it holds a query, the results. Returns whether results
    are shown (the conversation list is hidden meanwhile)."""
    query = st.text_input(
        "Search",
        key="search",
        placeholder="Search your conversations",
        label_visibility="collapsed",
        max_chars=200,
    )
    if not query.strip():
        return False
    try:
        hits = services.conversations.search(user_id=account.id, query=query)
    except ChatError as exc:
        st.error(exc.user_message)
        return True
    if not hits:
        st.caption("No conversation matches. Try other words.")
        return True
    st.caption(f"{len(hits)} result{'s' if len(hits) != 1 else ''}")
    for index, hit in enumerate(hits):
        with st.container(border=True):
            st.button(
                plain(hit.title),
                key=f"hit-{index}-{hit.conversation_id}-{hit.message_id}",
                use_container_width=True,
                type="tertiary",
                on_click=open_conversation,
                args=(hit.conversation_id, hit.message_id),
            )
            if hit.message_id is not None:
                st.markdown(snippet_markdown(hit.snippet))
    return True
