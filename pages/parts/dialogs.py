"""Confirmation and edit dialogs for conversations (st.dialog: modal, one at a time)."""

from __future__ import annotations

import uuid

import streamlit as st

from chat.accounts import Account
from chat.errors import ChatError
from chat.services import Services


@st.dialog("Rename conversation")
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
            st.rerun()


@st.dialog("Delete conversation?")
def delete_dialog(
    services: Services, account: Account, conversation_id: uuid.UUID, title: str
) -> None:
    st.markdown("This deletes the conversation and all its messages. It cannot be undone.")
    st.caption(title)
    left, right = st.columns(2)
    if left.button("Delete", type="primary", key="delete-confirm", icon=":material/delete:"):
        try:
            services.conversations.delete(user_id=account.id, conversation_id=conversation_id)
        except ChatError as exc:
            st.error(exc.user_message)
        else:
            if st.query_params.get("c") == str(conversation_id):
                st.query_params.clear()
            st.rerun()
    if right.button("Cancel", key="delete-cancel"):
        st.rerun()
