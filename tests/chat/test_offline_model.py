"""The offline model answers only from its context, streams, reports usage and summarises.

These are the properties the memory demos rely on: a fact is recalled while the message
stating it is in the context, and is plainly unknown once it has left. The model knows no
kinds of fact: the facts here are of kinds written nowhere in its code, and the probe is
tests/data/memory_probe_people.jsonl (other kinds again than the shared probe's).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)

from chat.llm.extractive import MAX_STATEMENT_TOKENS, extract_user_facts, summarise
from chat.llm.offline import OfflineChatModel
from chat.llm.titles import title_for
from chat.llm.tokens import count_messages_tokens, count_text_tokens
from chat.llm.tokens import count_text_tokens as tokens

PROBE_FILE = Path(__file__).resolve().parents[1] / "data" / "memory_probe_people.jsonl"
TURNS: list[dict[str, Any]] = [json.loads(line) for line in PROBE_FILE.read_text().splitlines()]
PROBES = [turn for turn in TURNS if turn["probe"]]
PLANTED = {turn["plants"]: turn for turn in TURNS if turn["plants"]}  # the last statement

# Facts of kinds that appear in no probe, each with a question that paraphrases it.
UNSEEN = [
    ("My daughter's school is St. Anne's.", "Where does my daughter go to school?", "St. Anne's"),
    ("Our boat is moored at pier 9 in Kiel.", "Where is the boat kept?", "pier 9"),
    ("My favourite cheese is a ten-year-old gouda.", "Which cheese do I like most?", "gouda"),
    (
        "The wifi password at the cabin is moss-lantern-42.",
        "What's the cabin wifi password?",
        "moss-lantern-42",
    ),
    ("My uncle Bertrand repairs church organs.", "What does my uncle Bertrand do?", "organs"),
    ("I'm writing my thesis on lichen symbiosis.", "What is my thesis about?", "lichen"),
    (
        "Please remember that my locker at the pool is number 61.",
        "Which locker do I use at the pool?",
        "61",
    ),
]


def _conversation(until: int, *, without: int | None = None) -> list[BaseMessage]:
    """The user's turns before `until` (optionally minus one), each followed by an answer."""
    messages: list[BaseMessage] = []
    for turn in TURNS[:until]:
        if turn["turn"] != without:
            messages += [HumanMessage(turn["user"]), AIMessage("(an earlier answer)")]
    return messages


def _answer(messages: list[BaseMessage]) -> str:
    return OfflineChatModel().invoke(messages).text


def _chatter(n: int) -> list[BaseMessage]:
    return [
        message
        for i in range(n)
        for message in (
            HumanMessage(f"Give me three tips about topic number {i}."),
            AIMessage("(an answer)"),
        )
    ]


@pytest.mark.parametrize(("statement", "question", "expect"), UNSEEN, ids=lambda v: v[:20])
def test_facts_of_kinds_nobody_wrote_down(statement: str, question: str, expect: str) -> None:
    context = [*_chatter(5), HumanMessage(statement), AIMessage("Noted."), *_chatter(5)]

    assert expect in _answer([*context, HumanMessage(question)])
    assert expect not in _answer([*_chatter(10), HumanMessage(question)])


def test_a_question_about_the_user_with_nothing_in_context_is_answered_plainly() -> None:
    answer = _answer([*_chatter(10), HumanMessage("Where does my daughter go to school?")])

    assert "can't find anything about that" in answer


def test_probe_has_many_kinds_of_fact_and_probes_each() -> None:
    assert len(TURNS) == 300
    assert len(PLANTED) >= 20
    assert {probe["probe"]["fact"] for probe in PROBES} == set(PLANTED)


def test_full_context_answers_most_probes() -> None:
    """Not every paraphrase shares a word with its statement ("Which language am I
    studying?" for "I'm learning Portuguese"): at least 85%, as the bench's target."""
    answered = [
        probe["probe"]["expect"].lower()
        in _answer([*_conversation(probe["turn"]), HumanMessage(probe["user"])]).lower()
        for probe in PROBES
    ]

    assert sum(answered) / len(answered) >= 0.85


@pytest.mark.parametrize("probe", PROBES[:8], ids=lambda probe: probe["probe"]["fact"])
def test_fact_unknown_once_its_message_has_left_the_context(probe: dict[str, Any]) -> None:
    question = HumanMessage(probe["user"])
    stated = [t["turn"] for t in TURNS if t["plants"] == probe["probe"]["fact"]]

    context = [
        m
        for t in TURNS[: probe["turn"]]
        if t["turn"] not in stated
        for m in (HumanMessage(t["user"]), AIMessage("(an earlier answer)"))
    ]
    window = _conversation(probe["turn"])[-20:]  # a last-k window

    for answer in (_answer([*context, question]), _answer([*window, question])):
        assert probe["probe"]["expect"] not in answer


def test_facts_are_read_from_a_system_block() -> None:
    summary = SystemMessage(
        "Summary of the earlier conversation:\n- My name is Sofia Marquez.\n- I live in Porto."
    )

    assert "Sofia Marquez" in _answer([summary, HumanMessage("What is my name?")])
    assert "Porto" in _answer([summary, HumanMessage("Which city do I live in?")])


def test_newest_statement_wins_and_assistant_words_are_not_the_users() -> None:
    messages: list[BaseMessage] = [
        HumanMessage("My manager is Priya."),
        AIMessage("My manager is Offline Bot."),
        HumanMessage("Priya left; my new manager is Daniel."),
    ]

    answer = _answer([*messages, HumanMessage("Who is my manager?")])

    assert "Daniel" in answer.split("\u201d")[0]  # quoted first
    assert "Offline Bot" not in answer


def test_a_question_answered_word_for_word_needs_no_first_person() -> None:
    messages: list[BaseMessage] = [HumanMessage("The deadline for the grant report is May 2.")]

    assert "May 2" in _answer(
        [*messages, *_chatter(3), HumanMessage("When is the report due? The report deadline?")]
    )


def test_answer_states_how_many_messages_it_sees() -> None:
    seven = [HumanMessage(f"Tell me about topic {n}.") for n in range(7)]

    assert "I can see 7 messages in my context." in _answer(seven)
    assert "I can see 1 message in my context." in _answer(seven[:1])


def test_generic_answer_echoes_the_topic_and_says_it_is_a_demo() -> None:
    messages: list[BaseMessage] = [
        HumanMessage("My name is Sofia Marquez."),
        AIMessage("(an earlier answer)"),
        HumanMessage("Give me three tips about sourdough bread."),
    ]

    answer = _answer(messages)

    assert "sourdough bread" in answer
    assert answer.startswith("(Offline demo model")


def test_answer_is_deterministic() -> None:
    messages = _conversation(60)

    assert _answer(messages) == _answer(messages)


def test_stream_concatenates_to_invoke_and_carries_usage_once() -> None:
    model = OfflineChatModel()
    messages = [*_conversation(20), HumanMessage("What is my name?")]

    chunks = list(model.stream(messages))
    full = chunks[0]
    for chunk in chunks[1:]:
        full += chunk

    assert len(chunks) >= 5
    assert isinstance(full, AIMessageChunk)
    assert full.text == model.invoke(messages).text
    assert [chunk.usage_metadata is not None for chunk in chunks].count(True) == 1
    assert full.usage_metadata == {
        "input_tokens": count_messages_tokens(messages),
        "output_tokens": count_text_tokens(full.text),
        "total_tokens": count_messages_tokens(messages) + count_text_tokens(full.text),
    }
    assert full.response_metadata["model_name"] == "offline"
    assert chunks[-1].chunk_position == "last"


def test_invoke_reports_usage_and_model_name() -> None:
    result = OfflineChatModel(model_name="offline-demo").invoke("Hello")

    assert result.usage_metadata is not None
    assert result.usage_metadata["output_tokens"] == count_text_tokens(result.text)
    assert result.response_metadata["model_name"] == "offline-demo"


@pytest.mark.asyncio
async def test_astream_matches_stream() -> None:
    model = OfflineChatModel()
    messages = _conversation(30)

    chunks = [chunk.text async for chunk in model.astream(messages)]

    assert "".join(chunks) == "".join(chunk.text for chunk in model.stream(messages))


def test_fail_with_raises_before_any_token_or_after_some() -> None:
    with pytest.raises(RuntimeError, match="provider down"):
        OfflineChatModel(fail_with="provider down").invoke("Hello")

    seen: list[str] = []
    with pytest.raises(RuntimeError, match="connection dropped"):
        for chunk in OfflineChatModel(fail_with="connection dropped", fail_after=3).stream("Hi"):
            seen.append(chunk.text)
    assert len(seen) == 3


def test_token_delay_paces_the_stream_and_stopping_early_is_prompt() -> None:
    model = OfflineChatModel(token_delay=0.05)

    started = time.perf_counter()
    stream = model.stream("Give me three tips about chess openings.")
    first_three = [next(stream) for _ in range(3)]
    stream.close()
    elapsed = time.perf_counter() - started

    assert len(first_three) == 3
    assert 0.09 <= elapsed < 1.0


def test_stop_sequence_cuts_the_answer() -> None:
    answer = OfflineChatModel().invoke("Give me three tips about chess openings.", stop=["\n"])
    streamed = "".join(c.text for c in OfflineChatModel(stop=["\n"]).stream("Tips on chess?"))
    configured = OfflineChatModel(stop=["(Offline"]).invoke("Hello")

    assert answer.text == "(Offline demo model — I can see 1 message in my context.)"
    assert streamed == answer.text
    assert configured.text == ""


def test_summary_keeps_the_users_statements_and_stays_bounded() -> None:
    summary = ""
    sizes = []
    for start in range(0, len(TURNS), 10):
        batch: list[BaseMessage] = []
        for turn in TURNS[start : start + 10]:
            batch += [HumanMessage(turn["user"]), AIMessage("(an answer)")]
        summary = summarise(batch, summary)
        sizes.append(tokens(summary))

    for probe in PROBES:
        assert probe["probe"]["expect"] in summary
    assert "Ghent, near the old harbour" not in summary  # superseded by the move to Utrecht
    assert max(sizes) <= MAX_STATEMENT_TOKENS + 100
    assert "Recent topics: " in summary
    assert "Give me three tips" not in summary  # requests are not statements


def test_summary_size_is_bounded_under_adversarial_input() -> None:
    chatter = [
        HumanMessage(f"My code word number {n} is Zebra{n}. I like subject number {n} " * 5)
        for n in range(300)
    ]

    summary = summarise(chatter, summarise(chatter[:100]))

    assert tokens(summary) <= MAX_STATEMENT_TOKENS + 100
    assert "Zebra299" in summary


def test_summary_answers_questions_after_raw_messages_are_gone() -> None:
    summary = summarise(_conversation(PLANTED["flight"]["turn"] + 1))

    answer = _answer([SystemMessage(summary), HumanMessage("When does my flight depart?")])

    assert "7:45" in answer


def test_user_facts_are_the_users_statements_about_themselves() -> None:
    messages: list[BaseMessage] = [
        HumanMessage("My daughter's school is St. Anne's. Give me tips about chess."),
        AIMessage("I am a model and my name is Bot."),
        HumanMessage("The sky is blue. What is a good book?"),
    ]

    assert extract_user_facts(messages) == ["My daughter's school is St. Anne's."]
    assert extract_user_facts(messages, known=["my daughter's school is st. anne's."]) == []


@pytest.mark.parametrize(
    "text",
    [
        "How would you teach remote team rituals to a beginner?",
        "My name is Sofia Marquez. What are the pros and cons of chess openings?",
        "Please explain, in great detail and with many examples and counterexamples, "
        "the complete history of the Byzantine empire and its neighbours!!!",
        "Hello!",
        "   ",
        "x" * 200,
    ],
)
def test_title_is_short_and_clean(text: str) -> None:
    title = title_for(text)

    assert title
    assert len(title) <= 48
    assert len(title.split()) <= 6
    assert title[-1] not in ".,;:!?"


def test_title_names_the_topic() -> None:
    assert title_for("How would you teach remote team rituals to a beginner?") == (
        "Remote team rituals"
    )
    assert title_for("   ") == "New conversation"


def test_a_question_asking_for_advice_is_not_searched_in_memory() -> None:
    """ "How do I ...?" asks for help, not for something the user said: a topical answer,
    not "I can't find anything about that"."""
    model = OfflineChatModel()
    for question in ("How do I brew oolong tea?", "Should we book the ferry early?"):
        answer = model.invoke([HumanMessage(question)]).text
        assert "can't find" not in answer
    answer = model.invoke([HumanMessage("Where do I keep my passport?")]).text
    assert "can't find" in answer  # about the user's own things: searched, and not found
