"""The official `openai` client, unchanged, against the running app's /api/v1."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import openai
import pytest
from openai import OpenAI

from chat.services import Services
from tests.api.conftest import MODEL, PER_MINUTE, ApiUser
from tests.support.openai_server import FakeOpenAIServer


def test_models_lists_the_configured_ones(client: OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert MODEL in ids and "offline" in ids


def test_a_new_conversation_then_a_continued_one(
    client: OpenAI, model_server: FakeOpenAIServer, db_services: Services, user: ApiUser
) -> None:
    first = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "My cat is called Miso."}]
    )
    conversation_id = first.model_extra["conversation_id"]  # type: ignore[index]
    assert first.choices[0].message.content == "Echo: My cat is called Miso."
    assert first.choices[0].finish_reason == "stop"
    assert first.usage is not None and first.usage.completion_tokens > 0
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens

    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is my cat called?"}],
        extra_body={"conversation_id": conversation_id},
    )
    second = raw.parse()
    assert raw.headers["x-conversation-id"] == conversation_id
    assert second.model_extra["conversation_id"] == conversation_id  # type: ignore[index]
    # The client sent only the new message; the model saw the earlier turn, from the server.
    sent = [
        body for body in model_server.chat_requests
        if any(m.get("content") == "What is my cat called?" for m in body["messages"])
    ]  # fmt: skip
    contents = [message["content"] for message in sent[-1]["messages"]]
    assert "My cat is called Miso." in contents
    assert "Echo: My cat is called Miso." in contents

    stored = db_services.conversations.open(
        user_id=user.user_id, conversation_id=uuid.UUID(conversation_id)
    )
    assert [(m.role, m.content, m.status) for m in stored.messages] == [
        ("human", "My cat is called Miso.", "complete"),
        ("ai", "Echo: My cat is called Miso.", "complete"),
        ("human", "What is my cat called?", "complete"),
        ("ai", "Echo: What is my cat called?", "complete"),
    ]
    # It is one of the user's conversations, as the sidebar lists them.
    listed = db_services.conversations.list(user_id=user.user_id)
    assert str(listed[0].id) == conversation_id


def test_streaming(client: OpenAI, model_server: FakeOpenAIServer) -> None:
    model_server.enqueue_reply("one two three four")
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You count."},
            {"role": "user", "content": "Count to four."},
        ],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert len({c.model_extra["conversation_id"] for c in chunks}) == 1  # type: ignore[index]
    # The system message became the conversation's prompt, which the model received.
    answered = next(
        body for body in model_server.chat_requests
        if any(m.get("content") == "Count to four." for m in body["messages"])
    )  # fmt: skip
    assert answered["messages"][0]["role"] == "system"
    assert answered["messages"][0]["content"].startswith("You count.")


def test_no_key_a_wrong_key_and_a_revoked_key_are_401(
    base_url: str, db_services: Services, user: ApiUser
) -> None:
    missing = httpx.get(f"{base_url}/v1/models")  # the openai client always sends a key
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in missing.json()["error"]["message"]

    unknown = OpenAI(base_url=f"{base_url}/v1", api_key="chat-not-a-real-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        unknown.models.list()

    (key,) = db_services.api_keys.list(user_id=user.user_id)
    db_services.api_keys.revoke(user_id=user.user_id, key_id=key.id)
    revoked = OpenAI(base_url=f"{base_url}/v1", api_key=user.key, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        revoked.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "still there?"}]
        )
    assert refused.value.status_code == 401
    assert db_services.conversations.list(user_id=user.user_id) == []


def test_a_disabled_users_key_is_401(base_url: str, db_services: Services, user: ApiUser) -> None:
    admin = db_services.accounts.create(
        username=f"admin-{uuid.uuid4().hex[:8]}", email="a@example.com",
        password="correct horse battery", role="admin",
    )  # fmt: skip
    db_services.admin.set_disabled(actor=admin, user_id=user.user_id, disabled=True)
    client = OpenAI(base_url=f"{base_url}/v1", api_key=user.key, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_another_users_conversation_is_404_and_unchanged(
    client: OpenAI, base_url: str, new_user: Callable[[], ApiUser], db_services: Services
) -> None:
    first = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "mine"}]
    )
    conversation_id = first.model_extra["conversation_id"]  # type: ignore[index]
    intruder = OpenAI(base_url=f"{base_url}/v1", api_key=new_user().key, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        intruder.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "theirs now"}],
            extra_body={"conversation_id": conversation_id},
        )
    with pytest.raises(openai.NotFoundError):
        intruder.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "theirs now"}],
            extra_body={"conversation_id": str(uuid.uuid4())},
        )
    owner = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "still mine?"}],
        extra_body={"conversation_id": conversation_id},
    )
    assert owner.choices[0].message.content == "Echo: still mine?"


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [{"role": "assistant", "content": "hello"}],
        [
            {"role": "user", "content": "earlier question"},
            {"role": "assistant", "content": "earlier answer"},
            {"role": "user", "content": "new question"},
        ],
        [{"role": "system", "content": "a"}, {"role": "system", "content": "b"}],
        [{"role": "user", "content": ""}],
        [{"role": "user", "content": "nul \x00 inside"}],
    ],
    ids=["none", "assistant-only", "whole-history", "two-systems", "empty", "nul"],
)
def test_bad_messages_are_400_with_a_sentence(client: OpenAI, messages: list) -> None:  # type: ignore[type-arg]
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=MODEL, messages=messages)
    message = refused.value.body["message"]  # type: ignore[index]
    assert message.endswith(".") and "Traceback" not in message


def test_history_in_messages_is_refused_with_what_to_send(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"},
            ],
        )
    assert "conversation_id" in refused.value.body["message"]  # type: ignore[index]


def test_an_unknown_model_is_400_naming_those_on_offer(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    assert MODEL in refused.value.body["message"]  # type: ignore[index]


def test_a_model_failure_is_an_error_and_the_question_is_kept(
    client: OpenAI, model_server: FakeOpenAIServer, db_services: Services, user: ApiUser
) -> None:
    model_server.wait_quiet()  # earlier tests' titles have been asked for
    model_server.enqueue_error(500, "upstream exploded")
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "will this fail?"}]
        )
    assert failed.value.status_code == 502
    (conversation,) = db_services.conversations.list(user_id=user.user_id)
    stored = db_services.conversations.open(user_id=user.user_id, conversation_id=conversation.id)
    assert [(m.role, m.status) for m in stored.messages] == [("human", "complete"), ("ai", "error")]


def test_the_per_minute_limit_is_429_with_retry_after(
    client: OpenAI, db_services: Services, user: ApiUser
) -> None:
    for number in range(PER_MINUTE):
        client.chat.completions.create(
            model="offline", messages=[{"role": "user", "content": f"message {number}"}]
        )
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(
            model="offline", messages=[{"role": "user", "content": "one too many"}]
        )
    assert refused.value.status_code == 429
    assert int(refused.value.response.headers["retry-after"]) > 0
    # The refused message left nothing behind, not even the conversation made for it.
    assert len(db_services.conversations.list(user_id=user.user_id)) == PER_MINUTE
