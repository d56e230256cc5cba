"""The offline model's memory writing: an extractive summary and user-fact extraction.

The offline model has no language ability, so what it writes down is what the user wrote:
their own statements, verbatim, the newest winning where one restates another with a new
value, bounded in tokens; and the last few topics. Nothing here knows a kind of fact.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage

from chat.llm.statements import about_the_user, asks_about_the_user, keep_newest, user_statements
from chat.llm.titles import topic_of
from chat.llm.tokens import count_text_tokens

SUMMARY_HEADING = "What the user said (oldest first):"
TOPICS_PREFIX = "Recent topics:"
MAX_STATEMENT_TOKENS = 1000  # the statements a summary keeps, at most
MAX_STATEMENT_CHARS = 300
MAX_TOPICS = 5


def _previous_parts(summary: str) -> tuple[list[str], list[str]]:
    """The statements and topics of a summary this module wrote (any other text: each
    line a statement, so a summary an endpoint model wrote earlier is kept too)."""
    statements: list[str] = []
    topics: list[str] = []
    for line in summary.splitlines():
        line = line.strip()
        if not line or line == SUMMARY_HEADING:
            continue
        if line.startswith(TOPICS_PREFIX):
            body = line.removeprefix(TOPICS_PREFIX).strip()
            topics = [t.strip() for t in body.split(";") if t.strip() and t.strip() != "none"]
            continue
        statements.append(line.removeprefix("- ").strip())
    return statements, topics


def _bounded(statements: list[str], budget: int) -> list[str]:
    """Drop statements until they fit `budget` tokens: first the oldest that are not about
    the user, then the oldest of the rest."""
    kept = list(statements)

    def cost() -> int:
        return sum(count_text_tokens(s) + 2 for s in kept)

    while kept and cost() > budget:
        victim = next((s for s in kept if not about_the_user(s)), kept[0])
        kept.remove(victim)
    return kept


def user_lines(messages: Sequence[BaseMessage]) -> list[str]:
    """The user's statements in `messages` (the offline model's reading), oldest first."""
    human = [m for m in messages if m.type == "human"]
    return [s[:MAX_STATEMENT_CHARS] for s in user_statements(human)]


def summarise(messages: Sequence[BaseMessage], previous_summary: str = "") -> str:
    """The running summary updated with `messages`: every statement the user made (the
    newest where one supersedes another), within MAX_STATEMENT_TOKENS, and the last
    MAX_TOPICS topics."""
    statements, topics = _previous_parts(previous_summary)
    statements = _bounded(keep_newest([*statements, *user_lines(messages)]), MAX_STATEMENT_TOKENS)
    for message in messages:
        if message.type == "human" and not asks_about_the_user(message.text):
            topic = topic_of(message.text).replace(";", ",")
            if topic:
                topics = [t for t in topics if t != topic] + [topic]
    topics = topics[-MAX_TOPICS:]
    lines = [SUMMARY_HEADING, *(f"- {s}" for s in statements)] if statements else []
    lines.append(f"{TOPICS_PREFIX} {'; '.join(topics) or 'none'}")
    return "\n".join(lines)


def extract_user_facts(messages: Sequence[BaseMessage], known: Sequence[str] = ()) -> list[str]:
    """Facts about the user stated in `messages`, not already `known`: their statements
    that speak of themselves ("My daughter's school is St. Anne's.")."""
    seen = {k.strip().lower() for k in known}
    facts: list[str] = []
    for line in user_lines(messages):
        if about_the_user(line) and line.lower() not in seen:
            seen.add(line.lower())
            facts.append(line)
    return facts
