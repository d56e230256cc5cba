"""The database steps of a turn, each one short unit of work, none while the model runs.

1. `open_turn` / `reopen_turn`: lock the conversation, check the limits, store the question
   and an empty answer (both pending) and return what the turn runs with.
2. `save_progress`: the answer's text so far, a few times a second while it streams (so a
   reload, another tab or another replica can follow it, and a crash keeps it).
3. `finish_turn`: the last word on both rows and the context log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage
from sqlalchemy.orm import Session, sessionmaker

from chat.auth.preferences import (
    new_conversation_model,
    new_conversation_prompt,
    read_preferences,
)
from chat.auth.profile import Profile, personalised_prompt
from chat.errors import AnswerInProgress, InvalidInput
from chat.llm.tokens import (
    count_message_tokens,
    count_text_tokens,
    stored_message_tokens,
    tokens_are_approximate,
)
from chat.memory.strategies import strategy_for
from chat.settings import Settings
from chat.storage import repository
from chat.storage.db import unit_of_work
from chat.storage.liveness import STALE_TURN_AFTER
from chat.storage.tables import Conversation
from chat.turn.limits import check_limits

SETTLED = ("complete", "interrupted", "error")


@dataclass(frozen=True)
class TurnSetup:
    """What a turn runs with, read in the unit of work that stores the question."""

    model_name: str
    temperature: float | None
    system_prompt: str  # personalised with the user's profile
    strategy_name: str
    title: str
    first_exchange: bool  # the conversation's first question: a model may name it after


@dataclass(frozen=True)
class TurnRows:
    """The two rows a turn writes: the question and its answer."""

    conversation_id: uuid.UUID
    human_id: uuid.UUID
    reply_id: uuid.UUID
    question: str
    # This run of the answer (stored in its meta): a run that was stopped or given up for
    # dead cannot overwrite the retry that reused its rows.
    attempt: str = field(default_factory=lambda: uuid.uuid4().hex)


def create_conversation(
    session: Session, settings: Settings, *, user_id: uuid.UUID, title: str
) -> uuid.UUID:
    """A new conversation with the user's default model and persona (Account page), else
    the configured defaults; all of it editable later."""
    strategy = strategy_for(settings.default_memory_strategy)
    params = dict(strategy.params)
    if strategy.name == "window":
        params["k"] = settings.default_window_turns
    preferences = read_preferences(session, user_id=user_id)
    conversation = repository.create_conversation(
        session=session,
        user_id=user_id,
        title=title,
        memory_strategy=strategy.name,
        memory_params=params,
        model=new_conversation_model(settings, preferences),
        system_prompt=new_conversation_prompt(settings, preferences),
    )
    return conversation.id


def open_turn(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID | None,
    question: str,
    new_title: str,
    instance_id: int | None,
) -> tuple[TurnSetup, TurnRows]:
    """Store a new question and its empty answer, both pending; with no conversation id, in
    a new conversation called `new_title`. The answer names the app process (`instance_id`,
    see chat/storage/liveness.py), so another process can tell when this one died with it.

    Raises LimitReached (nothing stored), NotFound (not the user's conversation) or
    AnswerInProgress (an answer of this conversation is still arriving)."""
    with unit_of_work(sessions) as session:
        if conversation_id is None:  # rolled back with the rest when a limit refuses
            conversation_id = create_conversation(
                session, settings, user_id=user_id, title=new_title
            )
        conversation = repository.get_conversation(
            session=session, user_id=user_id, conversation_id=conversation_id, lock=True
        )
        check_limits(session, settings, user_id=user_id)
        _refuse_while_in_flight(session, user_id=user_id, conversation_id=conversation_id)
        position = repository.next_position(
            session=session, user_id=user_id, conversation_id=conversation_id
        )
        rows = TurnRows(
            conversation_id=conversation_id,
            human_id=uuid.uuid4(),
            reply_id=uuid.uuid4(),
            question=question,
        )
        repository.insert_turn_rows(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            position=position,
            human_id=rows.human_id,
            reply_id=rows.reply_id,
            question=question,
            question_tokens=count_text_tokens(question),
            reply_meta={
                "model": conversation.model,
                "instance": instance_id,
                "attempt": rows.attempt,
            },
        )
        repository.touch_conversation(
            session=session, user_id=user_id, conversation_id=conversation_id
        )
        setup = _setup_of(session, settings, conversation, first_exchange=position == 1)
    return setup, rows


def reopen_turn(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    statuses: tuple[str, ...],
    refusal: str,
    instance_id: int | None,
    reply_id: uuid.UUID | None = None,
    human_id: uuid.UUID | None = None,
    new_text: str | None = None,
) -> tuple[TurnSetup, TurnRows]:
    """Set the last exchange (question, answer) pending again so it can run anew, in the
    same two rows: nothing is duplicated or orphaned. The conversation's lock keeps two tabs
    from restarting the same exchange twice."""
    with unit_of_work(sessions) as session:
        conversation = repository.get_conversation(
            session=session, user_id=user_id, conversation_id=conversation_id, lock=True
        )
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
        rows = TurnRows(
            conversation_id=conversation_id,
            human_id=human_row.id,
            reply_id=reply_row.id,
            question=text,
        )
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
            meta={
                "instance": instance_id,
                "model": conversation.model,
                "attempt": rows.attempt,
                "stop_requested": False,
            },
        )
        repository.touch_conversation(
            session=session, user_id=user_id, conversation_id=conversation_id
        )
        setup = _setup_of(session, settings, conversation, first_exchange=False)
    return setup, rows


def _refuse_while_in_flight(
    session: Session, *, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> None:
    """One answer at a time per conversation: the next question must see it. Answers
    left pending by a process that is gone are settled first."""
    if not repository.has_pending_turn(
        session=session, user_id=user_id, conversation_id=conversation_id
    ):
        return
    repository.settle_stale_turns(
        session=session,
        user_id=user_id,
        conversation_id=conversation_id,
        older_than=STALE_TURN_AFTER,
    )
    if repository.has_pending_turn(
        session=session, user_id=user_id, conversation_id=conversation_id
    ):
        raise AnswerInProgress()


def _setup_of(
    session: Session, settings: Settings, conversation: Conversation, *, first_exchange: bool
) -> TurnSetup:
    """The conversation's settings and its owner's profile. Only a profile the user filled
    in on the account page personalises the prompt. A conversation whose prompt was left
    blank gets what a new one would: the user's persona, else the app's prompt."""
    user = repository.get_user(session=session, user_id=conversation.user_id)
    profile = Profile.of(user.display_name, user.profile) if user and user.profile else None
    prompt = conversation.system_prompt or new_conversation_prompt(
        settings, read_preferences(session, user_id=conversation.user_id)
    )
    return TurnSetup(
        model_name=conversation.model,
        temperature=conversation.temperature,
        system_prompt=personalised_prompt(prompt, profile),
        strategy_name=conversation.memory_strategy,
        title=conversation.title,
        first_exchange=first_exchange,
    )


def save_progress(
    sessions: sessionmaker[Session], *, user_id: uuid.UUID, rows: TurnRows, text: str
) -> bool:
    """The answer's text so far. Returns whether a stop was asked for it meanwhile."""
    with unit_of_work(sessions) as session:
        return repository.save_partial_answer(
            session=session,
            user_id=user_id,
            reply_id=rows.reply_id,
            attempt=rows.attempt,
            text=text,
        )


def request_stop(
    sessions: sessionmaker[Session], *, user_id: uuid.UUID, reply_id: uuid.UUID
) -> bool:
    """Flag an answer in flight so the process streaming it stops (see save_progress)."""
    with unit_of_work(sessions) as session:
        return repository.request_stop(session=session, user_id=user_id, reply_id=reply_id)


def finish_turn(
    sessions: sessionmaker[Session],
    *,
    user_id: uuid.UUID,
    rows: TurnRows,
    status: str,
    text: str,
    meta: dict[str, Any],
    sent: list[BaseMessage],
    only_if_pending: bool = False,
) -> dict[str, Any] | None:
    """The turn's last word: the question settled, the answer's status and the text the
    user saw, and the context log of what the model received (stored by reference).
    Returns that log with its text.
    `only_if_pending`: leave an answer that has ended already as it is (a stop that comes
    after the end). NotFound when the rows are no longer this attempt's."""
    context = context_payload(sent, human_id=rows.human_id) if sent else None
    with unit_of_work(sessions) as session:
        repository.settle_turn_rows(
            session=session,
            user_id=user_id,
            human_id=rows.human_id,
            reply_id=rows.reply_id,
            attempt=rows.attempt,
            only_if_pending=only_if_pending,
            status=status,
            text=text,
            token_count=count_text_tokens(text) if text else 0,
            meta=meta,
        )
        if context is not None:
            repository.upsert_context_log(
                session=session,
                user_id=user_id,
                conversation_id=rows.conversation_id,
                message_id=rows.reply_id,
                strategy=meta.get("strategy", ""),
                payload=by_reference(context),
            )
    return context


def context_payload(sent: list[BaseMessage], *, human_id: uuid.UUID) -> dict[str, Any]:
    """The inspector's record of one answer: each block the model received, its text and
    its tokens (for stored messages, from the count stored with them, as the strategies
    count them), and what it refers to: a stored message by its id, a summary by its
    strategy and version. Recalled messages say why they were chosen, the user-memory block
    which facts it holds. by_reference() is the form that is stored."""
    blocks = []
    input_id = str(human_id)
    for message in sent:
        meta = message.response_metadata or {}
        block: dict[str, Any] = {"role": message.type, "content": message.text}
        if message.id == input_id:
            block |= {"kind": "input", "message_id": message.id}
        elif message.id and message.id.startswith("summary"):
            block |= {
                "kind": "summary",
                "strategy": meta.get("strategy"),
                "version": meta.get("version"),
                "covers_position": meta.get("covers_position"),
            }
        elif message.id == "user-memory":  # facts can be edited later: kept as sent
            block |= {"kind": "user_memory", "facts": meta.get("facts") or []}
        elif meta.get("position") is not None:
            block |= {
                "kind": "recalled" if meta.get("recalled") else "history",
                "message_id": message.id,
                "position": meta["position"],
            }
            if meta.get("recalled"):  # why it was chosen
                block |= {key: meta[key] for key in ("score", "matched", "how") if key in meta}
        elif message.type == "system" and not message.id:
            block |= {"kind": "system"}
        else:  # a block of its own: kept as sent
            block |= {"kind": message.id or message.type}
        stored = meta.get("token_count")
        if block["kind"] in ("history", "recalled") and isinstance(stored, int):
            block["tokens"] = stored_message_tokens(stored)
        else:
            block["tokens"] = count_message_tokens(message)
        blocks.append(block)
    return {
        "blocks": blocks,
        "total_tokens": sum(block["tokens"] for block in blocks),
        "approximate": tokens_are_approximate(),
    }


def by_reference(payload: dict[str, Any]) -> dict[str, Any]:
    """A context record without the text of what is stored elsewhere (messages, summary
    versions): its size grows neither with the length of the messages nor with their
    number. Only what is stored nowhere else (the system prompt, which the conversation's
    settings may change later) keeps its text. History messages at consecutive positions
    are named together, by their first and last position: their ids, roles and token
    counts are the stored messages' own, read back with their text, so a full buffer's
    history costs one block however long the conversation. `block_count` keeps how many
    blocks the model received. chat/conversations/inspector.py rebuilds the rest."""
    blocks: list[dict[str, Any]] = []
    for block in payload["blocks"]:
        if block["kind"] == "history":
            previous = blocks[-1] if blocks else None
            if (
                previous
                and previous["kind"] == "history"
                and previous["last_position"] == block["position"] - 1
            ):
                previous["last_position"] = block["position"]
            else:
                blocks.append(
                    {
                        "kind": "history",
                        "first_position": block["position"],
                        "last_position": block["position"],
                    }
                )
            continue
        referenced = block.get("message_id") or block.get("version") is not None
        blocks.append({k: v for k, v in block.items() if not (referenced and k == "content")})
    return {**payload, "blocks": blocks, "block_count": len(payload["blocks"])}
