"""Hold the login form back until the cookie component has reported once.

The authenticator's cookie component reports the browser's cookies right after it mounts,
and that report triggers a rerun. A form submitted while that rerun is pending is lost (the
rerun replaces the run that carried the click). So the first run shows a short placeholder;
the report's rerun then draws the form. No timer is used (a timer's rerun would race the
form in the same way); if a browser never reports, a button shows the form.
"""

from __future__ import annotations

import streamlit as st
import streamlit_authenticator as stauth

WAITED_KEY = "_login_waited"


def cookie_reader_ready(authenticator: stauth.Authenticate) -> bool:
    if not st.context.headers:
        return True  # no browser connection (e.g. AppTest): no component will ever report
    reported = authenticator.cookie_controller.cookie_model.cookie_manager.cookies
    if reported or st.session_state.get(WAITED_KEY):
        return True
    st.caption("Loading…")
    if st.button("Show the login form", type="tertiary", key="login-form-anyway"):
        st.session_state[WAITED_KEY] = True
        st.rerun()
    return False
