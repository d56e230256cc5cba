"""Text with a lone surrogate reaches the app instead of vanishing.

A browser can hold half of a surrogate pair in a text box (a damaged paste, an emoji cut in
two). Streamlit's page encodes it into its websocket message as the three bytes of that
half (ED A0..BF xx), which is not UTF-8: the server cannot parse the message and drops it,
and the user's text is gone without a word. This middleware rewrites each such sequence to
U+FFFD (also three bytes, so every length in the message stays right) before Streamlit
reads it; the chat page then says what happened and offers the text back
(chat/validation.py, unsendable_reason). Only incoming websocket messages that hold such a
sequence are touched; valid UTF-8 never does.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ENCODED_SURROGATE = re.compile(rb"\xed[\xa0-\xbf][\x80-\xbf]")
_REPLACEMENT = "\ufffd".encode()


class RepairLoneSurrogates:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return

        async def repaired() -> Message:
            message = await receive()
            data = message.get("bytes")
            if message["type"] == "websocket.receive" and data and b"\xed" in data:
                message = {**message, "bytes": _ENCODED_SURROGATE.sub(_REPLACEMENT, data)}
            return message

        await self.app(scope, repaired, send)
