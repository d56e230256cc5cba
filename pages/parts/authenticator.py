"""The authenticator, built in a fragment of its own, so the login form can show at once.

streamlit-authenticator draws its cookie component whenever it is built, and it is built
anew each run (the entry point forgets it). The app reads and sets the remember-me cookie on
the server, so the component has nothing to do, but once mounted it reports the browser's
cookies, and a full rerun from that report could replace the run carrying a click on "Log
in": the click was lost. The form used to wait behind "Loading…" until the report had come.

Drawn inside a fragment, the report reruns only the fragment, and a fragment's rerun never
interrupts a full run; a click that arrives during the fragment's rerun replaces it and keeps
the click. So nothing waits, and a browser that never loads the component signs in as well.
"""

from __future__ import annotations

import streamlit as st

from pages.support import runtime


@st.fragment
def draw_authenticator() -> None:
    """Build this run's authenticator (drawing its cookie component here), for the login
    form below to use. A rerun of the fragment builds it again: a component not drawn in
    its fragment's rerun would be removed, and its next mount would report once more."""
    st.session_state.pop(runtime.AUTHENTICATOR_KEY, None)
    runtime.authenticator()
