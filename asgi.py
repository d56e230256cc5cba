"""The server entry point: Streamlit's st.App around the UI script, plus the app's own
middleware and routes (chat/web/app.py).

`streamlit run asgi.py` finds `app` here and serves it (the same flags and STREAMLIT_SERVER_*
variables as before); scripts/app, the Dockerfile and the browser tests all start it so.
"""

import streamlit as st

from chat.web.app import middleware, routes

app = st.App("streamlit_app.py", routes=routes(), middleware=middleware())
