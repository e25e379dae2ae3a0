"""What the identity use cases need besides their arguments: the database, the settings and the
password hasher. bootstrap.py builds one per process; tests may build their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from crm_identity.adapters.password_hashing import PasswordHashing
from crm_identity.settings import IdentitySettings
from crm_platform.db import Database


@dataclass(frozen=True)
class Deps:
    db: Database
    settings: IdentitySettings
    passwords: PasswordHashing

    @classmethod
    def build(cls, db: Database, settings: IdentitySettings) -> Deps:
        hashing = PasswordHashing(
            time_cost=settings.password_hash_time_cost,
            memory_cost=settings.password_hash_memory_cost,
            parallelism=settings.password_hash_parallelism,
        )
        return cls(db, settings, hashing)

    @property
    def access_token_ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.access_token_ttl_seconds)

    @property
    def refresh_token_ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.refresh_token_ttl_seconds)

    @property
    def session_max_age(self) -> timedelta:
        return timedelta(seconds=self.settings.session_max_age_seconds)

    @property
    def login_window(self) -> timedelta:
        return timedelta(seconds=self.settings.login_window_seconds)
