"""A local OpenAI-compatible HTTP server for tests and benchmarks (stdlib only).

Why a real server instead of mocks: the app talks to the model through
``langchain_openai.ChatOpenAI`` -> ``openai`` -> an HTTP client. Mocking any layer of
that stack hides exactly the behaviour we care about at the network boundary: SSE
parsing, usage chunks, retries, timeouts and what happens when a connection drops in the
middle of a stream. So the tests run the real client against this real socket server.

Behaviour is scripted with a queue (``enqueue_reply``, ``enqueue_error``,
``enqueue_drop``, ``enqueue_hang``, ``enqueue_stall``); each chat completion request takes
the next item. With an empty queue the server answers ``"Echo: <last user message>"`` so it
also works as a general endpoint (a browser test, a load test, a manual session).
``/v1/embeddings`` answers with deterministic vectors (hashed word families, no model
weights), so recall's vector path runs against the real client too::

    python -m tests.support.openai_server --port 8011 --token-delay 0.02
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import re
import socket
import struct
import threading
import time
import uuid
import zlib
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import pytest

__all__ = ["FakeOpenAIServer"]

_TOKEN_RE = re.compile(r"\s*\S+")


@dataclass(frozen=True)
class _Reply:
    text: str | None  # None: the default (echo) reply
    token_delay: float | None  # None: the server's default_token_delay
    usage: dict[str, int] | None


@dataclass(frozen=True)
class _Error:
    status: int
    message: str
    type: str
    code: str | None
    retry_after: float | None


@dataclass(frozen=True)
class _Drop:
    after_tokens: int
    text: str | None


@dataclass(frozen=True)
class _Hang:
    seconds: float
    text: str | None


@dataclass(frozen=True)
class _Stall:
    after_tokens: int
    seconds: float
    text: str | None
    token_delay: float | None


_Action = _Reply | _Error | _Drop | _Hang | _Stall


class _Aborted(Exception):
    """The server is shutting down, or the client went away: stop answering."""


def split_tokens(text: str) -> list[str]:
    """Split text into stream chunks, one per word, that concatenate back to ``text``."""
    tokens = _TOKEN_RE.findall(text)
    rest = text[sum(map(len, tokens)) :]
    if rest:  # trailing whitespace (or all-whitespace text)
        if tokens:
            tokens[-1] += rest
        else:
            tokens.append(rest)
    return tokens


def _message_text(content: Any) -> str:
    """The text of a message's ``content``: a string or a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") if isinstance(part, dict) else str(part) for part in content
        )
    return ""


def _default_text(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return "Echo: " + _message_text(message.get("content"))
    return "Echo: (no user message)"


EMBEDDING_DIMENSIONS = 64


def embedding_of(text: str) -> list[float]:
    """A deterministic, cheap embedding: words of four letters or more, by their first five
    letters (a word family), hashed into EMBEDDING_DIMENSIONS buckets; unit length."""
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for word in re.findall(r"[^\W\d_]{4,}", text.lower()):
        vector[zlib.crc32(word[:5].encode()) % EMBEDDING_DIMENSIONS] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def _prompt_tokens(body: dict[str, Any]) -> int:
    """A deterministic stand-in for a tokenizer: words in all message contents."""
    return sum(
        len(_message_text(m.get("content")).split())
        for m in body.get("messages") or []
        if isinstance(m, dict)
    )


class _Handler(BaseHTTPRequestHandler):
    """One connection. HTTP/1.1 keep-alive; streams use chunked transfer encoding.

    Chunked encoding (rather than close-delimited bodies) is what makes a dropped stream
    detectable: closing the socket before the terminating chunk is a protocol error on
    the client side, whereas a close-delimited body would just look like a short answer.
    """

    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    # --- plumbing -----------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log is ``FakeOpenAIServer.requests``."""

    def _send_json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error(self, error: _Error) -> None:
        headers = {}
        if error.retry_after is not None:
            headers["retry-after-ms"] = str(int(error.retry_after * 1000))
        payload = {
            "error": {
                "message": error.message,
                "type": error.type,
                "param": None,
                "code": error.code,
            }
        }
        self._send_json(error.status, payload, headers)

    def _send_client_error(self, status: int, message: str, code: str | None = None) -> None:
        self._send_error(_Error(status, message, "invalid_request_error", code, None))

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _sse(self, payload: dict[str, Any]) -> None:
        self._write_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self.server.owner._stopping.wait(seconds):
            raise _Aborted

    def _drop_connection(self) -> None:
        """Close the socket abruptly, mid-response, as a crashed upstream would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    def _record(self, body: Any) -> dict[str, Any]:
        entry = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
            "received_at": time.monotonic(),
            "finished_at": None,
        }
        self.server.owner._record(entry)
        return entry

    def _authorized(self) -> bool:
        expected = self.server.owner.api_key
        if expected is None or self.headers.get("Authorization") == f"Bearer {expected}":
            return True
        self._send_client_error(401, "Incorrect API key provided.", "invalid_api_key")
        return False

    def _guard(self, method: Any) -> None:
        try:
            method()
        except (_Aborted, ConnectionError, TimeoutError):
            self._drop_connection()

    # --- routes -------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._guard(self._get)

    def do_POST(self) -> None:
        self._guard(self._post)

    def _get(self) -> None:
        self._record(None)
        if not self._authorized():
            return
        if self.path.rstrip("/") != "/v1/models":
            self._send_client_error(404, f"Unknown path {self.path}", "unknown_url")
            return
        models = [
            {"id": m, "object": "model", "created": 0, "owned_by": "fake-openai-server"}
            for m in self.server.owner.models
        ]
        self._send_json(200, {"object": "list", "data": models})

    def _post(self) -> None:
        body = self._read_body()
        entry = self._record(body)
        try:
            if not self._authorized():
                return
            if self.path.rstrip("/") == "/v1/embeddings" and isinstance(body, dict):
                self._embeddings(body)
                return
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send_client_error(404, f"Unknown path {self.path}", "unknown_url")
                return
            if not isinstance(body, dict):
                self._send_client_error(400, "Request body must be a JSON object.")
                return
            self._complete(body, self.server.owner._next_action())
        finally:
            entry["finished_at"] = time.monotonic()

    def _embeddings(self, body: dict[str, Any]) -> None:
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        data = []
        for index, text in enumerate(texts):
            vector = embedding_of(text if isinstance(text, str) else " ".join(map(str, text)))
            value: Any = vector
            if body.get("encoding_format") == "base64":
                value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": value})
        tokens = sum(len(str(t).split()) for t in texts)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or "test-embeddings",
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _complete(self, body: dict[str, Any], action: _Action) -> None:
        owner = self.server.owner
        if isinstance(action, _Error):
            self._send_error(action)
            return
        if isinstance(action, _Hang):
            self._wait(action.seconds)
            action = _Reply(action.text, None, None)

        text = action.text if action.text is not None else _default_text(body)
        tokens = split_tokens(text)
        drop_after = action.after_tokens if isinstance(action, _Drop) else None
        stall = (action.after_tokens, action.seconds) if isinstance(action, _Stall) else None
        delay = owner.default_token_delay
        usage = None
        if isinstance(action, _Reply | _Stall):
            delay = action.token_delay if action.token_delay is not None else delay
        if isinstance(action, _Reply):
            usage = action.usage
        prompt_tokens = _prompt_tokens(body)
        usage = usage or {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(tokens),
            "total_tokens": prompt_tokens + len(tokens),
        }
        meta = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "created": int(time.time()),
            "model": body.get("model") or owner.models[0],
            "system_fingerprint": "fp_fake",
        }
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(meta, tokens, delay, usage if include_usage else None, drop_after, stall)
        else:
            self._whole(meta, text, usage, drop_after)

    def _whole(
        self, meta: dict[str, Any], text: str, usage: dict[str, int], drop_after: int | None
    ) -> None:
        payload = {
            **meta,
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": text,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
            "service_tier": "default",
        }
        if drop_after is None:
            self._send_json(200, payload)
            return
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self._drop_connection()

    def _stream(
        self,
        meta: dict[str, Any],
        tokens: list[str],
        delay: float,
        usage: dict[str, int] | None,
        drop_after: int | None,
        stall: tuple[int, float] | None = None,
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            payload: dict[str, Any] = {
                **meta,
                "object": "chat.completion.chunk",
                "service_tier": "default",
                "choices": [
                    {
                        "index": 0,
                        "delta": delta,
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
            }
            if usage is not None:
                payload["usage"] = None  # as OpenAI does when include_usage is set
            return payload

        self._sse(chunk({"role": "assistant", "content": "", "refusal": None}))
        for sent, token in enumerate(tokens):
            if drop_after is not None and sent >= drop_after:
                self._drop_connection()
                return
            if stall is not None and sent == stall[0]:
                self._wait(stall[1])  # silent, connection open: a stalled upstream
            self._wait(delay)
            self._sse(chunk({"content": token}))
        if drop_after is not None:  # fewer tokens than after_tokens: drop before the end
            self._drop_connection()
            return
        self._sse(chunk({}, "stop"))
        if usage is not None:
            self._sse(
                {
                    **meta,
                    "object": "chat.completion.chunk",
                    "service_tier": "default",
                    "choices": [],
                    "usage": usage,
                }
            )
        self._sse_done()

    def _sse_done(self) -> None:
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: clients that time out or disconnect are part of the scripted tests."""


class FakeOpenAIServer:
    """A real OpenAI-compatible chat completions endpoint on 127.0.0.1 (ephemeral port).

    Use as a context manager; ``base_url`` is what ``ChatOpenAI(base_url=...)`` needs.
    ``requests`` is the log of every request received (method, path, lower-cased headers,
    parsed JSON body), so tests can assert exactly what the model was sent. Each entry also
    carries ``received_at`` and ``finished_at`` (``time.monotonic()``; ``finished_at`` stays
    None while a POST is being answered), so a load test can tell the model's time from the
    app's.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        models: tuple[str, ...] = ("test-model",),
        default_token_delay: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.models = models
        self.default_token_delay = default_token_delay
        self._address = (host, port)
        self._lock = threading.Lock()
        self._queue: deque[_Action] = deque()
        self._requests: list[dict[str, Any]] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        self._stopping.clear()
        httpd = _HTTPServer(self._address, _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-openai-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake sleeping handlers, and close every open connection."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._address[0]}:{self.port}/v1"

    # --- scripting ----------------------------------------------------------------------

    def enqueue_reply(
        self,
        text: str,
        *,
        token_delay: float | None = None,
        usage: dict[str, int] | None = None,
    ) -> None:
        """Answer the next request with ``text`` (one stream chunk per word).

        ``usage`` overrides the computed ``{prompt,completion,total}_tokens``.
        """
        self._enqueue(_Reply(text, token_delay, usage))

    def enqueue_error(
        self,
        status: int = 500,
        message: str = "The server had an error while processing your request.",
        *,
        type: str = "server_error",
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next request with an OpenAI-style error body and HTTP ``status``.

        ``retry_after`` (seconds) is sent as ``retry-after-ms``, which the openai client
        honours instead of its exponential backoff: it keeps retry tests fast.
        """
        self._enqueue(_Error(status, message, type, code, retry_after))

    def enqueue_drop(self, after_tokens: int = 3, *, text: str | None = None) -> None:
        """Stream ``after_tokens`` content chunks, then close the socket (no ``[DONE]``)."""
        self._enqueue(_Drop(after_tokens, text))

    def enqueue_hang(self, seconds: float, *, text: str | None = None) -> None:
        """Sleep ``seconds`` before sending anything (then answer normally): timeouts."""
        self._enqueue(_Hang(seconds, text))

    def enqueue_stall(
        self,
        after_tokens: int,
        seconds: float,
        *,
        text: str | None = None,
        token_delay: float | None = None,
    ) -> None:
        """Stream ``after_tokens`` content chunks (``token_delay`` apart), then go silent
        for ``seconds`` with the connection open, then finish the answer: a slow stream
        that stops, as an overloaded upstream does (the client's read timeout decides)."""
        self._enqueue(_Stall(after_tokens, seconds, text, token_delay))

    def _enqueue(self, action: _Action) -> None:
        with self._lock:
            self._queue.append(action)

    def _next_action(self) -> _Action:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return _Reply(None, None, None)

    def clear_queue(self) -> None:
        """Forget the scripted actions not yet consumed (a server shared by several tests)."""
        with self._lock:
            self._queue.clear()

    def wait_quiet(self, seconds: float = 0.5, timeout: float = 10.0) -> None:
        """Return once no request has arrived for `seconds` (work the app does after an
        answer, such as naming a conversation, has reached the server)."""
        deadline = time.monotonic() + timeout
        seen = len(self.requests)
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            count = len(self.requests)
            if count != seen:
                seen, quiet_since = count, time.monotonic()
            elif time.monotonic() - quiet_since >= seconds:
                return

    def answered(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The request log once every request's handler has ended (a client can read an
        answer's last byte before the handler that wrote it stamps ``finished_at``)."""
        deadline = time.monotonic() + timeout
        while any(r["finished_at"] is None for r in self.requests):
            if time.monotonic() > deadline:
                raise TimeoutError("a request to the model server is still being answered")
            time.sleep(0.01)
        return self.requests

    @property
    def pending(self) -> int:
        """Scripted actions not yet consumed."""
        with self._lock:
            return len(self._queue)

    # --- request log --------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A snapshot of every request so far: ``{method, path, headers, body, received_at,
        finished_at}``."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """The parsed bodies of the chat completion requests, in arrival order."""
        return [
            r["body"]
            for r in self.requests
            if r["method"] == "POST" and r["path"].rstrip("/") == "/v1/chat/completions"
        ]

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._requests.append(entry)

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


def main(argv: list[str] | None = None) -> None:
    """Serve until Ctrl-C, for manual runs and pointing the app at a local model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds per token")
    parser.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY'")
    parser.add_argument("--model", action="append", dest="models", help="model id (repeatable)")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        models=tuple(args.models or ["test-model"]),
        default_token_delay=args.token_delay,
    )
    with server:
        print(server.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


def closed_port_url() -> str:
    """The address of a port on this machine where nothing listens (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def attempts(caplog: pytest.LogCaptureFixture) -> int:
    """HTTP requests the openai client sent (or tried to: it logs each before connecting)."""
    return sum(
        r.name.startswith("openai") and r.getMessage().startswith("Sending HTTP Request")
        for r in caplog.records
    )


if __name__ == "__main__":
    main()
