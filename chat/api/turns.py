"""Starting a turn from an API request, and what the API reports about it afterwards.

Everything a turn does is the turn engine's (chat/turn/engine.py): the question is stored
before the model is called, the answer is generated in the engine's worker and stored by
it. The API only follows the handle, so a client that goes away mid-answer loses nothing:
the answer is finished and stored all the same, and is in the conversation's history.
"""

from __future__ import annotations

import json
import time
from typing import Any

from chat.api.schemas import InputMessage, Usage
from chat.errors import InvalidInput
from chat.llm.tokens import count_text_tokens
from chat.turn.live import Turn

# How long a stopped answer may take to be stored before the API answers anyway.
SETTLE_WAIT_S = 5.0
ONLY_NEW_MESSAGE = (
    "Send only the new message: 'messages' holds one message with role 'user', optionally "
    "preceded by one 'system' message. The server keeps the conversation's history; name "
    "the conversation with 'conversation_id' to continue it."
)


def message_text(message: InputMessage) -> str:
    """A message's text: a string, or a list of text parts (OpenAI's other form)."""
    if isinstance(message.content, str):
        return message.content
    if message.content is None:
        return ""
    texts = []
    for part in message.content:
        if part.type != "text" or part.text is None:
            raise InvalidInput("Only text content is accepted: parts of type 'text'.")
        texts.append(part.text)
    return "".join(texts)


def split_messages(messages: list[InputMessage]) -> tuple[str | None, str]:
    """(system prompt or None, the new user message) from an OpenAI `messages` list."""
    # "developer" is what newer OpenAI clients call the system message.
    roles = ["system" if m.role == "developer" else m.role for m in messages]
    if roles not in (["user"], ["system", "user"]):
        raise InvalidInput(ONLY_NEW_MESSAGE)
    system = message_text(messages[0]) if roles[0] == "system" else None
    return system, message_text(messages[-1])


def usage_of(turn: Turn) -> Usage:
    """The turn's token counts as the model reported them; when it reported none, as the
    app counts them (the context log's total, and the answer's tokens)."""
    usage = turn.outcome.usage
    prompt = usage.get("input_tokens")
    completion = usage.get("output_tokens")
    if prompt is None:
        context = turn.outcome.context or {}
        prompt = int(context.get("total_tokens") or count_text_tokens(turn.question))
    if completion is None:
        completion = count_text_tokens(turn.outcome.text)
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def ended_as(turn: Turn) -> str:
    """complete | interrupted | error, once its stream has ended. A stop (from a page) ends
    the followers' stream before the worker has written the outcome."""
    return "interrupted" if turn.stop_requested else turn.outcome.status


def finish_reason(turn: Turn) -> str:
    """OpenAI's name for how the answer ended: "length" for one that was cut short."""
    return "stop" if ended_as(turn) == "complete" else "length"


def sse(data: Any, event: str | None = None) -> str:
    """One server-sent event; `data` as JSON unless it is already a string ([DONE])."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


def whole_answer(turn: Turn) -> str:
    """Wait for the whole answer (ModelError when the model failed): the text every
    follower saw, which is what is stored, stopped or not. A stop asked from another
    process ends the followers before the worker has stored the answer: wait for that (it
    comes with the model's next words), so the client's next message finds it settled."""
    for _ in turn.stream():
        pass
    deadline = time.monotonic() + SETTLE_WAIT_S
    while not turn.finished and time.monotonic() < deadline:
        time.sleep(0.02)
    return turn.text_so_far()
