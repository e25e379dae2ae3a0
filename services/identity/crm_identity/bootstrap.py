"""Wires the identity service: its settings, the servicer, migrations, and the first start
(a signing key for access tokens, and the first administrator on an empty database)."""

from __future__ import annotations

import sys
import weakref

from crm_identity.entrypoints.grpc_servicer import IdentityServicer
from crm_identity.service_layer import first_start, sessions
from crm_identity.service_layer.deps import Deps
from crm_identity.settings import first_admin_settings, identity_settings
from crm_platform.config import ConfigError
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec

# One Deps per database handle (so per running service): on_start and register share it, and
# with it the password hasher's dummy hash, made once.
_deps: weakref.WeakKeyDictionary[Database, Deps] = weakref.WeakKeyDictionary()


def deps_for(db: Database) -> Deps:
    deps = _deps.get(db)
    if deps is None:
        deps = _deps[db] = Deps.build(db, identity_settings())
    return deps


def on_start(db: Database) -> None:
    try:
        deps = deps_for(db)
        admin = first_admin_settings()
        first_start.ensure_first_admin(deps, admin)
        sessions.ensure_signing_key(deps)
    except ConfigError as exc:
        print(f"crm-identity: {exc}", file=sys.stderr, flush=True)
        raise


def register(server: GrpcServer, db: Database) -> None:
    server.register(IdentityServicer(deps_for(db)))


SPEC = ServiceSpec(
    name="identity",
    migrations="crm_identity:migrations",
    register=register,
    on_start=on_start,
    settings=lambda: (identity_settings(), first_admin_settings()),
)
