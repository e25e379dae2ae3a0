"""Password hashing with Argon2id (argon2-cffi), including the dummy verification that makes a
sign-in with an unknown e-mail take as long as one with a known e-mail."""

from __future__ import annotations

import secrets

from argon2 import DEFAULT_MEMORY_COST, DEFAULT_PARALLELISM, DEFAULT_TIME_COST, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class PasswordHashing:
    def __init__(self, *, time_cost: int | None = None, memory_cost: int | None = None, parallelism: int | None = None):
        # Unset costs keep argon2-cffi's defaults, which follow its current recommendation.
        self.hasher = PasswordHasher(
            time_cost=DEFAULT_TIME_COST if time_cost is None else time_cost,
            memory_cost=DEFAULT_MEMORY_COST if memory_cost is None else memory_cost,
            parallelism=DEFAULT_PARALLELISM if parallelism is None else parallelism,
        )
        # Made once per process with the same parameters as real hashes, so verifying against it
        # costs the same time; its password is random and thrown away, so nothing matches it.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether the password matches; with no stored hash (unknown user, or a user without a
        password) it verifies against the dummy hash and answers False."""
        try:
            return self.hasher.verify(stored_hash or self._dummy_hash, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def upgraded_hash(self, stored_hash: str, password: str) -> str | None:
        """A new hash when the stored one was made with other parameters (call after a successful
        verify, with the password just checked), else None."""
        return self.hasher.hash(password) if self.hasher.check_needs_rehash(stored_hash) else None
