"""Token counting: sane numbers, the right tokenizer choice, and never a network call."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from chat.llm.tokens import (
    cached_encoding_file,
    count_message_tokens,
    count_messages_tokens,
    count_text_tokens,
    stored_message_tokens,
    tokenizer_name,
    tokens_are_approximate,
)

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter so the cached tokenizer choice and tiktoken's cache directory
# come from the environment the test sets. An audit hook records any attempt to resolve a
# host or open a connection: the real interpreter events, nothing patched.
_PROBE = """
import json, sys, time
events = []
sys.addaudithook(
    lambda event, args: events.append(event)
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname") else None
)
started = time.perf_counter()
from chat.llm import tokens
from langchain_core.messages import HumanMessage
result = {
    "approximate": tokens.tokens_are_approximate(),
    "text": tokens.count_text_tokens("hello world, how are you today?"),
    "message": tokens.count_message_tokens(HumanMessage("hello world")),
    "seconds": time.perf_counter() - started,
    "network": events,
}
print(json.dumps(result))
"""


def _probe(tiktoken_cache_dir: str) -> dict[str, object]:
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": tiktoken_cache_dir, "PYTHONPATH": str(ROOT)}
    env.pop("DATA_GYM_CACHE_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_counts_are_positive_for_any_text_and_message() -> None:
    assert count_text_tokens("hi") > 0
    assert count_text_tokens("<|endoftext|> is just text here") > 0
    for message in (HumanMessage("hi"), AIMessage("hello"), SystemMessage(""), HumanMessage("")):
        assert count_message_tokens(message) > 0
    assert count_text_tokens("") == 0


def test_counts_grow_with_text_length() -> None:
    counts = [count_text_tokens("lorem ipsum dolor " * n) for n in range(0, 200, 10)]
    message_counts = [count_message_tokens(HumanMessage("word " * n)) for n in range(0, 200, 10)]

    assert counts == sorted(counts)
    assert counts[-1] > counts[1] > 0
    assert message_counts == sorted(message_counts)
    assert message_counts[-1] > message_counts[0]


def test_message_list_count_is_the_sum_of_stored_counts() -> None:
    messages = [SystemMessage("Be brief."), HumanMessage("What is my name?"), AIMessage("Sofia.")]

    assert count_messages_tokens(messages) == sum(map(count_message_tokens, messages))
    assert count_messages_tokens([]) == 0


def test_a_stored_count_never_undercounts_its_message() -> None:
    """Strategies and the inspector cost a stored message from its stored text count; that
    may round up, never down, whatever the text, the role and the tokenizer."""
    texts = ["", "a", "hi", "Sofia.", "x" * 7, "word " * 37, "😀" * 5, "<script>x</script>"]
    for text in texts:
        for message in (HumanMessage(text), AIMessage(text), SystemMessage(text)):
            stored = stored_message_tokens(count_text_tokens(text))
            assert count_message_tokens(message) <= stored <= count_message_tokens(message) + 4


def test_approximate_flag_matches_the_local_tiktoken_cache() -> None:
    cached = [cached_encoding_file(name) for name in ("o200k_base", "cl100k_base")]

    assert tokens_are_approximate() == all(path is None for path in cached)
    assert (tokenizer_name() == "approximate") == tokens_are_approximate()


def test_empty_cache_falls_back_at_once_without_network(tmp_path: Path) -> None:
    result = _probe(str(tmp_path))

    assert result["approximate"] is True
    assert result["network"] == []
    assert isinstance(result["seconds"], float) and result["seconds"] < 10
    assert result["text"] == 8  # ceil(31 chars / 4)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_cached_encoding_is_ignored_not_redownloaded(tmp_path: Path) -> None:
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    corrupt = tmp_path / hashlib.sha1(url.encode()).hexdigest()
    corrupt.write_bytes(b"not a BPE file")

    result = _probe(str(tmp_path))

    assert result["approximate"] is True
    assert result["network"] == []
    assert corrupt.read_bytes() == b"not a BPE file"  # tiktoken would have deleted it


def test_disabled_tiktoken_cache_means_approximate() -> None:
    result = _probe("")  # tiktoken reads an empty setting as "always download"

    assert result["approximate"] is True
    assert result["network"] == []
