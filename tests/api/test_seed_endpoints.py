"""The seeds' shape over plain HTTP (httpx): /chat, /chat/stream, /history; health, docs,
and refusals as JSON with a sentence, never a traceback."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from httpx_sse import connect_sse

from chat.services import Services
from tests.api.conftest import MODEL, ApiUser
from tests.support.openai_server import FakeOpenAIServer


def test_health_reports_the_database(base_url: str) -> None:
    answer = httpx.get(f"{base_url}/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "database": "ok"}


def test_docs_and_openapi_are_served(base_url: str) -> None:
    spec = httpx.get(f"{base_url}/openapi.json").json()
    assert {"/chat", "/chat/stream", "/history/{conversation_id}", "/v1/chat/completions"} <= set(
        spec["paths"]
    )
    docs = httpx.get(f"{base_url}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "cdn" not in docs.text  # the app's CSP would refuse it
    assert httpx.get(f"{base_url}/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_chat_then_history_then_delete(http: httpx.Client) -> None:
    first = http.post("/chat", json={"message": "Hello there"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["response"] == "Echo: Hello there"
    conversation_id = body["conversation_id"]
    assert first.headers["x-conversation-id"] == conversation_id
    second = http.post("/chat", json={"message": "Again", "conversation_id": conversation_id})
    assert second.json()["conversation_id"] == conversation_id

    history = http.get(f"/history/{conversation_id}").json()
    assert [(m["role"], m["content"], m["status"]) for m in history["messages"]] == [
        ("user", "Hello there", "complete"),
        ("assistant", "Echo: Hello there", "complete"),
        ("user", "Again", "complete"),
        ("assistant", "Echo: Again", "complete"),
    ]
    assert all(m["time"] for m in history["messages"]) and history["model"] == MODEL

    deleted = http.delete(f"/history/{conversation_id}")
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    assert http.get(f"/history/{conversation_id}").status_code == 404
    assert http.delete(f"/history/{conversation_id}").status_code == 404


def test_stream_sends_the_id_then_tokens_then_done(
    http: httpx.Client, model_server: FakeOpenAIServer
) -> None:
    model_server.wait_quiet()
    model_server.enqueue_reply("alpha beta gamma")
    with connect_sse(http, "POST", "/chat/stream", json={"message": "Stream it"}) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        events = [event.data for event in source.iter_sse()]
    first = json.loads(events[0])
    assert uuid.UUID(first["conversation_id"])
    assert events[-1] == "[DONE]"
    tokens = [json.loads(data)["token"] for data in events[1:-1]]
    assert "".join(tokens) == "alpha beta gamma" and len(tokens) == 3


def test_a_client_that_disconnects_mid_stream_loses_nothing(
    http: httpx.Client, model_server: FakeOpenAIServer
) -> None:
    model_server.wait_quiet()
    words = " ".join(f"word{n}" for n in range(40))
    model_server.enqueue_reply(words, token_delay=0.03)
    with connect_sse(http, "POST", "/chat/stream", json={"message": "Long one"}) as source:
        events = source.iter_sse()
        conversation_id = json.loads(next(events).data)["conversation_id"]
        next(events)  # the first token, then the client goes away
    deadline = time.monotonic() + 20
    while True:
        messages = http.get(f"/history/{conversation_id}").json()["messages"]
        if messages[-1]["status"] != "pending" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (messages[-1]["content"], messages[-1]["status"]) == (words, "complete")


def test_a_model_failure_mid_stream_is_an_error_event_and_is_stored(
    http: httpx.Client, model_server: FakeOpenAIServer
) -> None:
    model_server.wait_quiet()
    model_server.enqueue_drop(after_tokens=2, text="one two three four five")
    with connect_sse(http, "POST", "/chat/stream", json={"message": "Fail midway"}) as source:
        events = list(source.iter_sse())
    conversation_id = json.loads(events[0].data)["conversation_id"]
    assert events[-1].event == "error"
    assert json.loads(events[-1].data)["error"]["message"].endswith(".")
    messages = http.get(f"/history/{conversation_id}").json()["messages"]
    assert messages[0]["content"] == "Fail midway"
    assert messages[1]["status"] == "error" and messages[1]["content"].startswith("one two")


def test_another_users_history_is_404_and_unchanged(
    http: httpx.Client, base_url: str, new_user: Callable[[], ApiUser]
) -> None:
    conversation_id = http.post("/chat", json={"message": "private"}).json()["conversation_id"]
    other = {"Authorization": f"Bearer {new_user().key}"}
    for method, path, body in [
        ("GET", f"/history/{conversation_id}", None),
        ("DELETE", f"/history/{conversation_id}", None),
        ("POST", "/chat", {"message": "mine now", "conversation_id": conversation_id}),
        ("POST", "/chat/stream", {"message": "mine now", "conversation_id": conversation_id}),
    ]:
        answer = httpx.request(method, f"{base_url}{path}", json=body, headers=other)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["error"]["message"] == "Conversation not found."
    assert len(http.get(f"/history/{conversation_id}").json()["messages"]) == 2


def test_an_answer_still_arriving_is_409(
    http: httpx.Client, model_server: FakeOpenAIServer
) -> None:
    model_server.wait_quiet()
    model_server.enqueue_reply("slow " * 20, token_delay=0.05)
    with connect_sse(http, "POST", "/chat/stream", json={"message": "take your time"}) as source:
        events = source.iter_sse()
        conversation_id = json.loads(next(events).data)["conversation_id"]
        busy = http.post("/chat", json={"message": "me too", "conversation_id": conversation_id})
        assert busy.status_code == 409 and "still arriving" in busy.json()["error"]["message"]
        list(events)


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"{not json", 400),
        (b"[]", 422),
        (b'{"message": 42}', 422),
        (b'{"message": ["a"]}', 422),
        (b'{"msg": "hi"}', 422),
        (b'{"message": ""}', 400),
        (b'{"message": "   "}', 400),
        (b'{"message": "nul \\u0000 here"}', 400),
        (b'{"message": "x", "conversation_id": "not-an-id"}', 422),
        (b'{"message": "x", "conversation_id": 7}', 422),
        (('{"message": "' + "y" * 20001 + '"}').encode(), 400),
        (b'{"message": "lone \\ud800 surrogate"}', 400),
    ],
    ids=[
        "bad-json", "not-object", "number", "list", "wrong-field", "empty", "blank", "nul",
        "bad-id", "numeric-id", "too-long", "lone-surrogate",
    ],
)  # fmt: skip
def test_bad_input_is_a_json_error_with_a_sentence(
    http: httpx.Client, content: bytes, status: int
) -> None:
    for path in ("/chat", "/chat/stream"):
        answer = http.post(path, content=content, headers={"Content-Type": "application/json"})
        assert answer.status_code in (400, 422), answer.text
        if status == 400:
            assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["message"].endswith(".") and "Traceback" not in answer.text


def test_bad_ids_in_the_path_are_422(http: httpx.Client) -> None:
    for path in ("/history/not-a-uuid", "/history/1", "/history/%E2%80%AE"):
        answer = http.get(path)
        assert answer.status_code == 422, (path, answer.status_code, answer.text)
        assert "not a valid id" in answer.json()["error"]["message"]
    # Streamlit's own path check refuses a NUL in any path before a route is chosen.
    assert http.get("/history/%00").status_code == 400


def test_unknown_routes_and_methods_are_json(http: httpx.Client) -> None:
    assert http.get("/nowhere").json()["error"]["message"] == "No such endpoint."
    assert http.put("/chat").status_code == 405


def test_api_traffic_is_in_the_audit_log(
    http: httpx.Client, db_services: Services, user: ApiUser
) -> None:
    http.post("/chat", json={"message": "audited"})
    admin = db_services.accounts.create(
        username=f"auditor-{uuid.uuid4().hex[:8]}", email="a@example.com",
        password="correct horse battery", role="admin",
    )  # fmt: skip
    events = db_services.admin.events(actor=admin, limit=200)
    mine = [event for event in events if event.username == user.username]
    assert any(
        event.kind == "api_request" and event.detail["request"] == "POST /api/chat"
        for event in mine
    )


def test_a_stop_from_elsewhere_ends_the_answer_as_interrupted(
    http: httpx.Client, model_server: FakeOpenAIServer, db_services: Services, user: ApiUser
) -> None:
    """A page (here: another process's services) stops an answer an API client waits for:
    the client gets the text that was stored, marked interrupted."""
    model_server.wait_quiet()
    model_server.enqueue_reply(" ".join(f"w{n}" for n in range(60)), token_delay=0.05)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(http.post, "/chat", json={"message": "a long answer please"})
        deadline = time.monotonic() + 20
        while True:
            listed = db_services.conversations.list(user_id=user.user_id)
            if listed:
                messages = http.get(f"/history/{listed[0].id}").json()["messages"]
                if len(messages) == 2 and messages[1]["content"]:
                    break
            assert time.monotonic() < deadline, "the answer never started"
            time.sleep(0.1)
        db_services.turns.stop(user_id=user.user_id, reply_id=uuid.UUID(messages[1]["id"]))
        answer = waiting.result(timeout=30).json()
    assert answer["status"] == "interrupted"
    stored = http.get(f"/history/{listed[0].id}").json()["messages"][1]
    assert stored["status"] == "interrupted" and stored["content"] == answer["response"]
    assert 0 < len(answer["response"].split()) < 60


def test_a_huge_body_is_413_before_it_is_read(http: httpx.Client) -> None:
    huge = b'{"message": "' + b"z" * (3 * 1024 * 1024) + b'"}'
    answer = http.post("/chat", content=huge, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"
