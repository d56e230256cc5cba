"""A lone surrogate in a websocket message becomes U+FFFD instead of breaking the message."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from chat.web.websocket_text import RepairLoneSurrogates
from tests.support.event_loop import run_coroutine


def test_lone_surrogates_are_rewritten_in_place_and_valid_text_is_untouched() -> None:
    broken = b"\x0a\x10keep \xed\xa0\xbd text" + b"\xf0\x9f\x98\x80"  # half, then a whole emoji
    received: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in range(2):
            received.append((await receive())["bytes"])

    messages = iter([broken, "fine é".encode()])

    async def receive() -> Message:
        return {"type": "websocket.receive", "bytes": next(messages)}

    run_coroutine(RepairLoneSurrogates(app)({"type": "websocket"}, receive, receive))  # type: ignore[arg-type]
    assert received[0] == b"\x0a\x10keep \xef\xbf\xbd text\xf0\x9f\x98\x80"
    assert len(received[0]) == len(broken)  # protobuf lengths stay right
    assert received[1] == "fine é".encode()
