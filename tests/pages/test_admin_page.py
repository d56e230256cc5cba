"""The admin page: its tables fit the page, a reset code says how long it is valid."""

from __future__ import annotations

import json
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from chat.services import Services
from tests.support.factories import make_user


def admin_page(signed_in: Callable[..., AppTest], services: Services) -> AppTest:
    admin = make_user(services, role="admin")
    app = signed_in(username=admin.username)
    app.switch_page("pages/admin.py").run()
    assert not app.exception
    return app


def column_formats(app: AppTest, table: int) -> dict[str, object]:
    """What the browser is told about each column of a table: its heading when it is not
    the column's name, its width and its format."""
    columns = json.loads(app.dataframe[table].proto.columns)
    return {
        name: (
            config.get("label"),
            config.get("width"),
            config.get("type_config", {}).get("format"),
        )
        for name, config in columns.items()
        if not name.startswith("_")
    }


def test_the_tables_are_compact_enough_to_fit(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    app = admin_page(signed_in, app_services)
    assert column_formats(app, 0) == {
        "role": (None, "small", None),
        "status": (None, "small", None),
        "created": ("created (UTC)", None, "YYYY-MM-DD"),
        "last login": ("last login (UTC)", None, "YYYY-MM-DD HH:mm"),
        "conversations": (None, None, "%,d"),
        "messages": (None, None, "%,d"),
        "tokens": (None, None, "%,d"),
    }
    assert column_formats(app, 1) == {
        "time": ("time (UTC)", None, "YYYY-MM-DD HH:mm:ss"),
        "detail": (None, "large", None),
    }


def test_a_reset_code_is_valid_for_hours_not_minutes(
    signed_in: Callable[..., AppTest], app_services: Services
) -> None:
    user = make_user(app_services)
    app = admin_page(signed_in, app_services)
    app.selectbox(key="admin-user").select(user.username).run()
    app.button(key="admin-reset").click().run()
    assert [i.value for i in app.info] == [
        f"One-time reset code for **{user.username}** (valid for 24 hours, shown only now):"
    ]
