"""The bad-input corpus on the pages: a refusal is explained and the typed text is kept;
accepted text is shown as it was typed, as Markdown without raw HTML; a malformed lab upload
gets its sentence."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from chat.conversations import lab
from chat.markup import literal_markdown
from chat.services import Services
from tests.pages.test_memory_lab import lab_page
from tests.support.bad_input import (
    Expected,
    expand,
    expected,
    text_case,
    text_cases,
    upload_bytes,
)
from tests.support.bad_input import upload_cases as all_upload_cases
from tests.support.factories import chat_turn, make_user

ROOT = Path(__file__).resolve().parents[2]
SHOWN_GROUPS = ("HTML/JS/markdown injection", "right-to-left", "emoji and zero-width")


def message_expectation(services: Services, case_id: str) -> Expected:
    return expected(
        text_case(case_id), "message", limit=services.settings.max_message_chars, shape="exact"
    )


# Lone surrogates are not here: a browser cannot send one (it encodes what is typed as
# UTF-8, replacing them), so they only reach the services, where the corpus refuses them.
@pytest.mark.parametrize("case_id", ["nul-inside", "nul-only", "over-limit"])
def test_refused_message_is_explained_and_offered_back(
    signed_in: Callable[..., AppTest], app_services: Services, case_id: str
) -> None:
    exp = message_expectation(app_services, case_id)
    assert exp.outcome == "refused"
    app = signed_in()
    app.chat_input[0].set_value(exp.text).run()
    assert not app.exception
    assert exp.says in app.error[0].value
    assert app.code[0].value == exp.text  # nothing lost: the text is offered back
    assert "c" not in app.query_params  # no conversation was created
    owner = app_services.accounts.get(username=app.session_state["username"])
    assert owner is not None
    assert app_services.conversations.list(user_id=owner.id) == []


@pytest.mark.parametrize(
    "case_id",
    [case["id"] for case in text_cases() if case["group"] in SHOWN_GROUPS],
)
def test_accepted_text_is_shown_as_typed_without_raw_html(
    signed_in: Callable[..., AppTest], app_services: Services, case_id: str
) -> None:
    exp = message_expectation(app_services, case_id)
    owner = make_user(app_services)
    cid, _ = chat_turn(app_services, owner, exp.text)
    app = signed_in(query={"c": str(cid)}, username=owner.username)
    assert not app.exception
    question = app.chat_message[0]
    assert question.name == "user"
    assert question.markdown[0].value == literal_markdown(exp.stored)
    assert all(block.proto.allow_html is False for block in app.markdown)


REVIEWED = ("# reviewed: app-made, no user text", "# reviewed: text through message_html")


def test_pages_never_render_raw_html() -> None:
    """No page or part may opt into raw HTML: user and model text reach the browser only as
    Markdown (which Streamlit renders without HTML), as plain text, or as HTML rendered by
    chat.markup.message_html (tests/chat/test_markup.py). The exceptions are marked so: HTML
    the app makes from no user text (the sign-in's cookie exchange, the theme script), and
    the earlier messages."""
    risky = re.compile(r"unsafe_allow_html\s*=\s*True|st\.html\(|components\.v1|\.html\(")
    sources = [ROOT / "streamlit_app.py", *sorted((ROOT / "pages").rglob("*.py"))]
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if risky.search(line) and not any(mark in line for mark in REVIEWED)
    ]
    assert len(sources) > 10 and offenders == []


def upload_sizes(services: Services) -> dict[str, int]:
    return {
        "limit": services.settings.max_message_chars,
        "upload_limit": lab.MAX_UPLOAD_BYTES,
        "max_turns": lab.MAX_TURNS,
    }


def upload(app: AppTest, data: bytes) -> AppTest:
    app.radio(key="lab-source").set_value("Upload a JSONL file").run()
    app.file_uploader(key="lab-upload").set_value(("transcript.jsonl", data, "text/plain"))
    return app.run()


@pytest.mark.parametrize(
    "case", [c for c in all_upload_cases() if c["expect"] == "refused"], ids=lambda c: c["id"]
)
def test_malformed_lab_upload_gets_its_sentence(
    app_services: Services, case: dict[str, Any]
) -> None:
    sizes = upload_sizes(app_services)
    app = upload(lab_page(make_user(app_services)), upload_bytes(case["upload"], sizes))
    assert not app.exception
    says = case["says"].replace("{limit}", f"{sizes['limit']:,}")
    assert [says in error.value for error in app.error] == [True]
    assert not [button for button in app.button if button.key == "lab-run"]


def test_accepted_lab_upload_is_offered_for_replay(app_services: Services) -> None:
    case = next(c for c in all_upload_cases() if c["id"] == "unusual-text")
    sizes = upload_sizes(app_services)
    app = upload(lab_page(make_user(app_services)), upload_bytes(case["upload"], sizes))
    assert not app.exception and not app.error
    turns = len(expand(case["users"], sizes))
    assert f"{turns} turns, 1 probe." in [caption.value for caption in app.caption]
    assert [button for button in app.button if button.key == "lab-run"]
