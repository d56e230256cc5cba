"""Times on the pages are in the viewer's time zone (the browser's, st.context.timezone);
in UTC, said so, when the browser names none."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from streamlit.testing.v1 import AppTest

from chat.services import Services
from tests.pages.test_memory_page import learnt, memory_page
from tests.support.factories import make_user

# UTC+05:45 all year: no other zone and no daylight-saving change can produce its times.
ZONE = "Asia/Kathmandu"


def in_zone(moment: datetime) -> str:
    return f"{moment.astimezone(ZoneInfo(ZONE)):%Y-%m-%d %H:%M}"


def in_utc(moment: datetime) -> str:
    return f"{moment.astimezone(ZoneInfo('UTC')):%Y-%m-%d %H:%M} UTC"


def captions(app: AppTest) -> str:
    return " | ".join(caption.value for caption in app.caption)


def test_sessions_page_shows_sign_ins_in_the_viewers_zone(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    user = make_user(app_services)
    app = signed_in(username=user.username)
    app.switch_page("pages/sessions.py").run()
    [browser] = app_services.browser_sessions.list(user_id=user.id)
    assert f"signed in {in_utc(browser.created_at)}" in captions(app)

    app.context = {"timezone": ZONE}
    app.run()
    assert not app.exception
    assert f"signed in {in_zone(browser.created_at)}" in captions(app)
    [event, *_] = app_services.accounts.login_history(user_id=user.id)
    assert app.dataframe[0].value["time"][0] == in_zone(event.at)


def test_memory_page_shows_when_a_fact_was_learnt_in_the_viewers_zone(
    app_services: Services,
) -> None:
    alice = make_user(app_services)
    learnt(app_services, alice, "My sister is called Ingrid.")
    [fact] = app_services.memory.overview(user_id=alice.id).facts
    app = memory_page(alice)
    assert in_utc(fact.created_at) in captions(app)
    app.context = {"timezone": ZONE}
    app.run()
    assert f"· {in_zone(fact.created_at)}" in captions(app)


def test_api_keys_show_when_they_were_made_and_used_in_the_viewers_zone(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    user = make_user(app_services)
    created = app_services.api_keys.create(user_id=user.id, name="laptop")
    app_services.api_keys.authenticate(key=created.key, request="test")
    [key] = app_services.api_keys.list(user_id=user.id)
    assert key.last_used_at is not None
    app = signed_in(username=user.username)
    app.context = {"timezone": ZONE}
    app.switch_page("pages/account.py").run()
    assert not app.exception
    listed = " ".join(block.value for block in app.markdown)
    day = f"{key.created_at.astimezone(ZoneInfo(ZONE)):%Y-%m-%d}"
    assert f"created {day} · last used {in_zone(key.last_used_at)}" in listed
