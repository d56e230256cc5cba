"""The user's own data: profile, export, delete everything."""

from __future__ import annotations

import json

import pytest

from chat.errors import InvalidInput
from chat.services import Services
from tests.support.factories import chat_turn, last_context, make_user


def test_profile_round_trips_and_is_validated(services: Services) -> None:
    alice = make_user(services)
    services.profiles.update(
        user_id=alice.id, display_name="  Alice   L. ", language="Español", about="Teacher."
    )
    profile = services.profiles.get(user_id=alice.id)
    assert (profile.display_name, profile.language, profile.about) == (
        "Alice L.",
        "Español",
        "Teacher.",
    )
    for bad in ({"display_name": ""}, {"about": "x" * 1001}, {"language": "nul\x00"}):
        with pytest.raises(InvalidInput):
            services.profiles.update(
                user_id=alice.id,
                **{"display_name": "A", "language": "", "about": "", **bad},
            )
    assert services.profiles.get(user_id=alice.id) == profile  # refused: nothing changed


def test_offline_model_answers_with_the_profile_in_its_context(services: Services) -> None:
    alice = make_user(services)
    services.profiles.update(user_id=alice.id, display_name="Alice", language="", about="")
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Hi")
    "".join(turn.stream())
    assert turn.wait(30)
    context = last_context(services, alice.id, turn.conversation_id)
    assert "The user's name is Alice." in context["blocks"][0]["content"]


def test_export_holds_every_conversation_of_the_user_only(services: Services) -> None:
    alice, bob = make_user(services), make_user(services)
    one, _ = chat_turn(services, alice, "Tell me about <b>tea</b>.")
    chat_turn(services, alice, "And coffee?", one)
    two, _ = chat_turn(services, alice, "Chess openings?")
    chat_turn(services, bob, "bob's private note")
    export = services.profiles.export(user_id=alice.id)
    data = json.loads(export.json_text)
    by_id = {c["id"]: c for c in data["conversations"]}
    assert set(by_id) == {str(one), str(two)}
    assert [m["content"] for m in by_id[str(one)]["messages"]][::2] == [
        "Tell me about <b>tea</b>.",
        "And coffee?",
    ]
    assert len(export.markdown) == 2
    first = next(text for name, text in export.markdown.items() if str(one)[:8] in name)
    assert "**You**:\n\nTell me about <b>tea</b>." in first
    assert "bob's private note" not in export.json_text


def test_delete_all_conversations_leaves_other_users_alone(services: Services) -> None:
    alice, bob = make_user(services), make_user(services)
    chat_turn(services, alice, "a1")
    chat_turn(services, alice, "a2")
    chat_turn(services, bob, "b1")
    assert services.profiles.delete_all_conversations(user_id=alice.id) == 2
    assert services.conversations.list(user_id=alice.id) == []
    assert len(services.conversations.list(user_id=bob.id)) == 1
    assert json.loads(services.profiles.export(user_id=alice.id).json_text) == {
        "conversations": [],
        "memory": [],
        "preferences": {
            "theme": "system",
            "show_answer_details": False,
            "default_model": "",
            "default_persona": "",
        },
    }
