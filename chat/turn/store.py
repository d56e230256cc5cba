"""The database steps of a turn, each one short unit of work.

A turn touches the database twice from the turn service, and never while the model streams:

1. `open_turn` / `reopen_turn`: limits, the conversation's settings, the question with an
   empty answer placeholder (both pending) and the memory strategy's view of the history:
   one durable transaction, before the model. The view is handed to the history factory
   (chat/turn/history.py), which then has nothing left to read.
2. `finish_turn`: the turn service's last word on both rows and the context log, one
   statement. (The chain's own save skips the rows of turns in flight.)

They are plain functions so the turn service and bench/turn_overhead run the same code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage
from sqlalchemy.orm import Session, sessionmaker

from chat.auth.profile import Profile, personalised_prompt
from chat.errors import DatabaseBusy, InvalidInput
from chat.llm.tokens import (
    count_message_tokens,
    count_text_tokens,
    stored_message_tokens,
    tokens_are_approximate,
)
from chat.memory.strategies import ContextView, MemoryStrategy, ViewRequest, strategy_for
from chat.memory.views import read_view
from chat.settings import Settings
from chat.storage import repository
from chat.storage.db import single_statement, unit_of_work
from chat.storage.liveness import STALE_TURN_AFTER
from chat.turn.limits import check_limits, usage_to_count

SETTLED = ("complete", "interrupted", "error")


@dataclass
class TurnSetup:
    """What a turn runs with, read once in the unit of work that stores the question."""

    model_name: str
    temperature: float | None
    system_prompt: str
    strategy_name: str
    title: str
    name_after: str | None = None  # the current title, when this is the first exchange
    memory: MemoryStrategy | None = None  # the strategy the view below was read with
    view: ContextView | None = None  # its view of the history, read with the question


@dataclass(frozen=True)
class TurnRows:
    """The two rows a turn writes: the question and its answer."""

    conversation_id: uuid.UUID
    human_id: uuid.UUID
    reply_id: uuid.UUID
    question: str


def create_conversation(
    session: Session, settings: Settings, *, user_id: uuid.UUID, title: str
) -> uuid.UUID:
    """A new conversation with the configured defaults (strategy parameters editable later)."""
    strategy = strategy_for(settings.default_memory_strategy)
    params = dict(strategy.params)
    if strategy.name == "window":
        params["k"] = settings.default_window_turns
    conversation = repository.create_conversation(
        session=session,
        user_id=user_id,
        title=title,
        memory_strategy=strategy.name,
        memory_params=params,
        model=settings.model_choices[0],
        system_prompt=settings.default_system_prompt,
    )
    return conversation.id


def open_turn(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID | None,
    question: str,
    new_title: str = "New chat",
    instance_id: int | None = None,
) -> tuple[TurnSetup, TurnRows]:
    """Store a new question and its empty answer, both pending, in one transaction; with no
    conversation id, in a new conversation called `new_title` (created in that transaction).
    The placeholder names the app process (`instance_id`, see chat/storage/liveness.py), so that
    another process can tell when this one died with the turn in flight.

    Raises LimitReached (nothing stored) or NotFound (not the user's conversation)."""
    try:
        return _open_turn(
            sessions, settings, user_id, conversation_id, question, new_title, instance_id
        )
    except repository.PositionTaken:
        # Another tab's turn of this conversation took the positions first. Again, taking
        # the conversation's lock before anything else: then no one can take them.
        pass
    try:
        return _open_turn(
            sessions,
            settings,
            user_id,
            conversation_id,
            question,
            new_title,
            instance_id,
            lock_first=True,
        )
    except repository.PositionTaken as exc:  # not expected: the lock was held
        raise DatabaseBusy() from exc


def _open_turn(
    sessions: sessionmaker[Session],
    settings: Settings,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID | None,
    question: str,
    new_title: str,
    instance_id: int | None,
    *,
    lock_first: bool = False,
) -> tuple[TurnSetup, TurnRows]:
    with unit_of_work(sessions) as session:
        if conversation_id is None:  # rolled back with the rest when a limit refuses
            conversation_id = create_conversation(
                session, settings, user_id=user_id, title=new_title
            )
        repository.plan_once(session=session)
        if lock_first:
            repository.open_conversation(
                session=session, user_id=user_id, conversation_id=conversation_id
            )
        rows = TurnRows(
            conversation_id=conversation_id,
            human_id=uuid.uuid4(),
            reply_id=uuid.uuid4(),
            question=question,
        )
        opened, position = repository.open_new_turn(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            human_id=rows.human_id,
            reply_id=rows.reply_id,
            question=question,
            question_tokens=count_text_tokens(question),
            instance_id=instance_id,
            **usage_to_count(settings),
        )
        check_limits(settings, opened)  # refused: the whole transaction is rolled back
        settled = 0
        if opened.has_pending:  # a turn in flight, or one a dead process left behind
            settled = repository.settle_stale_turns(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                older_than=STALE_TURN_AFTER,
            )
        setup = _setup_of(settings, opened)
        if position == 1:
            setup.name_after = setup.title
        _read_view(
            session,
            setup,
            opened,
            current=not settled,  # settling changed rows since the conversation was read
            user_id=user_id,
            conversation_id=conversation_id,
        )
    return setup, rows


def reopen_turn(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    statuses: tuple[str, ...],
    refusal: str,
    reply_id: uuid.UUID | None = None,
    human_id: uuid.UUID | None = None,
    new_text: str | None = None,
    instance_id: int | None = None,
) -> tuple[TurnSetup, TurnRows]:
    """Reset the last exchange (question, answer) to pending so it can run again.

    The conversation row is locked (and marked as just used), so two tabs cannot restart the
    same exchange twice;
    the rows keep their ids and positions, so nothing is duplicated or orphaned."""
    with unit_of_work(sessions) as session:
        opened = repository.open_conversation(
            session=session, user_id=user_id, conversation_id=conversation_id
        )
        setup = _setup_of(settings, opened)
        last_two = repository.recent_messages(
            session=session, user_id=user_id, conversation_id=conversation_id, limit=2
        )
        if (
            len(last_two) != 2
            or last_two[0].role != "human"
            or last_two[1].role != "ai"
            or last_two[1].status not in statuses
            or (reply_id is not None and last_two[1].id != reply_id)
            or (human_id is not None and last_two[0].id != human_id)
        ):
            raise InvalidInput(refusal)
        human_row, reply_row = last_two
        text = human_row.content if new_text is None else new_text
        repository.finish_message(
            session=session,
            user_id=user_id,
            message_id=human_row.id,
            status="pending",
            content=text,
            token_count=count_text_tokens(text),
        )
        repository.finish_message(
            session=session,
            user_id=user_id,
            message_id=reply_row.id,
            status="pending",
            content="",
            token_count=0,
            meta={"instance": instance_id},
        )
        _read_view(
            session,
            setup,
            opened,
            current=False,  # the last exchange is pending again since it was read
            user_id=user_id,
            conversation_id=conversation_id,
        )
        return setup, TurnRows(
            conversation_id=conversation_id,
            human_id=human_row.id,
            reply_id=reply_row.id,
            question=text,
        )


def _setup_of(settings: Settings, opened: repository.OpenedConversation) -> TurnSetup:
    """What this turn runs with: the conversation's settings and the user's profile. Only a
    profile the user filled in on the account page personalises the prompt."""
    return TurnSetup(
        model_name=opened.model,
        temperature=opened.temperature,
        system_prompt=personalised_prompt(
            opened.system_prompt or settings.default_system_prompt,
            Profile.of(opened.display_name, opened.profile) if opened.profile else None,
        ),
        strategy_name=opened.memory_strategy,
        title=opened.title,
    )


def _read_view(
    session: Session,
    setup: TurnSetup,
    opened: repository.OpenedConversation,
    *,
    current: bool,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
) -> None:
    """The strategy's view of the history, read in the transaction that stored the
    question (the question itself is pending, so no view includes it). `current`: no row
    changed since `opened` was read, so the strategy may start from what it holds."""
    setup.memory = strategy_for(opened.memory_strategy, opened.memory_params)
    setup.view = read_view(
        session,
        setup.memory,
        ViewRequest(
            user_id=user_id, conversation_id=conversation_id, system_prompt=setup.system_prompt
        ),
    )


def finish_turn(
    sessions: sessionmaker[Session],
    *,
    user_id: uuid.UUID,
    rows: TurnRows,
    status: str,
    text: str,
    meta: dict[str, Any],
    sent: list[BaseMessage],
) -> dict[str, Any] | None:
    """The turn service's final word: the question settled, the answer's status and the text
    the user saw, and the context log of what the model received. Returns that log."""
    context = context_payload(sent, human_id=rows.human_id) if sent else None
    with single_statement(sessions) as session:
        repository.finish_turn_rows(
            session=session,
            user_id=user_id,
            conversation_id=rows.conversation_id,
            human_id=rows.human_id,
            reply_id=rows.reply_id,
            status=status,
            text=text,
            token_count=count_text_tokens(text) if text else 0,
            meta=meta,
            strategy=meta.get("strategy", ""),
            context=context,
        )
    return context


def context_payload(sent: list[BaseMessage], *, human_id: uuid.UUID) -> dict[str, Any]:
    """The inspector's record of one answer: each block the model received, with tokens
    (for messages of the history, from the counts stored with them, as the strategies
    count them)."""
    blocks = []
    for message in sent:
        meta = message.response_metadata or {}
        if message.id == str(human_id):
            kind = "input"
        elif message.id and message.id.startswith("summary"):
            kind = "summary"
        elif message.id == "user-memory":
            kind = "user_memory"
        elif message.type == "system" and not message.id:
            kind = "system"
        else:
            kind = "recalled" if meta.get("recalled") else "history"
        stored = meta.get("token_count")
        if kind in ("history", "recalled") and isinstance(stored, int):
            tokens = stored_message_tokens(stored)
        else:
            tokens = count_message_tokens(message)
        blocks.append(
            {
                "kind": kind,
                "role": message.type,
                "content": message.text,
                "message_id": message.id,
                "position": meta.get("position"),
                "covers_position": meta.get("covers_position"),
                "tokens": tokens,
                # why a message was recalled, which facts a user-memory block holds
                **{key: meta[key] for key in ("score", "matched", "how", "facts") if key in meta},
            }
        )
    return {
        "blocks": blocks,
        "total_tokens": sum(block["tokens"] for block in blocks),
        "approximate": tokens_are_approximate(),
    }
