"""Token counts for stored messages, exact when possible and never at the cost of the network.

Why this module exists: every message's token count is computed once, when it is stored, and
the token-budget memory strategy and the inspector work from those stored numbers. Exact
counts need a tiktoken encoding, whose BPE file tiktoken *downloads* on first use. The app must
start and answer on a machine with no internet (and must never hang on a download while a user
waits), so an encoding is used only when its file is already in tiktoken's local cache and its
hash matches (a mismatching file would make tiktoken delete it and download again). Otherwise
we fall back to LangChain's approximate counter (~4 characters per token plus a per-message
overhead) and say so through `tokens_are_approximate()`, so the UI can label counts as "≈".

The choice is made once per process (`functools.cache`): counts stored in one conversation
stay comparable with each other.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterable
from typing import TYPE_CHECKING

from langchain_core.messages import BaseMessage
from langchain_core.messages.utils import count_tokens_approximately

if TYPE_CHECKING:
    import tiktoken

log = logging.getLogger(__name__)

_BLOB_BASE = "https://openaipublic.blob.core.windows.net/encodings"

# (encoding name, sha256 of its BPE file) in order of preference: o200k_base is what the
# gpt-4o / gpt-4.1 / o-series models use, cl100k_base the gpt-4 / gpt-3.5 family. The hashes are
# the ones tiktoken itself checks (tiktoken_ext/openai_public.py).
_ENCODINGS: tuple[tuple[str, str], ...] = (
    ("o200k_base", "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"),
    ("cl100k_base", "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"),
)

# What the OpenAI chat format adds around each message (role markers, separators).
_TOKENS_PER_MESSAGE = 3
# What a stored message costs on top of its stored text count: the per-message overhead
# plus its role (one token with tiktoken, up to three with the ~4 chars/token estimate).
MESSAGE_OVERHEAD_TOKENS = _TOKENS_PER_MESSAGE + 3
_APPROX_CHARS_PER_TOKEN = 4.0

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def _tiktoken_cache_dir() -> str | None:
    """The directory tiktoken reads cached encodings from (mirrors `tiktoken.load`).

    None when caching is disabled (an empty setting): tiktoken would then download every time.
    """
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return cache_dir or None


def cached_encoding_file(name: str) -> str | None:
    """Path of encoding `name`'s BPE file in tiktoken's cache if present and intact, else None.

    tiktoken names cache files by the sha1 of the blob URL it would download.
    """
    cache_dir = _tiktoken_cache_dir()
    expected = dict(_ENCODINGS).get(name)
    if cache_dir is None or expected is None:
        return None
    url = f"{_BLOB_BASE}/{name}.tiktoken"
    path = os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest())
    try:
        with open(path, "rb") as blob:
            data = blob.read()
    except OSError:
        return None
    return path if hashlib.sha256(data).hexdigest() == expected else None


@functools.cache
def _encoding() -> tiktoken.Encoding | None:
    """The first preferred encoding whose file is already cached locally, else None."""
    for name, _sha256 in _ENCODINGS:
        if cached_encoding_file(name) is None:
            continue
        import tiktoken

        # The cached file was just verified, so this reads it and never touches the network.
        return tiktoken.get_encoding(name)
    log.info("No tiktoken encoding in the local cache: token counts are approximate.")
    return None


def tokens_are_approximate() -> bool:
    """True when counts come from the ~4 chars/token estimate rather than a real tokenizer."""
    return _encoding() is None


def tokenizer_name() -> str:
    """A label for the UI: the tiktoken encoding in use, or "approximate"."""
    encoding = _encoding()
    return encoding.name if encoding is not None else "approximate"


def count_text_tokens(text: str) -> int:
    """Tokens in a bare string (no message overhead)."""
    encoding = _encoding()
    if encoding is None:
        return math.ceil(len(text) / _APPROX_CHARS_PER_TOKEN)
    # disallowed_special=(): a user typing "<|endoftext|>" is text, not an error.
    return len(encoding.encode(text, disallowed_special=()))


def count_message_tokens(message: BaseMessage) -> int:
    """Tokens one message costs in a prompt: its text, role, name, tool calls and overhead."""
    encoding = _encoding()
    if encoding is None:
        return count_tokens_approximately(
            [message],
            chars_per_token=_APPROX_CHARS_PER_TOKEN,
            extra_tokens_per_message=_TOKENS_PER_MESSAGE,
        )
    role = getattr(message, "role", None) or _ROLES.get(message.type, message.type)
    parts = [role, message.text]
    if message.name:
        parts.append(message.name)
    tool_calls = getattr(message, "tool_calls", None)
    if tool_calls:
        parts.append(json.dumps(tool_calls, default=str))
    return _TOKENS_PER_MESSAGE + sum(count_text_tokens(part) for part in parts)


def stored_message_tokens(token_count: int) -> int:
    """What a stored message costs in a prompt, from the text count stored with it: never
    less than count_message_tokens of it (the overhead allows for the role), and nothing
    re-tokenised."""
    return token_count + MESSAGE_OVERHEAD_TOKENS


def count_messages_tokens(messages: Iterable[BaseMessage]) -> int:
    """Sum of `count_message_tokens`: additive, so stored per-message counts can be summed."""
    return sum(count_message_tokens(message) for message in messages)
