"""The bad-input corpus (tests/data/bad_input.json) through every service that takes typed text.

Each case, on each path, either round-trips (what is read back through the services the
pages use equals what the corpus says is stored: the input itself, or for a one-line field
or a paragraph its trimmed form) or is refused with InvalidInput and a sentence, leaving
nothing stored. Anything else (psycopg's NUL error, a UnicodeEncodeError) fails the test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest

from chat.auth.accounts import MAX_USERNAME_CHARS
from chat.auth.passwords import MAX_PASSWORD_CHARS
from chat.auth.preferences import Preferences
from chat.conversations import lab
from chat.errors import InvalidInput
from chat.memory.user_memory import MAX_FACT_CHARS
from chat.services import Services
from chat.settings import Settings
from chat.validation import (
    MAX_ABOUT_CHARS,
    MAX_DISPLAY_NAME_CHARS,
    MAX_LANGUAGE_CHARS,
    MAX_QUERY_CHARS,
    MAX_SYSTEM_PROMPT_CHARS,
    MAX_TITLE_CHARS,
)
from tests.support.bad_input import (
    Expected,
    expand,
    expected,
    text_cases,
    upload_bytes,
    upload_cases,
)
from tests.support.factories import PASSWORD, chat_turn, last_context, make_user
from tests.support.openai_server import FakeOpenAIServer


def refused(exp: Expected, call: Callable[[], Any]) -> None:
    with pytest.raises(InvalidInput) as refusal:
        call()
    assert exp.says in refusal.value.user_message


def messages(
    services: Services, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> list[tuple[str, str, str]]:
    view = services.conversations.open(user_id=user_id, conversation_id=conversation_id)
    return [(m.role, m.status, m.content) for m in view.messages]


def system_block(services: Services, user_id: uuid.UUID, conversation_id: uuid.UUID) -> str:
    """What the model was sent as the system prompt in the conversation's last turn."""
    return str(last_context(services, user_id, conversation_id)["blocks"][0]["content"])


def send_message(services: Services, exp: Expected) -> None:
    alice = make_user(services)
    send = partial(services.turns.send, user_id=alice.id, conversation_id=None, text=exp.text)
    if exp.outcome == "refused":
        refused(exp, send)
        assert services.conversations.list(user_id=alice.id) == []
        return
    turn = send()
    answer = "".join(turn.stream())
    assert answer
    assert messages(services, alice.id, turn.conversation_id) == [
        ("human", "complete", exp.stored),
        ("ai", "complete", answer),
    ]


def edit_last(services: Services, exp: Expected) -> None:
    alice = make_user(services)
    cid, _ = chat_turn(services, alice, "The original question.")
    before = messages(services, alice.id, cid)
    human_id = services.conversations.open(user_id=alice.id, conversation_id=cid).messages[0].id
    edit = partial(
        services.turns.edit_last,
        user_id=alice.id,
        conversation_id=cid,
        human_id=human_id,
        text=exp.text,
    )
    if exp.outcome == "refused":
        refused(exp, edit)
        assert messages(services, alice.id, cid) == before
        return
    answer = "".join(edit().stream())
    assert messages(services, alice.id, cid) == [
        ("human", "complete", exp.stored),
        ("ai", "complete", answer),
    ]


def rename(services: Services, exp: Expected) -> None:
    alice = make_user(services)
    cid = services.turns.new_conversation(user_id=alice.id)
    rename = partial(
        services.conversations.rename, user_id=alice.id, conversation_id=cid, title=exp.text
    )
    if exp.outcome == "refused":
        refused(exp, rename)
        expected_title = "New chat"
    else:
        rename()
        expected_title = exp.stored
    assert services.conversations.open(user_id=alice.id, conversation_id=cid).title == (
        expected_title
    )
    assert [item.title for item in services.conversations.list(user_id=alice.id)] == [
        expected_title
    ]


def search(services: Services, exp: Expected) -> None:
    alice = make_user(services)
    query = partial(services.conversations.search, user_id=alice.id, query=exp.text)
    if exp.outcome == "refused":
        refused(exp, query)
        return
    if not exp.stored:  # blank: an empty search box, nothing to look for
        assert query() == []
        return
    cid, _ = chat_turn(services, alice, exp.text)
    found = {hit.conversation_id for hit in query()}
    assert (cid in found) is exp.search_finds


def configure(services: Services, exp: Expected) -> None:
    alice = make_user(services)
    cid = services.turns.new_conversation(user_id=alice.id)
    model = services.conversations.open(user_id=alice.id, conversation_id=cid).model
    set_prompt = partial(
        services.conversations.configure,
        user_id=alice.id,
        conversation_id=cid,
        model=model,
        temperature=None,
        system_prompt=exp.text,
    )
    default = services.settings.default_system_prompt
    if exp.outcome == "refused":
        refused(exp, set_prompt)
        assert services.conversations.open(user_id=alice.id, conversation_id=cid).system_prompt == (
            default
        )
        return
    set_prompt()
    view = services.conversations.open(user_id=alice.id, conversation_id=cid)
    assert view.system_prompt == exp.stored
    chat_turn(services, alice, "Hello", cid)  # the model is sent it (or the default if blank)
    assert system_block(services, alice.id, cid) == (exp.stored or default)


def default_persona(services: Services, exp: Expected) -> None:
    """The Account page's default persona: stored as a paragraph, and the system prompt of
    the user's next new conversation (the app's default when blank)."""
    alice = make_user(services)
    save = partial(
        services.preferences.save,
        user_id=alice.id,
        theme="system",
        show_answer_details=False,
        default_model="",
        default_persona=exp.text,
    )
    if exp.outcome == "refused":
        refused(exp, save)
        assert services.preferences.get(user_id=alice.id) == Preferences()
        return
    save()
    assert services.preferences.get(user_id=alice.id).default_persona == exp.stored
    cid, _ = chat_turn(services, alice, "Hello")
    assert system_block(services, alice.id, cid) == (
        exp.stored or services.settings.default_system_prompt
    )


def memory_fact(services: Services, exp: Expected) -> None:
    """A fact added on the Memory page: stored as typed (one line), and sent as typed."""
    alice = make_user(services)
    add = partial(services.memory.add, user_id=alice.id, content=exp.text)
    if exp.outcome == "refused":
        refused(exp, add)
        assert services.memory.overview(user_id=alice.id).facts == []
        return
    add()
    [fact] = services.memory.overview(user_id=alice.id).facts
    assert fact.content == exp.stored
    services.memory.edit(user_id=alice.id, fact_id=fact.id, content=exp.text)
    assert services.memory.overview(user_id=alice.id).facts[0].content == exp.stored
    cid, _ = chat_turn(services, alice, "Hello")
    blocks = services.conversations.open(user_id=alice.id, conversation_id=cid).messages[-1]
    assert f"- {exp.stored}" in str((blocks.context or {})["blocks"][1]["content"])


def profile_field(field: str) -> Callable[[Services, Expected], None]:
    def update(services: Services, exp: Expected) -> None:
        alice = make_user(services)
        before = services.profiles.get(user_id=alice.id)
        values = {"display_name": "Ada", "language": "", "about": "", field: exp.text}
        save = partial(services.profiles.update, user_id=alice.id, **values)
        if exp.outcome == "refused":
            refused(exp, save)
            assert services.profiles.get(user_id=alice.id) == before
            return
        save()
        assert getattr(services.profiles.get(user_id=alice.id), field) == exp.stored
        cid, _ = chat_turn(services, alice, "Hello")  # the profile personalises the prompt
        assert exp.stored in system_block(services, alice.id, cid)

    return update


def register(field: str) -> Callable[[Services, Expected], None]:
    """Self-registration with `field` typed as the case's text, then a login with it."""

    def run(services: Services, exp: Expected) -> None:
        existing = make_user(services)
        form = {
            "username": "newcomer",
            "password": PASSWORD,
            "display_name": "New",
            field: exp.text,
        }
        create = partial(services.registration.register, email="newcomer@example.com", **form)
        count = services.accounts.count()
        if exp.outcome == "refused":
            refused(exp, create)
            assert services.accounts.count() == count
            if field != "display_name":  # typed at login instead: a failed login, no crash
                login = {"username": existing.username, "password": PASSWORD, field: exp.text}
                assert services.accounts.authenticate(**login) is None
            return
        account = create()
        assert services.accounts.count() == count + 1
        assert services.accounts.get(username=account.username) == account
        if field == "display_name":
            assert account.display_name == (exp.stored or "newcomer")  # blank: the username
        if field == "username":
            assert account.username == exp.stored
        signed_in = services.accounts.authenticate(
            username=form["username"], password=form["password"]
        )
        assert signed_in is not None and signed_in.id == account.id

    return run


@dataclass(frozen=True)
class TextPath:
    run: Callable[[Services, Expected], None]
    limit: Callable[[Settings], int]
    shape: str = "exact"  # which of the corpus' "stored" forms applies


PATHS = {
    "message": TextPath(send_message, lambda s: s.max_message_chars),
    "edit": TextPath(edit_last, lambda s: s.max_message_chars),
    "title": TextPath(rename, lambda s: MAX_TITLE_CHARS, "line"),
    "search": TextPath(search, lambda s: MAX_QUERY_CHARS, "line"),
    "system_prompt": TextPath(configure, lambda s: MAX_SYSTEM_PROMPT_CHARS, "block"),
    "persona": TextPath(default_persona, lambda s: MAX_SYSTEM_PROMPT_CHARS, "block"),
    "display_name": TextPath(
        profile_field("display_name"), lambda s: MAX_DISPLAY_NAME_CHARS, "line"
    ),
    "language": TextPath(profile_field("language"), lambda s: MAX_LANGUAGE_CHARS, "line"),
    "about": TextPath(profile_field("about"), lambda s: MAX_ABOUT_CHARS, "block"),
    "memory_fact": TextPath(memory_fact, lambda s: MAX_FACT_CHARS, "line"),
    "register_display_name": TextPath(
        register("display_name"), lambda s: MAX_DISPLAY_NAME_CHARS, "line"
    ),
    "username": TextPath(register("username"), lambda s: MAX_USERNAME_CHARS),
    "password": TextPath(register("password"), lambda s: MAX_PASSWORD_CHARS),
}


@pytest.mark.parametrize(
    ("path", "case"),
    [
        pytest.param(path, case, id=f"{path}:{case['id']}")
        for case in text_cases()
        for path in PATHS
    ],
)
def test_typed_text_round_trips_or_is_refused(
    services: Services, path: str, case: dict[str, Any]
) -> None:
    spec = PATHS[path]
    spec.run(services, expected(case, path, limit=spec.limit(services.settings), shape=spec.shape))


def upload_sizes(settings: Settings) -> dict[str, int]:
    return {
        "limit": settings.max_message_chars,
        "upload_limit": lab.MAX_UPLOAD_BYTES,
        "max_turns": lab.MAX_TURNS,
    }


@pytest.mark.parametrize("case", upload_cases(), ids=lambda case: case["id"])
def test_lab_upload_is_read_exactly_or_refused(services: Services, case: dict[str, Any]) -> None:
    settings = services.settings
    sizes = upload_sizes(settings)
    data = upload_bytes(case["upload"], sizes)
    parse = partial(lab.parse_transcript, data, max_chars=settings.max_message_chars)
    if case["expect"] == "refused":
        with pytest.raises(InvalidInput) as refusal:
            parse()
        assert case["says"].replace("{limit}", f"{settings.max_message_chars:,}") in (
            refusal.value.user_message
        )
        return
    users = expand(case["users"], sizes)
    turns = parse()
    assert [turn.user for turn in turns] == users
    # and the replay (the real turn service, rolled back) takes every one of them
    alice = make_user(services)
    runs = lab.replay(sessions=services.sessions, settings=settings, turns=turns)
    assert [len(run.context_tokens) for run in runs] == [len(users)] * len(runs)
    assert services.conversations.list(user_id=alice.id) == []


def test_unstorable_model_output_is_marked_instead_of_failing(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    """A model can send what PostgreSQL cannot store (NUL, unpaired surrogates: JSON escapes
    carry both). The answer, the title and the summary keep everything else, with U+FFFD in
    their place, instead of failing with a database error after the answer was shown."""
    services = endpoint_services
    alice = make_user(services)
    openai_server.enqueue_reply("A NUL \x00 and a lone \ud800 here.")
    openai_server.enqueue_reply("Odd \x00 title")
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Say something odd.")
    answer = "".join(turn.stream())
    assert answer == "A NUL \ufffd and a lone \ufffd here."
    cid = turn.conversation_id
    assert messages(services, alice.id, cid)[1] == ("ai", "complete", answer)
    assert turn.wait(30)  # the title is asked for after the answer
    assert services.conversations.open(user_id=alice.id, conversation_id=cid).title == (
        "Odd \ufffd title"
    )
    services.conversations.set_memory(
        user_id=alice.id, conversation_id=cid, strategy="summary", params={}
    )
    openai_server.enqueue_reply("Summary with \x00 inside.")
    assert services.turns.update_memory(user_id=alice.id, conversation_id=cid).status == "updated"
    state = services.conversations.summary_state(user_id=alice.id, conversation_id=cid)
    assert state is not None and state.content == "Summary with \ufffd inside."
