"""Password policy (ASVS 5, 6.2) and hashing, through the account service."""

from __future__ import annotations

import pytest

from chat.auth.passwords import common_passwords, hash_password
from chat.errors import InvalidInput
from chat.services import Services
from tests.support.factories import Clock, clocked, make_user


def test_long_passwords_are_used_whole_not_truncated(services: Services) -> None:
    long_password = "ünïcode words " * 20  # 300 characters, far beyond bcrypt's 72 bytes
    user = make_user(services)
    services.accounts.set_password(username=user.username, password=long_password.strip())
    assert services.accounts.authenticate(username=user.username, password=long_password.strip())
    same_start = long_password.strip()[:-1] + "X"
    assert services.accounts.authenticate(username=user.username, password=same_start) is None


@pytest.mark.parametrize("common", ["password123", "Qwerty123456", "iloveyou2024", "12345678"])
def test_common_passwords_are_refused(services: Services, common: str) -> None:
    with pytest.raises(InvalidInput, match="common passwords"):
        services.accounts.create(username="victim1", email="v@example.com", password=common)


def test_the_bundled_list_is_large_and_spares_good_passwords() -> None:
    assert len(common_passwords()) > 5000
    assert "correct horse battery" not in common_passwords()


def test_minimum_length_comes_from_settings(services: Services) -> None:
    strict = clocked(services, Clock(), password_min_chars=12)
    with pytest.raises(InvalidInput, match="at least 12 characters"):
        strict.accounts.create(username="shorty", email="s@example.com", password="eleven char")
    assert strict.accounts.create(username="longer", email="l@example.com", password="twelve chars")


def test_a_password_with_outer_spaces_is_refused_rather_than_unusable(services: Services) -> None:
    # The library strips what is typed into the login form, so it could never match.
    with pytest.raises(InvalidInput, match="start or end with a space"):
        services.accounts.create(username="spacey", email="s@example.com", password=" padded pw ")


def test_bcrypt_cost_is_at_least_ten() -> None:
    assert hash_password("anything at all", rounds=10).startswith("$2b$10$")
