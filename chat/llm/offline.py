"""The offline demo model: a real LangChain chat model that needs no network.

Why: with no API key configured the app must still run end to end (streaming, usage, stop,
errors, summaries), and tests need a model they can drive without mocks. Its answers are
built only from the messages it is given, so a memory strategy's forgetting is visible: asked
about something of the user's, it ranks the user's earlier statements in its context against
the question (chat/llm/statements.py) and quotes what it found, or says it cannot see it. It
knows no kinds of fact. It says it is a demo model in every answer.
"""

from __future__ import annotations

import asyncio
import re
import time
import zlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from chat.llm import extractive
from chat.llm.statements import (
    asks_about_the_user,
    best_recollection,
    is_question,
    sentences,
    statements_in,
    user_statements,
    words,
)
from chat.llm.titles import topic_of
from chat.llm.tokens import count_messages_tokens, count_text_tokens

# --- replies -----------------------------------------------------------------------------

_GENERIC_REPLIES = (
    "Here is a short note on {topic}: start from the basics, practise a little at a time, "
    "and check each step against a trusted source.",
    "On {topic}: the key is to understand the core idea first, then try it on a small "
    "example before going further.",
    "A quick answer about {topic}: keep it simple, learn from one common mistake at a time, "
    "and build up from there.",
)
_GREETING = re.compile(r"^(?:hi|hello|hey|good\s+(?:morning|afternoon|evening)|how\s+are\s+you)\b")


def _quote(text: str) -> str:
    return f"\u201c{text.rstrip().rstrip('.')}\u201d"


def _reply(messages: Sequence[BaseMessage]) -> str:
    """The whole deterministic answer to `messages`, built only from what they contain."""
    count = len(messages)
    plural = "message" if count == 1 else "messages"
    header = f"(Offline demo model \u2014 I can see {count} {plural} in my context.)"
    last_index = next((i for i in range(count - 1, -1, -1) if messages[i].type == "human"), None)
    last = messages[last_index].text if last_index is not None else ""
    earlier = [m for i, m in enumerate(messages) if i != last_index]
    parts: list[str] = []
    stated = statements_in(last)
    if stated:
        parts.append("Noted: " + " ".join(_quote(s) for s in stated))
    question = " ".join(s for s in sentences(last) if is_question(s))
    found = best_recollection(question, user_statements(earlier)) if question else []
    # A question about the user's own things, or one an earlier statement mostly answers
    # word for word ("When is the report deadline?"): answered from what was said.
    recalled = bool(found) and (found[0].coverage >= 1 / 2 or asks_about_the_user(last))
    if recalled or asks_about_the_user(last):
        if recalled:
            said = "You told me " + _quote(found[0].text)
            if len(found) > 1:
                said += "; earlier also " + _quote(found[1].text)
            parts.append(said + ".")
        else:
            parts.append(
                "I can't find anything about that in the messages I can see: "
                "it may have left my context."
            )
        return f"{header}\n\n{' '.join(parts)}"
    topic = topic_of(last)
    greeting = _GREETING.match(last.strip().lower()) and len(words(last)) <= 5
    if greeting or not (topic or stated):
        parts.append("Hello! Ask me anything: I answer only from the messages I can see.")
    elif topic:
        template = _GENERIC_REPLIES[zlib.crc32(topic.encode()) % len(_GENERIC_REPLIES)]
        parts.append(template.format(topic=topic))
    return f"{header}\n\n{' '.join(parts)}"


def _apply_stop(text: str, stop: Sequence[str] | None) -> str:
    """Cut at the first stop sequence, as a provider would."""
    cut = min((i for s in stop or () if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


class OfflineChatModel(BaseChatModel):
    """Answers from its context alone, streamed word by word; needs no network.

    `token_delay` slows streaming down for demos and for testing "stop"; `fail_with` makes
    every call raise `RuntimeError(fail_with)` (after `fail_after` streamed chunks), so tests
    can simulate a failing provider without mocks.
    """

    model_name: str = "offline"
    token_delay: float = 0.0
    fail_with: str | None = None
    fail_after: int = 0
    stop: list[str] | None = None

    @property
    def _llm_type(self) -> str:
        return "offline"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop or self.stop, **kwargs)
        params["ls_provider"] = "offline"
        return params

    def _answer(self, messages: list[BaseMessage], stop: list[str] | None) -> str:
        return _apply_stop(_reply(messages), stop if stop is not None else self.stop)

    def _usage(self, messages: list[BaseMessage], answer: str) -> UsageMetadata:
        input_tokens = count_messages_tokens(messages)
        output_tokens = count_text_tokens(answer)
        return UsageMetadata(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.fail_with is not None:
            raise RuntimeError(self.fail_with)
        answer = self._answer(messages, stop)
        message = AIMessage(
            content=answer,
            usage_metadata=self._usage(messages, answer),
            response_metadata={
                "model_name": kwargs.get("model") or self.model_name,
                "finish_reason": "stop",
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _chunks(
        self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        """The answer word by word (whitespace kept); the last chunk carries usage."""
        answer = self._answer(messages, stop)
        words = re.findall(r"\s*\S+\s*", answer) or [answer]
        for index, word in enumerate(words):
            if self.fail_with is not None and index >= self.fail_after:
                raise RuntimeError(self.fail_with)
            if index < len(words) - 1:
                yield ChatGenerationChunk(message=AIMessageChunk(content=word))
                continue
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content=word,
                    usage_metadata=self._usage(messages, answer),
                    response_metadata={
                        "model_name": kwargs.get("model") or self.model_name,
                        "finish_reason": "stop",
                    },
                    chunk_position="last",
                )
            )
        if self.fail_with is not None:  # fail_after >= the number of words
            raise RuntimeError(self.fail_with)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for index, chunk in enumerate(self._chunks(messages, stop, **kwargs)):
            if index and self.token_delay:
                time.sleep(self.token_delay)
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        # Native, so a slow demo stream sleeps on the event loop and cancels promptly.
        for index, chunk in enumerate(self._chunks(messages, stop, **kwargs)):
            if index and self.token_delay:
                await asyncio.sleep(self.token_delay)
            if run_manager:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


class ExtractiveWriter:
    """The offline model's memory writer (chat.llm.factory.memory_writer): what the user
    wrote, kept verbatim (chat/llm/extractive.py). A model scripted to fail fails here too."""

    def __init__(self, model: OfflineChatModel) -> None:
        self.model = model

    def _check(self) -> None:
        if self.model.fail_with is not None:
            raise RuntimeError(self.model.fail_with)

    def summarise(self, previous: str, messages: Sequence[BaseMessage]) -> str:
        self._check()
        return extractive.summarise(messages, previous)

    def user_facts(self, messages: Sequence[BaseMessage], known: Sequence[str]) -> list[str]:
        self._check()
        return extractive.extract_user_facts(messages, known)
