"""OpenAI-compatible endpoints under /api/v1, close enough to OpenAI's wire format that the
official `openai` client works unchanged (base_url=".../api/v1", api_key=<an API key>).

The difference that is the point: the server keeps the history. `messages` carries only
the new user message (optionally after one system message); the conversation is named by
`conversation_id` (the client's `extra_body`), and every response names it, in the body
and in the `X-Conversation-Id` header.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from chat.api.auth import AccountDep, ServicesDep
from chat.api.errors import error_body, status_of
from chat.api.schemas import (
    CompletionRequest,
    ErrorBody,
    ModelCard,
    ModelList,
    chunk_body,
    completion_body,
)
from chat.api.threads import iterate, run_blocking
from chat.api.turns import finish_reason, split_messages, sse, usage_of, whole_answer
from chat.errors import ModelError
from chat.turn.live import Turn
from chat.turn.start import start_turn

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])


@router.get("/models", response_model=ModelList)
def list_models(account: AccountDep, services: ServicesDep) -> ModelList:
    """The models a conversation can use here."""
    return ModelList(
        data=[ModelCard(id=name) for name in services.conversations.available_models()]
    )


@router.post(
    "/chat/completions",
    response_model=None,
    responses={
        200: {"description": "A chat.completion, or with stream=true chat.completion.chunk events"},
        409: {"model": ErrorBody, "description": "An answer here is still arriving"},
        502: {"model": ErrorBody, "description": "The model failed (the question is stored)"},
    },
)
async def chat_completions(
    body: CompletionRequest, account: AccountDep, services: ServicesDep
) -> JSONResponse | StreamingResponse:
    """Answer the new message in the named conversation (or a new one)."""
    system_prompt, text = split_messages(body.messages)
    turn = await run_blocking(
        start_turn,
        services,
        user_id=account.id,
        conversation_id=body.conversation_id,
        text=text,
        model=body.model,
        system_prompt=system_prompt,
    )
    headers = {"X-Conversation-Id": str(turn.conversation_id)}
    completion_id = f"chatcmpl-{turn.reply_id.hex}"
    created = int(time.time())
    model = turn.setup.model_name
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            _chunks(turn, completion_id, created, model, include_usage),
            media_type="text/event-stream",
            headers={**headers, "Cache-Control": "no-cache"},
        )
    try:
        answer = await run_blocking(whole_answer, turn)
    except ModelError as exc:
        status, name = status_of(exc)
        return JSONResponse(error_body(exc.user_message, name), status_code=status, headers=headers)
    return JSONResponse(
        completion_body(
            completion_id=completion_id,
            created=created,
            model=model,
            text=answer,
            finish_reason=finish_reason(turn),
            usage=usage_of(turn),
            conversation_id=turn.conversation_id,
        ),
        headers=headers,
    )


async def _chunks(
    turn: Turn, completion_id: str, created: int, model: str, include_usage: bool
) -> AsyncIterator[str]:
    """The answer as chat.completion.chunk events. A model failure mid-answer is an error
    event (the openai client raises it); the text so far is stored either way."""

    def chunk(**fields: object) -> str:
        return sse(
            chunk_body(
                completion_id=completion_id,
                created=created,
                model=model,
                conversation_id=turn.conversation_id,
                **fields,  # type: ignore[arg-type]
            )
        )

    yield chunk(delta={"role": "assistant", "content": ""})
    try:
        async for piece in iterate(turn.stream()):
            yield chunk(delta={"content": piece})
    except ModelError as exc:
        yield sse(error_body(exc.user_message, "model_error"))
        return
    yield chunk(finish_reason=finish_reason(turn))
    if include_usage:
        yield chunk(usage=usage_of(turn))
    yield sse("[DONE]")
