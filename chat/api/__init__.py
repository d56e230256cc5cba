"""The HTTP API (issue #14), served by the app's own process under /api (chat/web/app.py):
the seeds' /chat, /chat/stream and /history, and an OpenAI-compatible /v1.

It is a second face of the same services as the pages: the same turn engine, limits,
ownership checks and storage. No Streamlit here.
"""
