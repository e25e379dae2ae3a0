"""Per-request context (request id, acting user) carried across gRPC calls and into events and logs."""

from __future__ import annotations

import contextvars
import uuid

REQUEST_ID_HEADER = "x-request-id"
ACTOR_HEADER = "x-crm-actor"

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("crm_request_id", default="")
actor_var: contextvars.ContextVar[str] = contextvars.ContextVar("crm_actor", default="")


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str:
    return request_id_var.get()


def current_actor() -> str:
    return actor_var.get()
