"""Request and response bodies. Requests are strict about types (a wrong type is a 422
with a sentence) and lenient about fields they do not use (OpenAI clients send many)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# --- errors ---------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    message: str = Field(description="A sentence that says what went wrong and what to do")
    type: str
    code: str


class ErrorBody(BaseModel):
    """Every refusal, in the shape OpenAI's clients read."""

    error: ErrorDetail


# --- the seeds' shape ---------------------------------------------------------------------


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="The new message; the server keeps the history.")
    conversation_id: uuid.UUID | None = Field(
        default=None, description="Continue this conversation; absent: start a new one."
    )


class ChatResponse(BaseModel):
    response: str
    conversation_id: uuid.UUID
    status: str = Field(description="complete, or interrupted when the answer was stopped")


class HistoryMessage(BaseModel):
    id: uuid.UUID
    role: Literal["user", "assistant", "system"]
    content: str
    status: str = Field(description="complete | pending (still arriving) | interrupted | error")
    time: datetime


class History(BaseModel):
    conversation_id: uuid.UUID
    title: str
    model: str
    messages: list[HistoryMessage]
    earlier: int = Field(description="older messages not included (see `limit`)")


class Deleted(BaseModel):
    conversation_id: uuid.UUID
    deleted: bool = True


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]


# --- OpenAI-compatible -------------------------------------------------------------------


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class InputMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class CompletionRequest(BaseModel):
    """OpenAI's chat completion request. Of its many optional fields, only `model` (must be
    one on offer), `stream` and `stream_options` are used; the others are accepted and
    ignored, since the conversation's own settings decide how it is answered."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[InputMessage]
    stream: bool = False
    stream_options: StreamOptions | None = None
    conversation_id: uuid.UUID | None = Field(
        default=None,
        description="The conversation to continue (the openai client's extra_body); "
        "absent: a new one. The server keeps its history.",
    )


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "chat"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def completion_body(
    *,
    completion_id: str,
    created: int,
    model: str,
    text: str,
    finish_reason: str,
    usage: Usage,
    conversation_id: uuid.UUID,
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": usage.model_dump(),
        "conversation_id": str(conversation_id),
    }


def chunk_body(
    *,
    completion_id: str,
    created: int,
    model: str,
    conversation_id: uuid.UUID,
    delta: dict[str, Any] | None = None,
    finish_reason: str | None = None,
    usage: Usage | None = None,
) -> dict[str, Any]:
    """One `chat.completion.chunk`; with `usage`, the last one, whose choices are empty."""
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": []
        if usage is not None
        else [
            {
                "index": 0,
                "delta": delta or {},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "conversation_id": str(conversation_id),
    }
    if usage is not None:
        body["usage"] = usage.model_dump()
    return body
