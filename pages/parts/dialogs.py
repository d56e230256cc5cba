"""Modal dialogs (st.dialog), opened through session state.

A dialog is called on every run while its request is in session state, so it survives full
reruns (and AppTest can drive it); saving, cancelling or dismissing it clears the request.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import streamlit as st

from chat.auth.accounts import Account
from chat.errors import ChatError
from chat.markup import plain
from chat.services import Services

DIALOG_KEY = "_dialog"
DELETED_KEY = "_deleted"  # {"id", "title", "undo", "until"}: a delete that can be undone


def request_dialog(kind: str, **details: Any) -> None:
    st.session_state[DIALOG_KEY] = {"kind": kind, **details}


def close_dialog() -> None:
    st.session_state.pop(DIALOG_KEY, None)


def open_dialog(kind: str) -> dict[str, Any] | None:
    """The pending request of this kind, if any."""
    pending = st.session_state.get(DIALOG_KEY)
    return pending if pending and pending.get("kind") == kind else None


def draw_conversation_dialogs(services: Services, account: Account) -> None:
    """Call once per run of a page that offers rename/delete."""
    if request := open_dialog("rename"):
        rename_dialog(services, account, uuid.UUID(request["id"]), request["title"])
    elif request := open_dialog("delete"):
        delete_dialog(services, account, uuid.UUID(request["id"]), request["title"])


@st.dialog("Rename conversation", on_dismiss=close_dialog)
def rename_dialog(
    services: Services, account: Account, conversation_id: uuid.UUID, title: str
) -> None:
    new_title = st.text_input("Title", value=title, max_chars=200, key="rename-title")
    if st.button("Save", type="primary", key="rename-save"):
        try:
            services.conversations.rename(
                user_id=account.id, conversation_id=conversation_id, title=new_title
            )
        except ChatError as exc:
            st.error(exc.user_message)
        else:
            close_dialog()
            st.rerun()


@st.dialog("Delete conversation?", on_dismiss=close_dialog)
def delete_dialog(
    services: Services, account: Account, conversation_id: uuid.UUID, title: str
) -> None:
    seconds = int(services.settings.undo_delete_seconds)
    st.markdown(
        "This deletes the conversation and all its messages. "
        f"You can undo it for {seconds} seconds."
    )
    st.caption(plain(title))
    left, right = st.columns(2)
    if left.button("Delete", type="primary", key="delete-confirm", icon=":material/delete:"):
        try:
            undo = services.conversations.delete_later(
                user_id=account.id, conversation_id=conversation_id
            )
        except ChatError as exc:
            st.error(exc.user_message)
        else:
            close_dialog()
            st.session_state[DELETED_KEY] = {
                "id": str(conversation_id),
                "title": title,
                "undo": undo,
                "until": time.monotonic() + services.settings.undo_delete_seconds,
            }
            if st.query_params.get("c") == str(conversation_id):
                st.query_params.clear()
            st.rerun()
    if right.button("Cancel", key="delete-cancel"):
        close_dialog()
        st.rerun()


def being_deleted() -> str | None:
    """The id of a conversation deleted a moment ago, while it can still be undone."""
    deleted = st.session_state.get(DELETED_KEY)
    if deleted and time.monotonic() < deleted["until"]:
        return str(deleted["id"])
    return None


def draw_undo_notice() -> None:
    """After a delete: a line saying so, with Undo while there is time."""
    deleted = st.session_state.get(DELETED_KEY)
    if not deleted:
        return
    if being_deleted() is None:
        st.session_state.pop(DELETED_KEY, None)
        return
    text_column, undo_column = st.columns([5, 1], vertical_alignment="center")
    text_column.caption(f"Deleted “{plain(deleted['title'])}”.")
    if undo_column.button("Undo", key="undo-delete", icon=":material/undo:"):
        st.session_state.pop(DELETED_KEY, None)
        if deleted["undo"]():
            st.toast("Conversation restored.")
        else:
            st.toast("Too late: it was already deleted.")
        st.rerun()
