"""The password policy, and Argon2id hashing: the service's default parameters are argon2-cffi's,
a verification without a stored hash fails, and an outdated hash is upgraded."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from crm_identity.adapters.password_hashing import PasswordHashing
from crm_identity.domain.passwords import check_password
from crm_platform.errors import InvalidArgument


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 10"),
        ("x" * 257, "at most 256"),
        ("Ana@Example.com", "e-mail"),
    ],
)
def test_policy_refuses_and_names_the_field(password: str, problem: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        check_password(password, "ana@example.com", "new_password")
    assert err.value.violations[0].field == "new_password"
    assert problem in err.value.violations[0].description


def test_policy_accepts_the_bounds() -> None:
    check_password("x" * 10, "ana@example.com")
    check_password("x" * 256, "ana@example.com")
    check_password("contraseña segura ñ", "")


def test_default_parameters_are_argon2_defaults() -> None:
    ours = PasswordHashing().hash("a password!")
    theirs = PasswordHasher().hash("a password!")
    assert ours.startswith("$argon2id$")
    assert ours.split("$")[3] == theirs.split("$")[3]  # m=...,t=...,p=...


def test_verify_and_dummy_verify() -> None:
    hashing = PasswordHashing(time_cost=1, memory_cost=1024, parallelism=1)
    stored = hashing.hash("right password")
    assert hashing.verify(stored, "right password")
    assert not hashing.verify(stored, "wrong password")
    assert not hashing.verify(None, "right password")
    assert not hashing.verify("not a hash", "right password")


def test_an_outdated_hash_is_upgraded() -> None:
    cheap = PasswordHashing(time_cost=1, memory_cost=1024, parallelism=1)
    stronger = PasswordHashing(time_cost=2, memory_cost=2048, parallelism=1)
    old = cheap.hash("right password")
    assert cheap.upgraded_hash(old, "right password") is None
    new = stronger.upgraded_hash(old, "right password")
    assert new is not None and "m=2048,t=2,p=1" in new and stronger.verify(new, "right password")
