"""The offline model answers only from its context, streams, reports usage and summarises.

These are the properties the memory demos rely on: a fact is recalled exactly while the
message stating it is in the context, and is plainly unknown once it has left.
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

from chat.llm.offline import (
    FACT_KEYS,
    OfflineChatModel,
    extract_facts,
    facts_in,
    summarize,
    title_for,
)
from chat.llm.tokens import count_messages_tokens, count_text_tokens

PROBE_FILE = Path("/work/shared/data/memory_probe.jsonl")
TURNS: list[dict[str, Any]] = [json.loads(line) for line in PROBE_FILE.read_text().splitlines()]
PROBES = [turn for turn in TURNS if turn["probe"]]
PLANTED = {turn["plants"]: turn for turn in TURNS if turn["plants"]}


def _conversation(until: int, *, without: int | None = None) -> list[BaseMessage]:
    """The user's turns before `until` (optionally minus one), each followed by an answer."""
    messages: list[BaseMessage] = []
    for turn in TURNS[:until]:
        if turn["turn"] != without:
            messages += [HumanMessage(turn["user"]), AIMessage("(an earlier answer)")]
    return messages


def _answer(messages: list[BaseMessage]) -> str:
    return OfflineChatModel().invoke(messages).text


def test_probe_data_plants_six_facts_and_probes_each() -> None:
    assert len(TURNS) == 200
    assert set(PLANTED) == {"name", "pet", "city", "budget", "deadline", "lang"}
    assert {probe["probe"]["fact"] for probe in PROBES} == set(PLANTED)


@pytest.mark.parametrize("probe", PROBES, ids=lambda probe: probe["probe"]["fact"])
def test_fact_recalled_while_its_message_is_in_context(probe: dict[str, Any]) -> None:
    question = HumanMessage(probe["user"])

    answer = _answer([*_conversation(probe["turn"]), question])

    assert probe["probe"]["expect"] in answer


@pytest.mark.parametrize("probe", PROBES, ids=lambda probe: probe["probe"]["fact"])
def test_fact_unknown_once_its_message_has_left_the_context(probe: dict[str, Any]) -> None:
    planted = PLANTED[probe["probe"]["fact"]]
    question = HumanMessage(probe["user"])

    without = _answer([*_conversation(probe["turn"], without=planted["turn"]), question])
    window = _answer([*_conversation(probe["turn"])[-20:], question])  # a last-k window

    for answer in (without, window):
        assert probe["probe"]["expect"] not in answer
        assert "I don't know" in answer


def test_facts_are_read_from_a_system_summary() -> None:
    summary = SystemMessage("Summary of earlier turns.\nFacts: name: Sofia Marquez; city: Porto")

    assert "Sofia Marquez" in _answer([summary, HumanMessage("What is my name?")])
    assert "Porto" in _answer([summary, HumanMessage("Which city do I live in?")])


def test_later_statement_overrides_earlier_and_assistant_words_are_not_user_facts() -> None:
    messages: list[BaseMessage] = [
        HumanMessage("I live in Porto."),
        AIMessage("My name is Offline Bot."),
        HumanMessage("Actually I moved to Lisbon last year."),
    ]

    assert facts_in(messages) == {"city": "Lisbon"}
    assert "You live in Lisbon." in _answer([*messages, HumanMessage("Where do I live?")])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My favourite colour is dark green, by the way.", {"colour": "dark green"}),
        ("I work as a data engineer at a bank.", {"job": "data engineer"}),
        ("I'm 42 years old and tired.", {"age": "42"}),
        ("I have a cat named Miso.", {"pet": "Miso"}),
        ("The report is due on Friday.", {"deadline": "Friday"}),
        ("I mostly code in python.", {"lang": "python"}),
        ("The deadline is tight and I code in the evenings.", {}),
        ("My dog is happy. I live in the countryside.", {}),
        ("What are the pros and cons of tax deadlines?", {}),
    ],
)
def test_extract_facts_table(text: str, expected: dict[str, str]) -> None:
    assert extract_facts(text) == expected


def test_answer_states_how_many_messages_it_sees() -> None:
    seven = [HumanMessage(f"Tell me about topic {n}.") for n in range(7)]

    assert "I can see 7 messages in my context." in _answer(seven)
    assert "I can see 1 message in my context." in _answer(seven[:1])


def test_generic_answer_echoes_the_topic_and_greets_by_known_name() -> None:
    messages: list[BaseMessage] = [
        HumanMessage(PLANTED["name"]["user"]),
        AIMessage("(an earlier answer)"),
        HumanMessage("Give me three tips about sourdough bread."),
    ]

    answer = _answer(messages)

    assert "sourdough bread" in answer
    assert "Sofia Marquez" in answer


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


def test_summary_keeps_every_planted_fact_and_stays_bounded() -> None:
    summary = ""
    sizes = []
    for start in range(0, len(TURNS), 10):
        batch: list[BaseMessage] = []
        for turn in TURNS[start : start + 10]:
            batch += [HumanMessage(turn["user"]), AIMessage("(an answer)")]
        summary = summarize(batch, summary)
        sizes.append(len(summary))

    assert summary.splitlines()[0].startswith("Facts: ")
    assert extract_facts(summary) == {
        key: facts_in([HumanMessage(PLANTED[key]["user"])])[key] for key in PLANTED
    }
    for probe in PROBES:
        assert probe["probe"]["expect"] in extract_facts(summary)[probe["probe"]["fact"]]
    assert max(sizes) <= 1000
    assert "Recent topics: " in summary


def test_summary_size_is_bounded_under_adversarial_input() -> None:
    chatter = [
        HumanMessage(f"My name is Person{n} Smith. Tell me about subject number {n} " * 5)
        for n in range(300)
    ]

    summary = summarize(chatter, summarize(chatter[:100]))

    assert len(summary) <= 1000
    assert extract_facts(summary)["name"] == "Person299 Smith"


def test_summary_facts_answer_questions_after_raw_messages_are_gone() -> None:
    summary = summarize(_conversation(60))

    answer = _answer([SystemMessage(summary), HumanMessage("What is our project budget?")])

    assert "4200 euros" in answer


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


def test_fact_keys_cover_the_probe_facts() -> None:
    assert set(PLANTED) <= set(FACT_KEYS)
