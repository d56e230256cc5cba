"""The stored context log's size against conversation size, for a full-buffer answer.

A full buffer sends every earlier message, so its log names the most history of any
strategy. For 10, 1,000 and 10,000 earlier messages, each of a few words and of 200 words,
the log is built as finish_turn builds it (chat/turn/store.py: context_payload from the
messages the strategy hands the model, stored in its by_reference form) and measured as
the JSON that is stored: its bytes and its number of blocks. No database is needed.

    python bench/context_log_size.py
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from chat.memory.base import to_langchain
from chat.storage.repository.messages import PlainViewRow
from chat.turn.store import by_reference, context_payload

SIZES = (10, 1_000, 10_000)
WORDS = (3, 200)


def sent_to_the_model(count: int, words: int, input_id: uuid.UUID) -> list[BaseMessage]:
    """The system prompt, `count` stored messages of `words` words, the new input."""
    rows = [
        PlainViewRow(
            id=str(uuid.uuid4()),
            position=position,
            role="human" if position % 2 else "ai",
            content="word " * words,
            status="complete",
            token_count=words,
        )
        for position in range(1, count + 1)
    ]
    return [
        SystemMessage("You are a helpful assistant."),
        *to_langchain(rows),
        HumanMessage("What next?", id=str(input_id)),
    ]


def main() -> None:
    print(f"{'messages':>9} {'words':>6} {'log bytes':>10} {'stored blocks':>14}")
    for count in SIZES:
        for words in WORDS:
            input_id = uuid.uuid4()
            sent = sent_to_the_model(count, words, input_id)
            stored = by_reference(context_payload(sent, human_id=input_id))
            size = len(json.dumps(stored).encode())
            print(f"{count:>9,} {words:>6} {size:>10,} {len(stored['blocks']):>14}")


if __name__ == "__main__":
    main()
