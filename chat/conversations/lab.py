"""The memory lab: replay one transcript under every memory strategy, side by side.

Why a replay through the real turn service rather than a simulation: what the lab shows is
then exactly what the chat would have sent. It runs on the offline model (no cost) inside a
scratch user and conversations in one database transaction that is always rolled back, so a
replay never touches the user's data, whatever happens.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from chat.errors import InvalidInput
from chat.llm.offline import OfflineChatModel
from chat.memory.strategies import STRATEGIES
from chat.settings import Settings
from chat.storage import repository
from chat.storage.db import unit_of_work
from chat.turn.engine import TurnEngine
from chat.validation import TextField, clean, is_blank, unstorable_reason

BUNDLED = Path(__file__).resolve().parents[1] / "data" / "memory_probe.jsonl"
MAX_UPLOAD_BYTES = 512_000
MAX_TURNS = 300
DEFAULT_MAX_CHARS = int(Settings.model_fields["max_message_chars"].default)


class WholeAnswerOfflineModel(OfflineChatModel):
    """The offline model answering in one chunk: the same words, without paying the
    per-chunk streaming machinery hundreds of times in a replay nobody watches."""

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        answer = self._answer(messages, stop)
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content=answer,
                usage_metadata=self._usage(messages, answer),
                chunk_position="last",
            )
        )


@dataclass(frozen=True)
class Probe:
    fact: str
    expect: str


@dataclass(frozen=True)
class LabTurn:
    user: str
    probe: Probe | None = None


@dataclass
class ProbeResult:
    turn: int
    fact: str
    expect: str
    in_context: bool
    in_answer: bool


@dataclass
class StrategyRun:
    strategy: str
    params: dict[str, Any]
    context_tokens: list[int] = field(default_factory=list)
    history_tokens: list[int] = field(default_factory=list)  # verbatim earlier messages only
    probes: list[ProbeResult] = field(default_factory=list)
    remembered: dict[str, bool] = field(default_factory=dict)  # planted fact -> in last context

    @property
    def total_tokens(self) -> int:
        return sum(self.context_tokens)

    @property
    def mean_tokens(self) -> float:
        return self.total_tokens / len(self.context_tokens) if self.context_tokens else 0.0

    def recall(self, *, where: str = "context") -> float | None:
        if not self.probes:
            return None
        hits = [p.in_context if where == "context" else p.in_answer for p in self.probes]
        return sum(hits) / len(hits)


def parse_transcript(data: bytes, *, max_chars: int = DEFAULT_MAX_CHARS) -> list[LabTurn]:
    """A JSONL transcript (one {"user": ..., "probe": {"fact", "expect"} | null} per line).
    Raises InvalidInput with the line at fault, so the user can fix the file.

    Each 'user' text passes the same checks as a typed message (at most `max_chars`, the
    chat's limit), here rather than halfway through a replay. A byte-order mark is accepted
    (editors on Windows write one), and lines end at a newline only: a JSON string may hold
    a raw U+2028 or U+0085, which `str.splitlines` would cut."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(f"The file is too large (at most {MAX_UPLOAD_BYTES // 1000} kB).")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("The file is not UTF-8 text. Save it as UTF-8 and try again.") from exc
    field = TextField("the 'user' text", max_chars)
    turns: list[LabTurn] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"Line {number} is not valid JSON ({exc.msg}).") from exc
        if not isinstance(row, dict):
            raise InvalidInput(f"Line {number} must be a JSON object with a 'user' field.")
        user = row.get("user")
        if not isinstance(user, str) or is_blank(user):
            raise InvalidInput(f"Line {number} needs a non-empty text in 'user'.")
        try:
            clean(user, field)
        except InvalidInput as exc:
            raise InvalidInput(f"Line {number}: {exc.user_message}") from exc
        probe = row.get("probe")
        if probe is not None and not (
            isinstance(probe, dict)
            and isinstance(probe.get("fact"), str)
            and isinstance(probe.get("expect"), str)
            and probe["expect"].strip()
        ):
            raise InvalidInput(
                f'Line {number}: \'probe\' must be null or {{"fact": ..., "expect": ...}}.'
            )
        if probe and (reason := unstorable_reason(probe["fact"] + probe["expect"])):
            raise InvalidInput(f"Line {number}: the probe {reason}. Remove it and try again.")
        turns.append(LabTurn(user, Probe(probe["fact"], probe["expect"]) if probe else None))
        if len(turns) > MAX_TURNS:
            raise InvalidInput(f"The transcript has more than {MAX_TURNS} turns.")
    if not turns:
        raise InvalidInput("The file has no turns: one JSON object per line, with 'user'.")
    return turns


def bundled_transcript() -> list[LabTurn]:
    return parse_transcript(BUNDLED.read_bytes())


def conversation_transcript(
    *, sessions: sessionmaker[Session], user_id: uuid.UUID, conversation_id: uuid.UUID
) -> list[LabTurn]:
    """The user's questions in one of their conversations (the most recent MAX_TURNS)."""
    with unit_of_work(sessions) as session:
        rows = repository.recent_messages(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            limit=MAX_TURNS * 2,
        )
    turns = [LabTurn(row.content) for row in rows if row.role == "human" and row.content]
    if not turns:
        raise InvalidInput("This conversation has no messages to replay yet.")
    return turns[-MAX_TURNS:]


def replay(
    *,
    engine: Engine,
    settings: Settings,
    turns: Sequence[LabTurn],
    params: dict[str, dict[str, Any]] | None = None,
    strategies: Sequence[str] = tuple(STRATEGIES),
) -> list[StrategyRun]:
    """Run `turns` under each strategy with the offline model; nothing is kept."""
    planted = {item.probe.fact: item.probe.expect for item in turns if item.probe}
    runs = []
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            sessions = sessionmaker(
                bind=connection,
                expire_on_commit=False,
                join_transaction_mode="create_savepoint",
            )
            for name in strategies:
                strategy_params = {**STRATEGIES[name].defaults, **(params or {}).get(name, {})}
                runs.append(_replay_one(sessions, settings, turns, name, strategy_params, planted))
        finally:
            transaction.rollback()
    return runs


def _replay_one(
    sessions: sessionmaker[Session],
    settings: Settings,
    turns: Sequence[LabTurn],
    strategy: str,
    params: dict[str, Any],
    planted: dict[str, str],
) -> StrategyRun:
    with unit_of_work(sessions) as session:
        user = repository.create_user(
            session=session,
            username=f"lab-{uuid.uuid4().hex}",
            display_name="Memory lab",
            email="lab@invalid",
            password_hash="!",
        )
        conversation = repository.create_conversation(
            session=session,
            user_id=user.id,
            title="Memory lab",
            memory_strategy=strategy,
            memory_params=params,
            model="offline",
            system_prompt=settings.default_system_prompt,
        )
        user_id, conversation_id = user.id, conversation.id
    # The chat's per-user limits are for real messages: a replay sends hundreds in seconds,
    # to the offline model, as a scratch user that the rollback removes.
    unlimited = settings.model_copy(update={"messages_per_minute": 0, "daily_token_quota": 0})
    service = TurnEngine(
        sessions=sessions, settings=unlimited, model_factory=lambda _name: WholeAnswerOfflineModel()
    )
    run = StrategyRun(strategy=strategy, params=params)
    context_text = ""
    for index, item in enumerate(turns):
        turn = service.send(user_id=user_id, conversation_id=conversation_id, text=item.user)
        answer = "".join(turn.stream())
        context = turn.outcome.context or {"blocks": [], "total_tokens": 0}
        service.update_memory(user_id=user_id, conversation_id=conversation_id)
        run.context_tokens.append(int(context["total_tokens"]))
        run.history_tokens.append(
            sum(int(b["tokens"]) for b in context["blocks"] if b["kind"] == "history")
        )
        # what the model knew before this question: everything but the new input
        context_text = "\n".join(b["content"] for b in context["blocks"] if b["kind"] != "input")
        if item.probe is not None:
            expect = item.probe.expect.lower()
            run.probes.append(
                ProbeResult(
                    turn=index,
                    fact=item.probe.fact,
                    expect=item.probe.expect,
                    in_context=expect in context_text.lower(),
                    in_answer=expect in answer.lower(),
                )
            )
    run.remembered = {
        f"{key}: {value}": value.lower() in context_text.lower() for key, value in planted.items()
    }
    return run
