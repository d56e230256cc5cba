"""Sidebar links to the account-level pages (sessions; admin for admins only)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st
from streamlit.navigation.page import StreamlitPage


def draw_account_links(pages: Sequence[StreamlitPage]) -> None:
    """One link per page; the chat page is always the first."""
    with st.sidebar:
        for page in pages:
            st.page_link(page)
