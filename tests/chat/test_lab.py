"""The memory lab: transcript validation and a replay that leaves no trace."""

from __future__ import annotations

import pytest

from chat.conversations import lab
from chat.conversations.lab_gate import ReplayGate
from chat.errors import InvalidInput
from chat.services import Services
from tests.support.factories import make_user


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no turns"),
        (b'{"user": "hi"}\nnot json\n', "Line 2 is not valid JSON"),
        (b'["hi"]', "Line 1 must be a JSON object"),
        (b'{"user": ""}', "Line 1 needs a non-empty text"),
        (b'{"user": "q", "probe": {"fact": "name"}}', "Line 1: 'probe' must be null"),
        (b"\xff\xfe", "not UTF-8"),
        (b" " * (lab.MAX_UPLOAD_BYTES + 1), "too large"),
        (b'{"user": "x"}\n' * (lab.MAX_TURNS + 1), "more than"),
    ],
)
def test_invalid_uploads_get_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        lab.parse_transcript(data)
    assert message in refused.value.user_message


def test_bundled_transcript_matches_the_shared_probe_file() -> None:
    turns = lab.bundled_transcript()
    assert len(turns) == 200
    assert [t.probe.expect for t in turns if t.probe] == [
        "March 3",
        "Sofia",
        "Biscuit",
        "Rust",
        "Porto",
        "4200",
    ]


def test_replay_compares_strategies_and_keeps_nothing(services: Services) -> None:
    alice = make_user(services)
    data = b"\n".join(
        [
            b'{"user": "My name is Sofia. Tips about chess?", "probe": null}',
            *[b'{"user": "Give me three tips about topic %d."}' % i for i in range(6)],
            b'{"user": "What is my name?", "probe": {"fact": "name", "expect": "Sofia"}}',
        ]
    )
    progress: list[tuple[int, int]] = []
    runs = lab.replay(
        sessions=services.sessions,
        settings=services.settings,
        turns=lab.parse_transcript(data),
        params={"window": {"k": 2}},
        progress=lambda done, total: progress.append((done, total)),
    )
    by_name = {run.strategy: run for run in runs}
    assert list(by_name) == ["full", "window", "budget", "summary", "summary_buffer", "recall"]
    assert by_name["full"].recall() == 1.0 and by_name["full"].recall(where="answer") == 1.0
    assert by_name["window"].recall() == 0.0 and by_name["window"].remembered == {
        "name: Sofia": False
    }
    assert by_name["summary"].recall(where="answer") == 1.0
    assert by_name["full"].context_tokens == sorted(by_name["full"].context_tokens)
    assert by_name["summary"].total_tokens < by_name["full"].total_tokens
    assert services.conversations.list(user_id=alice.id) == []
    assert not [u for u in services.accounts.list() if u.role == lab.LAB_ROLE]  # deleted
    assert progress[-1] == (48, 48) and len(progress) == 48
    assert [(p.turn, p.in_context) for p in by_name["recall"].probes] == [(7, True)]


def test_replay_is_not_held_to_the_chat_limits(services: Services) -> None:
    """A replay sends far more than a person may per minute: the chat's limits are for the
    user's real messages, not for the lab's scratch user."""
    assert services.settings.messages_per_minute == 20  # the default a hosted instance runs
    limited = services.settings.model_copy(update={"daily_token_quota": 50})
    turns = lab.bundled_transcript()[:30]
    runs = lab.replay(
        sessions=services.sessions, settings=limited, turns=turns, strategies=["window"]
    )
    assert len(runs[0].context_tokens) == 30


def test_replay_with_user_memory_remembers_past_the_window(services: Services) -> None:
    data = b"\n".join(
        [
            b'{"user": "My sister\'s boat is called Wavelet."}',
            *[b'{"user": "Give me three tips about topic %d."}' % i for i in range(6)],
            b'{"user": "What is my sister\'s boat called?", '
            b'"probe": {"fact": "boat", "expect": "Wavelet"}}',
        ]
    )
    turns = lab.parse_transcript(data)
    settings, sessions = services.settings, services.sessions
    params = {"window": {"k": 2}}
    without = lab.replay(
        sessions=sessions, settings=settings, turns=turns, params=params, strategies=["window"]
    )
    with_memory = lab.replay(
        sessions=sessions,
        settings=settings,
        turns=turns,
        params=params,
        strategies=["window"],
        user_memory=True,
    )
    assert without[0].recall() == 0.0
    assert with_memory[0].recall() == 1.0 and with_memory[0].recall(where="answer") == 1.0


def test_one_replay_per_user_a_few_per_process_and_a_time_limit(services: Services) -> None:
    gate = ReplayGate(limit=2)
    with gate.slot("alice"):
        with pytest.raises(InvalidInput, match="already have a replay"), gate.slot("alice"):
            pass
        with gate.slot("bob"), pytest.raises(InvalidInput, match="busy"), gate.slot("carol"):
            pass
    with gate.slot("carol"):  # slots are given back
        pass
    hurried = services.settings.model_copy(update={"lab_time_limit": 0.001})
    with pytest.raises(lab.ReplayTimeout, match="time limit"):
        lab.replay(
            sessions=services.sessions,
            settings=hurried,
            turns=lab.bundled_transcript()[:50],
            strategies=["full"],
        )
    assert not [u for u in services.accounts.list() if u.role == lab.LAB_ROLE]


def test_summary_json_has_the_command_lines_shape(services: Services) -> None:
    runs = lab.replay(
        sessions=services.sessions,
        settings=services.settings,
        turns=lab.bundled_transcript()[:20],
        strategies=["full", "recall"],
    )
    summary = lab.summary_json(runs)
    assert [set(row) for row in summary["strategies"]] == [
        {"name", "params", "mean_tokens", "max_tokens", "recall_context", "recall_answer"}
    ] * 2
    assert summary["strategies"][1]["params"] == lab.STRATEGIES["recall"].defaults
