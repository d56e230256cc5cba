"""Token economics of a conversation: context size per answer, usage, estimated cost.

Context tokens come from the stored context log (what we measured we sent); prompt and
completion tokens from the provider's reported usage when it gave any. Cost is an estimate
from the per-model prices in settings, so the number is only as good as those prices.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from chat.llm.factory import OFFLINE
from chat.storage import repository
from chat.storage.db import unit_of_work

PER_MILLION = 1_000_000


@dataclass(frozen=True)
class AnswerTokens:
    turn: int  # 1-based answer number in the conversation window shown
    position: int
    strategy: str
    model: str
    context_tokens: int
    input_tokens: int | None  # as reported by the provider
    output_tokens: int | None
    cost: float | None  # USD; None when the model has no configured price


@dataclass(frozen=True)
class Economics:
    answers: list[AnswerTokens]

    @property
    def input_tokens(self) -> int:
        return sum(a.input_tokens or 0 for a in self.answers)

    @property
    def output_tokens(self) -> int:
        return sum(a.output_tokens or 0 for a in self.answers)

    @property
    def cost(self) -> float | None:
        """Total estimated cost; None when no answer has a priced model."""
        priced = [a.cost for a in self.answers if a.cost is not None]
        return sum(priced) if priced else None

    @property
    def unpriced_models(self) -> list[str]:
        return sorted({a.model for a in self.answers if a.cost is None})


def estimate_cost(
    model: str, input_tokens: int | None, output_tokens: int | None, prices: dict[str, list[float]]
) -> float | None:
    if model == OFFLINE:
        return 0.0
    price = prices.get(model)
    if not price or len(price) != 2 or input_tokens is None:
        return None
    return (input_tokens * price[0] + (output_tokens or 0) * price[1]) / PER_MILLION


def token_economics(
    *,
    sessions: sessionmaker[Session],
    prices: dict[str, list[float]],
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    limit: int = 200,
) -> Economics:
    """The last `limit` answers of the user's conversation (bounded, one indexed query)."""
    with unit_of_work(sessions) as session:
        rows = repository.answer_economics(
            session=session, user_id=user_id, conversation_id=conversation_id, limit=limit
        )
    answers = []
    for number, row in enumerate(rows, start=1):
        usage = row.meta.get("usage") or {}
        model = str(row.meta.get("model") or OFFLINE)
        input_tokens = usage.get("input_tokens")
        output_tokens = usage.get("output_tokens")
        answers.append(
            AnswerTokens(
                turn=number,
                position=row.position,
                strategy=row.strategy,
                model=model,
                context_tokens=row.context_tokens,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost=estimate_cost(model, input_tokens, output_tokens, prices),
            )
        )
    return Economics(answers=answers)
