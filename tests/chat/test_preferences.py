"""User preferences: stored per user, validated, and the defaults of a new conversation."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from chat.auth.preferences import Preferences
from chat.errors import InvalidInput
from chat.llm.offline import OfflineChatModel
from chat.services import Services, build_services
from chat.settings import Settings
from chat.turn.start import start_turn
from tests.support.factories import chat_turn, last_context, make_user


@pytest.fixture
def two_model_services(
    settings: Settings, connection: Connection, sessions: sessionmaker[Session]
) -> Iterator[Services]:
    """Services of an instance that offers two models (answered by the offline model: only
    the names matter here)."""
    configured = settings.model_copy(
        update={"openai_api_key": SecretStr("sk-test"), "models": ["model-a", "model-b"]}
    )
    built = build_services(
        configured,
        engine=connection.engine,
        sessions=sessions,
        model_factory=lambda name: OfflineChatModel(),
    )
    yield built
    assert built.turns.drain(timeout=60)


def test_a_new_user_has_the_daily_use_defaults(services: Services) -> None:
    alice = make_user(services)
    assert services.preferences.get(user_id=alice.id) == Preferences(
        theme="system", show_answer_details=False, default_model="", default_persona=""
    )


def test_preferences_round_trip_per_user(two_model_services: Services) -> None:
    services = two_model_services
    alice, bob = make_user(services), make_user(services)
    saved = services.preferences.save(
        user_id=alice.id,
        theme="dark",
        show_answer_details=True,
        default_model="model-b",
        default_persona="  You are a patient maths tutor.\n",
    )
    assert saved == Preferences("dark", True, "model-b", "You are a patient maths tutor.")
    assert services.preferences.get(user_id=alice.id) == saved
    assert services.preferences.get(user_id=bob.id) == Preferences()  # only hers
    services.preferences.set_show_answer_details(user_id=alice.id, show=False)
    assert services.preferences.get(user_id=alice.id) == Preferences(
        "dark", False, "model-b", "You are a patient maths tutor."
    )
    services.preferences.set_show_answer_details(user_id=bob.id, show=True)  # no row yet
    assert services.preferences.get(user_id=bob.id) == Preferences(show_answer_details=True)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"theme": "sepia"}, "Choose a theme"),
        ({"default_model": "model-z"}, "not available here"),
        ({"default_persona": "x" * 4001}, "at most 4,000 characters"),
        ({"default_persona": "nul\x00"}, "NUL"),
    ],
)
def test_refused_preferences_change_nothing(
    two_model_services: Services, change: dict[str, str], says: str
) -> None:
    services = two_model_services
    alice = make_user(services)
    services.preferences.save(
        user_id=alice.id,
        theme="light",
        show_answer_details=True,
        default_model="model-a",
        default_persona="Terse.",
    )
    before = services.preferences.get(user_id=alice.id)
    values = {
        "theme": "dark",
        "show_answer_details": False,
        "default_model": "",
        "default_persona": "",
        **change,
    }
    with pytest.raises(InvalidInput) as refusal:
        services.preferences.save(user_id=alice.id, **values)  # type: ignore[arg-type]
    assert says in refusal.value.user_message
    assert services.preferences.get(user_id=alice.id) == before


def prefer_model_b_and_a_pirate(services: Services, user_id: uuid.UUID) -> None:
    """The user's defaults for new conversations: model-b, and a pirate's persona."""
    services.preferences.save(
        user_id=user_id,
        theme="system",
        show_answer_details=False,
        default_model="model-b",
        default_persona="You are a pirate.",
    )


def test_new_conversations_start_with_the_users_default_model_and_persona(
    two_model_services: Services,
) -> None:
    services = two_model_services
    alice, bob = make_user(services), make_user(services)
    prefer_model_b_and_a_pirate(services, alice.id)
    # from the message box (no conversation yet) and from "New chat"
    sent, _ = chat_turn(services, alice, "Hello")
    created = services.turns.new_conversation(user_id=alice.id)
    for cid in (sent, created):
        view = services.conversations.open(user_id=alice.id, conversation_id=cid)
        assert (view.model, view.system_prompt) == ("model-b", "You are a pirate.")
    assert last_context(services, alice.id, sent)["blocks"][0]["content"] == "You are a pirate."
    # someone without preferences gets the app's defaults
    other = services.turns.new_conversation(user_id=bob.id)
    view = services.conversations.open(user_id=bob.id, conversation_id=other)
    assert (view.model, view.system_prompt) == ("model-a", services.settings.default_system_prompt)


def test_a_conversation_whose_prompt_is_left_blank_gets_the_users_persona(
    two_model_services: Services,
) -> None:
    """Blanking a conversation's system prompt in its settings means "no prompt of its own":
    it gets what a new conversation would, the user's persona (not the app's prompt)."""
    services = two_model_services
    alice = make_user(services)
    prefer_model_b_and_a_pirate(services, alice.id)
    cid, _ = chat_turn(services, alice, "Hello")
    view = services.conversations.open(user_id=alice.id, conversation_id=cid)
    services.conversations.configure(
        user_id=alice.id, conversation_id=cid, model=view.model, temperature=None, system_prompt=""
    )
    chat_turn(services, alice, "Hello again", cid)
    assert last_context(services, alice.id, cid)["blocks"][0]["content"] == "You are a pirate."


def test_an_explicit_model_or_prompt_wins_over_the_defaults(two_model_services: Services) -> None:
    """The API names a model or sends a system message: that is the conversation's; what it
    leaves out comes from the user's defaults."""
    services = two_model_services
    alice = make_user(services)
    prefer_model_b_and_a_pirate(services, alice.id)
    turn = start_turn(services, user_id=alice.id, conversation_id=None, text="Hi", model="model-a")
    "".join(turn.stream())
    view = services.conversations.open(user_id=alice.id, conversation_id=turn.conversation_id)
    assert (view.model, view.system_prompt) == ("model-a", "You are a pirate.")
    turn = start_turn(
        services, user_id=alice.id, conversation_id=None, text="Hi", system_prompt="Be brief."
    )
    "".join(turn.stream())
    view = services.conversations.open(user_id=alice.id, conversation_id=turn.conversation_id)
    assert (view.model, view.system_prompt) == ("model-b", "Be brief.")


def test_a_default_model_no_longer_offered_falls_back_to_the_apps(
    two_model_services: Services, settings: Settings, connection: Connection, sessions: sessionmaker
) -> None:
    alice = make_user(two_model_services)
    two_model_services.preferences.save(
        user_id=alice.id,
        theme="system",
        show_answer_details=False,
        default_model="model-b",
        default_persona="",
    )
    # the operator changes MODELS: model-b is gone
    reconfigured = build_services(
        settings.model_copy(update={"openai_api_key": SecretStr("sk-test"), "models": ["model-c"]}),
        engine=connection.engine,
        sessions=sessions,
        model_factory=lambda name: OfflineChatModel(),
    )
    cid = reconfigured.turns.new_conversation(user_id=alice.id)
    view = reconfigured.conversations.open(user_id=alice.id, conversation_id=cid)
    assert view.model == "model-c"
    assert view.system_prompt == settings.default_system_prompt


def test_export_holds_and_delete_my_data_resets_the_preferences(services: Services) -> None:
    alice = make_user(services)
    services.preferences.save(
        user_id=alice.id,
        theme="dark",
        show_answer_details=True,
        default_model="offline",
        default_persona="Kind.",
    )
    exported = json.loads(services.profiles.export(user_id=alice.id).json_text)
    assert exported["preferences"] == {
        "theme": "dark",
        "show_answer_details": True,
        "default_model": "offline",
        "default_persona": "Kind.",
    }
    services.profiles.delete_all_conversations(user_id=alice.id)
    assert services.preferences.get(user_id=alice.id) == Preferences()
