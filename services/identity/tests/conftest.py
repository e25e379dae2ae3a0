"""Fixtures of the identity tests: cheap Argon2 parameters (the service's defaults cost ~50 ms a
hash), a known first-admin password, the service started on each backend, and a gRPC stub."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest

from crm.identity.v1 import identity_pb2, identity_pb2_grpc
from crm_identity.bootstrap import SPEC
from crm_platform.service import ServiceRuntime

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "first-admin-password"
USER_PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def identity_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_IDENTITY_PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.setenv("CRM_IDENTITY_PASSWORD_HASH_MEMORY_COST", "1024")
    monkeypatch.setenv("CRM_IDENTITY_PASSWORD_HASH_PARALLELISM", "1")
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.delenv("CRM_ADMIN_EMAIL", raising=False)


@pytest.fixture
def identity(database_url: str, start_service: Callable[..., ServiceRuntime]) -> ServiceRuntime:
    return start_service(SPEC, database_url)


@pytest.fixture
def stub(identity: ServiceRuntime) -> Iterator[identity_pb2_grpc.IdentityServiceStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{identity.grpc_port}")
    yield identity_pb2_grpc.IdentityServiceStub(channel)
    channel.close()


@pytest.fixture
def make_user(stub: identity_pb2_grpc.IdentityServiceStub) -> Callable[..., identity_pb2.User]:
    """Creates a user (a rep with USER_PASSWORD unless told otherwise) and returns it."""

    def _make(email: str, *, password: str = USER_PASSWORD, **fields: object) -> identity_pb2.User:
        fields.setdefault("display_name", email.split("@")[0].title())
        fields.setdefault("role", identity_pb2.ROLE_REP)
        request = identity_pb2.CreateUserRequest(user=identity_pb2.User(email=email, **fields), password=password)
        return stub.CreateUser(request, timeout=5).user

    return _make
