"""The Account page's API keys: create one with a name (its text is shown once), list
them, revoke one. Only draws; chat.auth.api_keys does the work."""

from __future__ import annotations

import streamlit as st

from chat.auth.accounts import Account
from chat.errors import ChatError
from chat.markup import plain
from chat.services import Services
from pages.support.clock import local_date, local_time

NEW_KEY = "_new_api_key"  # the key just created, shown on the next run only


def draw_api_keys(services: Services, account: Account) -> None:
    st.subheader("API keys")
    st.caption(
        "Scripts and tools reach your conversations through the HTTP API (/api, "
        "documented at /api/docs) with a key: send it as 'Authorization: Bearer <key>'. "
        "A key works until you revoke it."
    )
    with st.form("api-key-create", clear_on_submit=True):
        name = st.text_input("Key name", key="api-key-name", max_chars=100,
                             placeholder="e.g. laptop script")  # fmt: skip
        if st.form_submit_button("Create key", icon=":material/key:"):
            try:
                created = services.api_keys.create(user_id=account.id, name=name)
            except ChatError as exc:
                st.error(exc.user_message)
            else:
                st.session_state[NEW_KEY] = (created.info.name, created.key)
    shown = st.session_state.pop(NEW_KEY, None)
    if shown is not None:
        st.success(f"Key “{plain(shown[0])}” created. Copy it now: it is not shown again.")
        st.code(shown[1], language=None)
    try:
        keys = services.api_keys.list(user_id=account.id)
    except ChatError as exc:
        st.error(exc.user_message)
        return
    if not keys:
        st.caption("You have no API keys.")
    for key in keys:
        used = f"last used {local_time(key.last_used_at)}" if key.last_used_at else "never used"
        left, right = st.columns([5, 1], vertical_alignment="center")
        state = "revoked" if not key.active else used
        made_on = local_date(key.created_at)
        left.markdown(f"**{plain(key.name)}** · `{key.prefix}…` · created {made_on} · {state}")
        if key.active and right.button("Revoke", key=f"api-key-revoke-{key.id}"):
            try:
                services.api_keys.revoke(user_id=account.id, key_id=key.id)
            except ChatError as exc:
                st.error(exc.user_message)
            else:
                st.rerun()
