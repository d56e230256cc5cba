"""The memory lab: replay one transcript under every memory strategy, side by side.

Why a replay through the real turn service rather than a simulation: what the lab shows is
then exactly what the chat would have sent. It runs on the offline model (no cost) as a
scratch user (role "lab", disabled: it cannot log in) whose rows are deleted when the replay
ends; one left by a process that died is deleted by a later replay. Each turn is the chat's
own short transactions, so no connection is held for the whole replay. A replay is
bounded: one per user at a time, a few per process, and a time limit (ReplayGate).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from sqlalchemy.orm import Session, sessionmaker

from chat.conversations.lab_gate import gate_for
from chat.errors import ChatError, InvalidInput
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


LAB_ROLE = "lab"  # scratch users of replays: no real account has this role
STALE_LAB_USERS_AFTER_S = 3600
Progress = Callable[[int, int], None]  # (turns done, turns in all)


class ReplayTimeout(ChatError):
    pass


def replay(
    *,
    sessions: sessionmaker[Session],
    settings: Settings,
    turns: Sequence[LabTurn],
    owner: str = "",
    params: dict[str, dict[str, Any]] | None = None,
    strategies: Sequence[str] = tuple(STRATEGIES),
    user_memory: bool = False,
    progress: Progress | None = None,
) -> list[StrategyRun]:
    """Run `turns` under each strategy with the offline model, as a scratch user deleted
    at the end. `user_memory`: the scratch user's memory is on (facts learnt after each
    answer enter the next contexts, as in the chat). Raises InvalidInput when `owner`
    already runs one or the process runs its limit, ReplayTimeout past the time limit."""
    planted = {item.probe.fact: item.probe.expect for item in turns if item.probe}
    deadline = time.monotonic() + settings.lab_time_limit
    total = len(turns) * len(strategies)
    with gate_for(settings).slot(owner or f"anonymous-{uuid.uuid4()}"):
        with unit_of_work(sessions) as session:
            repository.delete_stale_scratch_users(
                session=session, role=LAB_ROLE, older_than_s=STALE_LAB_USERS_AFTER_S
            )
            user = repository.create_user(
                session=session,
                username=f"lab-{uuid.uuid4().hex}",
                display_name="Memory lab",
                email="lab@invalid",
                password_hash="!",
                role=LAB_ROLE,
            )
            repository.set_user_flags(session=session, user_id=user.id, disabled=True)
            repository.set_user_memory(session=session, user_id=user.id, enabled=user_memory)
            user_id = user.id
        try:
            runs = []
            for index, name in enumerate(strategies):
                strategy_params = {**STRATEGIES[name].defaults, **(params or {}).get(name, {})}
                runs.append(
                    _replay_one(
                        sessions,
                        settings,
                        user_id,
                        turns,
                        name,
                        strategy_params,
                        planted,
                        deadline=deadline,
                        progress=_offset(progress, index * len(turns), total),
                    )
                )
            return runs
        finally:
            with unit_of_work(sessions) as session:
                repository.delete_scratch_user(session=session, user_id=user_id, role=LAB_ROLE)


def _offset(
    progress: Progress | None, done_before: int, total: int
) -> Callable[[int], None] | None:
    """One strategy's progress as progress over the whole replay."""
    if progress is None:
        return None
    report = progress
    return lambda done: report(done_before + done, total)


def _replay_one(
    sessions: sessionmaker[Session],
    settings: Settings,
    user_id: uuid.UUID,
    turns: Sequence[LabTurn],
    strategy: str,
    params: dict[str, Any],
    planted: dict[str, str],
    *,
    deadline: float,
    progress: Callable[[int], None] | None,
) -> StrategyRun:
    with unit_of_work(sessions) as session:
        conversation = repository.create_conversation(
            session=session,
            user_id=user_id,
            title="Memory lab",
            memory_strategy=strategy,
            memory_params=params,
            model="offline",
            system_prompt=settings.default_system_prompt,
        )
        conversation_id = conversation.id
    # The chat's per-user limits are for real messages: a replay sends hundreds in seconds,
    # to the offline model, as a scratch user that is deleted afterwards.
    unlimited = settings.model_copy(update={"messages_per_minute": 0, "daily_token_quota": 0})
    service = TurnEngine(
        sessions=sessions, settings=unlimited, model_factory=lambda _name: WholeAnswerOfflineModel()
    )
    run = StrategyRun(strategy=strategy, params=params)
    context_text = ""
    for index, item in enumerate(turns):
        if time.monotonic() > deadline:
            raise ReplayTimeout(
                f"The replay was stopped after {settings.lab_time_limit:.0f} seconds, the "
                "lab's time limit. Try a shorter transcript or fewer strategies."
            )
        turn = service.send(user_id=user_id, conversation_id=conversation_id, text=item.user)
        answer = "".join(turn.stream())
        turn.wait()  # the memory update after the answer, before the next question
        context = turn.outcome.context or {"blocks": [], "total_tokens": 0}
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
        if progress is not None:
            progress(index + 1)
    run.remembered = {
        f"{key}: {value}": value.lower() in context_text.lower() for key, value in planted.items()
    }
    return run


def summary_json(runs: Sequence[StrategyRun]) -> dict[str, Any]:
    """What `python -m chat lab replay --json` prints: per strategy, its parameters, mean
    and max context tokens, and the share of probes in context and in the answer."""
    return {
        "strategies": [
            {
                "name": run.strategy,
                "params": run.params,
                "mean_tokens": round(run.mean_tokens, 1),
                "max_tokens": max(run.context_tokens, default=0),
                "recall_context": run.recall(),
                "recall_answer": run.recall(where="answer"),
            }
            for run in runs
        ]
    }
