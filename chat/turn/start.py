"""Starting a turn with the conversation's settings given along: a new chat set up before
its first message (the chat page), or a request naming a model or a system prompt (the
API). Both go through the turn engine like any other message."""

from __future__ import annotations

import contextlib
import uuid
from typing import Literal

from chat.errors import ChatError, InvalidInput
from chat.llm.titles import title_for
from chat.services import Services
from chat.turn.live import Turn
from chat.validation import validate_message


def start_turn(
    services: Services,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID | None,
    text: str,
    model: str | None = None,
    system_prompt: str | None = None,
    temperature: float | Literal["current"] | None = "current",
) -> Turn:
    """Send the message through the turn engine. `model`, `system_prompt` and
    `temperature`, when given and different, become the conversation's (as choosing them in
    its settings does) before the question is stored; a conversation created for that is
    removed again when the message is refused (a limit, bad text), so a refusal leaves
    nothing behind."""
    if model is not None and model not in services.conversations.available_models():
        offered = ", ".join(services.conversations.available_models())
        raise InvalidInput(f"The model {model!r} is not offered here. Models on offer: {offered}.")
    if model is None and system_prompt is None and temperature == "current":
        return services.turns.send(user_id=user_id, conversation_id=conversation_id, text=text)
    # refused before anything is created (a conversation named after text it refuses)
    text = validate_message(text, max_chars=services.settings.max_message_chars)
    created = conversation_id is None
    if conversation_id is None:
        # named from the question, as a conversation the message itself starts
        conversation_id = services.turns.new_conversation(user_id=user_id, title=title_for(text))
    try:
        _configure(
            services,
            user_id=user_id,
            conversation_id=conversation_id,
            model=model,
            system_prompt=system_prompt,
            temperature=temperature,
        )
        return services.turns.send(user_id=user_id, conversation_id=conversation_id, text=text)
    except ChatError:
        if created:
            with contextlib.suppress(ChatError):
                services.conversations.delete(user_id=user_id, conversation_id=conversation_id)
        raise


def _configure(
    services: Services,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    model: str | None,
    system_prompt: str | None,
    temperature: float | Literal["current"] | None,
) -> None:
    current = services.conversations.open(user_id=user_id, conversation_id=conversation_id, limit=0)
    wanted_model = model if model is not None else current.model
    wanted_prompt = system_prompt if system_prompt is not None else current.system_prompt
    wanted_temperature = current.temperature if temperature == "current" else temperature
    wanted = (wanted_model, wanted_prompt, wanted_temperature)
    if wanted != (current.model, current.system_prompt, current.temperature):
        services.conversations.configure(
            user_id=user_id,
            conversation_id=conversation_id,
            model=wanted_model,
            temperature=wanted_temperature,
            system_prompt=wanted_prompt,
        )
