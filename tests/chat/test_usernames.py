"""Look-alike usernames cannot be registered side by side."""

from __future__ import annotations

import pytest

from chat.auth.usernames import fold
from chat.errors import InvalidInput
from chat.services import Services
from tests.support.factories import PASSWORD


def test_look_alikes_fold_to_one_name() -> None:
    for look_alike in ("Alice", "ＡＬＩＣＥ", "al1ce", "a.lice", "a_lice", "alice-", "аlice"):
        assert fold(look_alike) == fold("alice"), look_alike
    assert fold("modern") == fold("modem")
    assert fold("bob") != fold("alice")


def test_registration_refuses_a_look_alike(services: Services) -> None:
    services.accounts.create(username="mallory.k", email="m@example.com", password=PASSWORD)
    for look_alike in ("Mallory.K", "mal1ory-k", "mallory_k", "ｍallory.k"):
        with pytest.raises(InvalidInput, match=r"taken|looks too much like"):
            services.accounts.create(username=look_alike, email="x@example.com", password=PASSWORD)
    with pytest.raises(InvalidInput, match="ending with a letter or digit"):
        services.accounts.create(username="mallory.", email="x@example.com", password=PASSWORD)
    assert services.accounts.create(username="mallory.j", email="j@example.com", password=PASSWORD)
