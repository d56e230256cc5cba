"""Hold the login form back until the cookie component has reported once.

The authenticator's cookie component reports the browser's cookies right after it mounts,
and that report triggers a rerun. A form submitted while that rerun is pending is lost (the
rerun replaces the run that carried the click). So the first run shows a short placeholder;
the report's rerun then draws the form. If a browser never reports (blocked iframes), a
timer reruns the page and the form appears anyway.
"""

from __future__ import annotations

import streamlit as st
import streamlit_authenticator as stauth

RUNS_KEY = "_login_runs_waiting"
MAX_WAITING_RUNS = 3


def cookie_reader_ready(authenticator: stauth.Authenticate) -> bool:
    if st.get_option("global.appTest"):
        return True  # no browser, so no component will ever report
    reported = authenticator.cookie_controller.cookie_model.cookie_manager.cookies
    if reported:
        st.session_state.pop(RUNS_KEY, None)
        return True
    waited = st.session_state.get(RUNS_KEY, 0)
    if waited >= MAX_WAITING_RUNS:
        return True
    st.session_state[RUNS_KEY] = waited + 1
    st.caption("Loading…")
    _rerun_soon()
    return False


@st.fragment(run_every=1.0)
def _rerun_soon() -> None:
    if st.session_state.get(RUNS_KEY, 0):
        st.session_state[RUNS_KEY] = st.session_state.get(RUNS_KEY, 0) + 1
        st.rerun(scope="app")
