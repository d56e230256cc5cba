"""Memory of the user across conversations: facts the user told the assistant.

Facts are kept per user (user_memories), learnt after an answer has streamed (never before
the first token) by the conversation's model's memory writer (chat.llm.factory), and sent
as their own block: a system message with id "user-memory" whose metadata lists the fact
ids, so the context log and the inspector show it with its tokens. The user sees, edits,
adds and deletes them on the Memory page, and can switch the feature off, or off for one
conversation; an admin can switch it off for the whole instance.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from sqlalchemy.orm import Session, sessionmaker

from chat.auth.accounts import Account
from chat.errors import NotFound
from chat.llm.factory import memory_writer
from chat.llm.statements import about_the_user, statements_in, supersedes
from chat.llm.tokens import count_text_tokens
from chat.storage import repository
from chat.storage.db import unit_of_work
from chat.storage.repository import INSTANCE_SWITCH, MemoryFact
from chat.validation import TextField, clean

log = logging.getLogger(__name__)

BLOCK_ID = "user-memory"
BLOCK_HEADING = "What the user has told you (their saved memory, from any conversation):"
MAX_FACTS_IN_CONTEXT = 40
MAX_BLOCK_TOKENS = 600
MAX_FACT_CHARS = 300
FACT = TextField("The fact", MAX_FACT_CHARS, shape="line")


def memory_block(
    session: Session, *, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> SystemMessage | None:
    """The user-memory block for this conversation, or None (no facts, or switched off).
    The newest facts first fill MAX_BLOCK_TOKENS; the block lists them oldest first."""
    facts = repository.facts_for_context(
        session=session,
        user_id=user_id,
        conversation_id=conversation_id,
        limit=MAX_FACTS_IN_CONTEXT,
    )
    kept: list[tuple[uuid.UUID, str]] = []
    used = count_text_tokens(BLOCK_HEADING)
    for fact_id, content in reversed(facts):
        cost = count_text_tokens(content) + 2
        if used + cost > MAX_BLOCK_TOKENS:
            break
        kept.insert(0, (fact_id, content))
        used += cost
    if not kept:
        return None
    return SystemMessage(
        "\n".join([BLOCK_HEADING, *(f"- {content}" for _, content in kept)]),
        id=BLOCK_ID,
        response_metadata={"facts": [str(fact_id) for fact_id, _ in kept]},
    )


@dataclass(frozen=True)
class Learnt:
    added: int = 0
    replaced: int = 0
    failed: bool = False


def learn_from_last_answer(
    *,
    sessions: sessionmaker[Session],
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    model: BaseChatModel,
) -> Learnt:
    """After an answer: the facts the user stated in the question just answered, added to
    their memory (a fact that restates a kept one with a new value replaces it). Once per
    question; nothing when the memory is off for this conversation. The model is called
    with no connection held; its failure is logged and reported, never raised: the answer
    is safe, and memory is a bonus."""
    with unit_of_work(sessions) as session:
        last = repository.question_to_learn_from(
            session=session, user_id=user_id, conversation_id=conversation_id
        )
        if last is None:  # no question yet, or the memory is off for this conversation
            return Learnt()
        message_id, question = last
        if not any(about_the_user(s) for s in statements_in(question)):
            return Learnt()  # nothing said about themselves: no model call, no facts read
        if repository.facts_learnt_from(session=session, user_id=user_id, message_id=message_id):
            return Learnt()
        known = repository.list_facts(session=session, user_id=user_id, limit=200)
    try:
        facts = memory_writer(model).user_facts(
            [HumanMessage(question)], [fact.content for fact in known]
        )
    except Exception:
        log.exception("learning user facts failed for conversation %s", conversation_id)
        return Learnt(failed=True)
    if not facts:
        return Learnt()
    replaced: list[uuid.UUID] = []
    with unit_of_work(sessions) as session:
        for content in facts:
            content = content[:MAX_FACT_CHARS]
            replaced += [k.id for k in known if supersedes(content, k.content)]
            repository.add_fact(
                session=session,
                user_id=user_id,
                content=content,
                origin="extracted",
                conversation_id=conversation_id,
                message_id=message_id,
            )
        if replaced:
            repository.delete_facts(session=session, user_id=user_id, fact_ids=replaced)
    return Learnt(added=len(facts), replaced=len(set(replaced)))


@dataclass(frozen=True)
class MemoryOverview:
    facts: list[MemoryFact]
    enabled: bool  # the user's own switch
    instance_enabled: bool  # the admin's switch for everyone
    off_in: list[uuid.UUID]  # conversations where it is off


class UserMemoryService:
    """What the Memory page does, as plain functions of the user."""

    def __init__(self, *, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def overview(self, *, user_id: uuid.UUID) -> MemoryOverview:
        with unit_of_work(self.sessions) as session:
            return MemoryOverview(
                facts=repository.list_facts(session=session, user_id=user_id),
                enabled=repository.user_memory_enabled(session=session, user_id=user_id),
                instance_enabled=instance_enabled(session),
                off_in=repository.conversations_without_memory(session=session, user_id=user_id),
            )

    def add(self, *, user_id: uuid.UUID, content: str) -> uuid.UUID:
        text = _fact_text(content)
        with unit_of_work(self.sessions) as session:
            return repository.add_fact(
                session=session, user_id=user_id, content=text, origin="added"
            )

    def edit(self, *, user_id: uuid.UUID, fact_id: uuid.UUID, content: str) -> None:
        text = _fact_text(content)
        with unit_of_work(self.sessions) as session:
            repository.update_fact(session=session, user_id=user_id, fact_id=fact_id, content=text)

    def delete(self, *, user_id: uuid.UUID, fact_id: uuid.UUID) -> None:
        with unit_of_work(self.sessions) as session:
            if not repository.delete_facts(session=session, user_id=user_id, fact_ids=[fact_id]):
                raise NotFound("fact not found")

    def delete_all(self, *, user_id: uuid.UUID) -> int:
        with unit_of_work(self.sessions) as session:
            return repository.delete_all_facts(session=session, user_id=user_id)

    def set_enabled(self, *, user_id: uuid.UUID, enabled: bool) -> None:
        with unit_of_work(self.sessions) as session:
            repository.set_user_memory(session=session, user_id=user_id, enabled=enabled)

    def set_for_conversation(
        self, *, user_id: uuid.UUID, conversation_id: uuid.UUID, enabled: bool
    ) -> None:
        with unit_of_work(self.sessions) as session:
            repository.set_conversation_memory(
                session=session, user_id=user_id, conversation_id=conversation_id, enabled=enabled
            )

    def set_instance_enabled(self, *, actor: Account, enabled: bool) -> None:
        """The admin's switch for everyone."""
        if actor.role != "admin":
            raise NotFound("no such setting")
        with unit_of_work(self.sessions) as session:
            repository.set_app_setting(session=session, key=INSTANCE_SWITCH, value=enabled)


def instance_enabled(session: Session) -> bool:
    return repository.get_app_setting(session=session, key=INSTANCE_SWITCH) is not False


def _fact_text(content: str) -> str:
    return clean(content, FACT)


def after_answer(
    *,
    sessions: sessionmaker[Session],
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    model: BaseChatModel,
) -> None:
    """What memory does once an answer is stored, whatever the strategy: the user's memory
    learns from the question, and recall's vector search embeds the new messages. Each
    reports its own failures (logged); neither is raised: the answer is safe."""
    from chat.memory.vectors import embed_new_messages

    learn_from_last_answer(
        sessions=sessions, user_id=user_id, conversation_id=conversation_id, model=model
    )
    embed_new_messages(sessions=sessions, user_id=user_id, conversation_id=conversation_id)
