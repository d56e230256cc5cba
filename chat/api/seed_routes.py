"""The seeds' shape, for people coming from the tutorials this product began with:
POST /chat, POST /chat/stream (server-sent events), GET and DELETE /history/{id}."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from chat.api.auth import AccountDep, ServicesDep
from chat.api.errors import error_body
from chat.api.schemas import ChatRequest, ChatResponse, Deleted, History, HistoryMessage
from chat.api.threads import iterate, run_blocking
from chat.api.turns import ended_as, sse, whole_answer
from chat.auth.accounts import Account
from chat.errors import ModelError
from chat.services import Services
from chat.turn.live import Turn
from chat.turn.start import start_turn

router = APIRouter(tags=["Chat"])

ROLES = {"human": "user", "ai": "assistant", "system": "system"}


@router.post("/chat", response_model=ChatResponse)
async def chat(
    body: ChatRequest, account: AccountDep, services: ServicesDep, response: Response
) -> ChatResponse:
    """Send a message, get the whole answer. A model failure is a 502; the question and the
    failed answer are stored (see /history)."""
    turn = await _start(body, account, services)
    response.headers["X-Conversation-Id"] = str(turn.conversation_id)
    answer = await run_blocking(whole_answer, turn)
    return ChatResponse(
        response=answer, conversation_id=turn.conversation_id, status=ended_as(turn)
    )


@router.post(
    "/chat/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def chat_stream(
    body: ChatRequest, account: AccountDep, services: ServicesDep
) -> StreamingResponse:
    """Server-sent events: `{"conversation_id"}` first, then `{"token"}` for each piece of
    the answer, then `[DONE]`. A model failure is an `error` event instead of `[DONE]`.
    A client that disconnects loses nothing: the answer is finished and stored."""
    turn = await _start(body, account, services)
    return StreamingResponse(
        _events(turn),
        media_type="text/event-stream",
        headers={"X-Conversation-Id": str(turn.conversation_id), "Cache-Control": "no-cache"},
    )


async def _start(body: ChatRequest, account: Account, services: Services) -> Turn:
    return await run_blocking(
        start_turn,
        services,
        user_id=account.id,
        conversation_id=body.conversation_id,
        text=body.message,
    )


async def _events(turn: Turn) -> AsyncIterator[str]:
    yield sse({"conversation_id": str(turn.conversation_id)})
    try:
        async for piece in iterate(turn.stream()):
            yield sse({"token": piece})
    except ModelError as exc:
        yield sse(error_body(exc.user_message, "model_error"), event="error")
        return
    yield sse("[DONE]")


@router.get("/history/{conversation_id}", response_model=History)
def history(
    conversation_id: uuid.UUID,
    account: AccountDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="the most recent messages")] = 200,
) -> History:
    """The conversation's messages, oldest first (an answer still arriving is `pending`)."""
    view = services.conversations.open(
        user_id=account.id, conversation_id=conversation_id, limit=limit
    )
    return History(
        conversation_id=view.id,
        title=view.title,
        model=view.model,
        earlier=view.earlier,
        messages=[
            HistoryMessage(
                id=message.id,
                role=ROLES.get(message.role, "system"),  # type: ignore[arg-type]
                content=message.content,
                status=message.status,
                time=message.created_at,
            )
            for message in view.messages
        ],
    )


@router.delete("/history/{conversation_id}", response_model=Deleted)
def delete_history(
    conversation_id: uuid.UUID, account: AccountDep, services: ServicesDep
) -> Deleted:
    """Delete the conversation and everything stored with it."""
    services.conversations.delete(user_id=account.id, conversation_id=conversation_id)
    return Deleted(conversation_id=conversation_id)
