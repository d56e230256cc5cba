"""The offline demo model: a real LangChain chat model that needs no network.

Why: with no API key configured the app must still run end to end (streaming, usage, stop,
errors, summaries), and tests need a model they can drive without mocks. Its answers are
built only from the messages it is given, so a memory strategy's forgetting is visible: ask
"What is my name?" after the message that said it has left the context and it says it cannot
see it. The same fact table powers an extractive `summarize` for the summary strategies.
"""

from __future__ import annotations

import asyncio
import re
import time
import zlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, NamedTuple

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from chat.llm.tokens import count_messages_tokens, count_text_tokens

# --- facts -------------------------------------------------------------------------------

_WORDS = r"(?P<v>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,3})"  # up to 4 words, cut later
_PETS = r"(?:dog|cat|pet|puppy|kitten|parrot|rabbit|hamster)"
_DATE = (
    r"(?P<v>(?:next\s+|this\s+)?[^\W\d_]+\.?(?:\s+\d{1,2}(?:st|nd|rd|th)?)?(?:,?\s+\d{4})?"
    r"|\d{1,2}(?:st|nd|rd|th)?(?:\s+of)?\s+[^\W\d_]+(?:\s+\d{4})?"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?)"
)
_MONEY = (
    r"(?P<v>(?:about\s+|around\s+|roughly\s+)?[$€£]?\s?\d[\d,.]*"
    r"(?:\s?(?:k|m|thousand|million)\b)?(?:\s?(?:euros?|eur|dollars?|usd|pounds?|gbp|€|\$|£))?)"
)
_LANGUAGE_NAMES = (
    "python rust go golang java javascript typescript c c++ c# ruby php kotlin swift scala "
    "haskell elixir erlang clojure r julia sql lua perl dart ocaml zig fortran cobol"
)
_LANGUAGES = frozenset(_LANGUAGE_NAMES.split())


class _Fact(NamedTuple):
    statements: tuple[str, ...]  # regexes with a (?P<v>...) group: where the user states it
    question: str  # regex: the user asks for it
    answer: str  # template for the value
    unknown: str  # what the model says it cannot see


_FACTS: dict[str, _Fact] = {
    "name": _Fact(
        (rf"\bmy\s+name\s+is\s+{_WORDS}", rf"\bmy\s+name's\s+{_WORDS}", rf"\bcall\s+me\s+{_WORDS}"),
        r"\bwhat(?:'s|\s+is|\s+was)\s+my\s+(?:full\s+)?name|\bwho\s+am\s+i\b"
        r"|\b(?:do|did)\s+you\s+(?:know|remember)\s+my\s+name",
        "Your name is {}.",
        "your name",
    ),
    "pet": _Fact(
        (
            rf"\bmy\s+{_PETS}(?:'s\s+name\s+is|\s+is\s+(?:called|named)|\s+is)\s+{_WORDS}",
            rf"\bi\s+(?:have|'ve\s+got)\s+an?\s+{_PETS}\s+(?:called|named)\s+{_WORDS}",
        ),
        rf"\bwhat(?:'s|\s+is)\s+(?:the\s+name\s+of\s+)?my\s+{_PETS}"
        rf"|\bwhat\s+do\s+i\s+call\s+my\s+{_PETS}|\b(?:do|did)\s+you\s+(?:know|remember)\s+my\s+{_PETS}",
        "Your pet is called {}.",
        "your pet's name",
    ),
    "city": _Fact(
        (
            rf"\bi\s+(?:live|am\s+living|'m\s+living)\s+in\s+{_WORDS}",
            rf"\bi(?:'m|\s+am)\s+(?:based|located)\s+in\s+{_WORDS}",
            rf"\bi\s+moved\s+to\s+{_WORDS}",
        ),
        r"\b(?:which|what)\s+(?:city|town|place)\s+do\s+i\s+live|\bwhere\s+do\s+i\s+live"
        r"|\bwhere\s+am\s+i\s+(?:based|living)",
        "You live in {}.",
        "where you live",
    ),
    "budget": _Fact(
        (rf"\bbudget\s+(?:is|of)\s+{_MONEY}",),
        r"\b(?:what(?:'s|\s+is)|how\s+(?:much|big|large)\s+is)\s+(?:our|my|the)\s+(?:\w+\s+)?budget\b",
        "The budget is {}.",
        "the budget",
    ),
    "deadline": _Fact(
        (
            rf"\bdeadline\b(?:\s+(?:for|of|on)\s+[^.?!\n]{{1,40}}?)?\s+is\s+(?:on\s+)?{_DATE}",
            rf"\b(?:is|are)\s+due\s+(?:on\s+|by\s+)?{_DATE}",
        ),
        r"\b(?:when\s+is|what(?:'s|\s+is))\s+(?:the|our|my)\s+(?:\w+\s+)?deadline\b"
        r"|\bwhen\s+is\s+(?:the|our|my)\s+\w+\s+due\b",
        "The deadline is {}.",
        "the deadline",
    ),
    "lang": _Fact(
        (
            r"\bi\s+(?:mostly\s+|mainly\s+|usually\s+|primarily\s+)?"
            r"(?:write\s+(?:code|software|programs)|code|program)\s+in\s+(?P<v>[^\W\d_][\w+#]*)",
            r"\bmy\s+(?:favou?rite|main|preferred)\s+(?:programming\s+)?language\s+is\s+"
            r"(?P<v>[^\W\d_][\w+#]*)",
        ),
        r"\b(?:which|what)\s+(?:programming\s+)?language\s+do\s+i\s+(?:\w+\s+)?(?:write|code|program|use)"
        r"|\bwhat\s+do\s+i\s+(?:\w+\s+)?(?:write\s+code|code|program)\s+in\b",
        "You mostly write code in {}.",
        "which language you write code in",
    ),
    "colour": _Fact(
        (
            r"\bmy\s+favou?rite\s+colou?r\s+is\s+"
            r"(?P<v>(?:(?:light|dark|pale|bright|deep|navy)\s+)?[^\W\d_]+)",
        ),
        r"\bwhat(?:'s|\s+is)\s+my\s+favou?rite\s+colou?r",
        "Your favourite colour is {}.",
        "your favourite colour",
    ),
    "job": _Fact(
        (
            r"\b(?:i\s+work\s+as|my\s+(?:job|profession|occupation)\s+is)\s+(?:an?\s+)?"
            r"(?P<v>[^\W\d_][\w-]*(?:\s+[^\W\d_][\w-]*){0,3}?)"
            r"(?=\s+(?:at|in|for|and|with|but)\b|[.,;:!?\n]|$)",
        ),
        r"\bwhat(?:'s|\s+is)\s+my\s+(?:job|profession|occupation)"
        r"|\bwhat\s+do\s+i\s+do\s+for\s+(?:a\s+)?(?:living|work)",
        "Your job: {}.",
        "what your job is",
    ),
    "age": _Fact(
        (
            r"\bi(?:'m|\s+am)\s+(?P<v>\d{1,3})\s+(?:years?\s+old|yo)\b",
            r"\bmy\s+age\s+is\s+(?P<v>\d{1,3})\b",
        ),
        r"\bhow\s+old\s+am\s+i\b|\bwhat(?:'s|\s+is)\s+my\s+age",
        "You are {} years old.",
        "your age",
    ),
}

FACT_KEYS: tuple[str, ...] = tuple(_FACTS)
_STATEMENTS = [
    (key, re.compile(pattern, re.IGNORECASE))
    for key, fact in _FACTS.items()
    for pattern in fact.statements
]
_QUESTIONS = {key: re.compile(fact.question, re.IGNORECASE) for key, fact in _FACTS.items()}
_FACTS_LINE = re.compile(r"^\s*Facts:[ \t]*(?P<body>.*)$", re.MULTILINE)
_TOPICS_LINE = re.compile(r"^\s*Recent topics:[ \t]*(?P<body>.*)$", re.MULTILINE)
_MAX_VALUE_CHARS = 60
_MAX_TOPICS = 5
_MAX_TOPIC_CHARS = 48


def _normalise(text: str) -> str:
    return text.replace("’", "'").replace("‘", "'")


def _asks_fact(text: str) -> bool:
    """Whether `text` asks for one of the facts ("What is my name?")."""
    return any(pattern.search(_normalise(text)) for pattern in _QUESTIONS.values())


def _clean_value(key: str, raw: str) -> str | None:
    """Trim a captured value to what the fact really is; None when it is not a fact."""
    value = re.sub(r"\s+", " ", raw).strip(" .,;:!?'\"")
    if key in ("name", "pet", "city"):  # proper nouns: keep the leading capitalised words
        words = []
        for word in value.split(" "):
            if not word[:1].isupper():
                break
            words.append(word)
        value = " ".join(words)
    if key == "lang" and not (value[:1].isupper() or value.lower() in _LANGUAGES):
        return None  # "I code in the evenings" is not a language
    if key == "deadline" and not (
        value[:1].isupper() or value[:1].isdigit() or value.lower().startswith(("next", "this"))
    ):
        return None
    value = value.replace(";", ",")[:_MAX_VALUE_CHARS].strip()
    return value or None


def extract_facts(text: str) -> dict[str, str]:
    """Facts stated in `text`, by key ("name", "pet", "city", "budget", "deadline", ...).

    Reads both plain sentences ("My dog is called Biscuit.") and summary lines written by
    `summarize` ("Facts: name: Sofia Marquez; pet: Biscuit"). A later statement in the text
    overrides an earlier one.
    """
    text = _normalise(text)
    found: list[tuple[int, str, str]] = []
    for key, pattern in _STATEMENTS:
        for match in pattern.finditer(text):
            value = _clean_value(key, match.group("v"))
            if value:
                found.append((match.start(), key, value))
    for line in _FACTS_LINE.finditer(text):
        for offset, item in enumerate(line.group("body").split(";")):
            key, sep, value = item.partition(":")
            key, value = key.strip().lower(), value.strip()[:_MAX_VALUE_CHARS]
            if sep and key in _FACTS and value:
                found.append((line.start() + offset, key, value))
    return {key: value for _, key, value in sorted(found, key=lambda item: item[0])}


def _is_user_voice(message: BaseMessage) -> bool:
    """Human and system messages state the user's facts; the assistant's words do not count."""
    role = getattr(message, "role", None)
    return message.type in ("human", "system") or role in ("user", "system")


def facts_in(messages: Sequence[BaseMessage]) -> dict[str, str]:
    """Facts stated in the user's and system messages, later statements overriding earlier."""
    facts: dict[str, str] = {}
    for message in messages:
        if _is_user_voice(message):
            facts.update(extract_facts(message.text))
    return facts


# --- topics, titles, summaries -----------------------------------------------------------

_TOPIC_PATTERNS = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"pros\s+and\s+cons\s+of\s+(?P<t>.+)",
        r"common\s+mistakes?\s+.*?\bwith\s+(?P<t>.+)",
        r"key\s+ideas\s+of\s+(?P<t>.+?)(?:\s+in\s+a\s+paragraph)?$",
        r"\btips\s+(?:about|on|for)\s+(?P<t>.+)",
        r"\bexplain\s+(?P<t>.+?)(?:\s+in\s+simple\s+(?:words|terms)|\s+simply|\s+to\s+me)?$",
        r"\bteach\s+(?P<t>.+?)(?:\s+to\s+(?:a\s+)?beginners?)?$",
        r"\bfacts?\s+about\s+(?P<t>.+)",
        r"\bchecklist\s+(?:for|about|on)\s+(?P<t>.+)",
        r"\b(?:about|regarding)\s+(?P<t>.+)",
        r"^(?:what|who|how|why|when|where|which)(?:'s|\s+is|\s+are|\s+do|\s+does|\s+can|\s+should)"
        r"\s+(?:i|we|you)?\s*(?P<t>.+)",
    )
]
_GREETING = re.compile(r"^(?:hi|hello|hey|good\s+(?:morning|afternoon|evening)|how\s+are\s+you)\b")


def topic_of(text: str) -> str:
    """The subject of a message, for replies, summaries and titles ("chess openings")."""
    sentences = [
        s.strip()
        for s in re.split(r"(?<=[.?!])\s+", _normalise(text).strip())
        if s.strip() and not any(pattern.search(s) for _, pattern in _STATEMENTS)
    ]  # a sentence stating a fact is not a topic (and must not leak into summaries)
    if not sentences:
        return ""
    questions = [s for s in sentences if s.endswith("?")]
    sentence = (questions or sentences)[-1].rstrip(" .?!")
    topic = sentence
    for pattern in _TOPIC_PATTERNS:
        match = pattern.search(sentence)
        if match and match.group("t").strip():
            topic = match.group("t")
            break
    topic = re.sub(r"\s+", " ", topic).strip(" .,;:!?")
    words = topic.split(" ")[:8]
    while len(" ".join(words)) > _MAX_TOPIC_CHARS and len(words) > 1:
        words.pop()
    return " ".join(words)[:_MAX_TOPIC_CHARS].rstrip(" .,;:!?")


def title_for(text: str) -> str:
    """A short conversation title (at most 6 words, 48 characters) from the first message."""
    topic = topic_of(text) or re.sub(r"\s+", " ", text).strip()
    words = topic.split(" ")[:6]
    while len(" ".join(words)) > 48 and len(words) > 1:
        words.pop()
    title = " ".join(words)[:48].rstrip(" .,;:!?-—")
    return (title[:1].upper() + title[1:]) if title else "New conversation"


def summarize(messages: Sequence[BaseMessage], previous_summary: str = "") -> str:
    """An extractive running summary: every fact ever stated, plus the last few topics.

    Bounded whatever the number of messages: at most one value per fact key (60 chars each)
    and the last 5 topics (48 chars each). `extract_facts(summary)` recovers the facts.
    """
    facts = extract_facts(previous_summary)
    facts.update(facts_in(messages))
    previous = _TOPICS_LINE.search(_normalise(previous_summary))
    topics = [t.strip() for t in previous.group("body").split(";")] if previous else []
    topics = [t for t in topics if t != "none"]
    topics += [topic_of(m.text) for m in messages if m.type == "human" and not _asks_fact(m.text)]
    recent: list[str] = []
    for topic in reversed([t for t in topics if t]):
        if topic not in recent:
            recent.insert(0, topic.replace(";", ","))
        if len(recent) == _MAX_TOPICS:
            break
    fact_text = "; ".join(f"{key}: {facts[key]}" for key in FACT_KEYS if key in facts)
    return f"Facts: {fact_text or 'none'}\nRecent topics: {'; '.join(recent) or 'none'}"


# --- replies -----------------------------------------------------------------------------

_GENERIC_REPLIES = (
    "Here is a short note on {topic}: start from the basics, practise a little at a time, "
    "and check each step against a trusted source.",
    "On {topic}: the key is to understand the core idea first, then try it on a small "
    "example before going further.",
    "A quick answer about {topic}: keep it simple, learn from one common mistake at a time, "
    "and build up from there.",
)


def _reply(messages: Sequence[BaseMessage]) -> str:
    """The whole deterministic answer to `messages`, built only from what they contain."""
    count = len(messages)
    plural = "message" if count == 1 else "messages"
    header = f"(Offline demo model — I can see {count} {plural} in my context.)"
    facts = facts_in(messages)
    last = next((m.text for m in reversed(messages) if m.type == "human"), "")
    question = _normalise(last)
    asked = [key for key, pattern in _QUESTIONS.items() if pattern.search(question)]
    if asked:
        answers = [
            _FACTS[key].answer.format(facts[key])
            if key in facts
            else f"I don't know {_FACTS[key].unknown}: I can't see it in my context."
            for key in asked
        ]
        return f"{header}\n\n{' '.join(answers)}"
    noted = [_FACTS[key].answer.format(value) for key, value in extract_facts(last).items()]
    parts = ["Noted.", *noted] if noted else []
    name = facts.get("name")
    topic = topic_of(last)
    greeting = _GREETING.match(question.strip().lower()) and len(question.split()) <= 5
    if greeting or not (topic or noted):
        parts.append(f"Hello, {name}!" if name else "Hello!")
        parts.append("Ask me anything: I answer only from the messages I can see.")
    elif topic:
        if name and not noted:
            parts.append(f"Thanks, {name}.")
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
