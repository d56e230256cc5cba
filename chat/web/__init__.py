"""The HTTP side of the app: what the st.App in `asgi.py` adds to Streamlit's own server
(security headers, the client's address, routes). Plain Starlette; no Streamlit here."""
