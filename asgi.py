"""The server entry point: Streamlit's st.App around the UI script, plus the app's own
middleware and routes (chat/web/app.py).

`streamlit run asgi.py` finds `app` here and serves it (the same flags and STREAMLIT_SERVER_*
variables as before); scripts/app, the Dockerfile and the browser tests all start it so.
The routes reach the process's services through chat.services.process_services, the same
object the pages' cached getter returns; nothing of the pages is imported here (importing
their support modules outside a script run would register the authenticator's cookie
component outside Streamlit's runtime, and the login form would never load).
"""

import streamlit as st

from chat.services import process_services
from chat.web.app import middleware, routes

app = st.App("streamlit_app.py", routes=routes(process_services), middleware=middleware())
