"""Who may see and change which records, decided at the gateway from the records' owner fields.

- admin: every record.
- manager: the records of the users of the teams they lead, and their own.
- rep: changes only their own records; sees their own deals, activities, prospects and quotes,
  and the shared ones: the catalogue (products), clients and contacts.

A record the caller may not see answers 404, exactly as a missing one, so ids do not leak; one
they may see but not change answers 403."""

from __future__ import annotations

from typing import Literal

from flask import current_app, g

from crm_gateway.api import ProblemError
from crm_gateway.auth import Authenticator, Principal

# Record kinds every signed-in user may read.
SHARED_KINDS = frozenset({"clients", "contacts", "products"})
Kind = Literal["clients", "contacts", "prospects", "deals", "activities", "quotes", "products", "campaigns"]


def authenticator() -> Authenticator:
    return current_app.extensions["crm_auth"]


def principal() -> Principal:
    p: Principal | None = g.get("principal")
    if p is None:  # a route declared public never calls this
        raise ProblemError(401, "missing_token", "sign in first")
    return p


def change_scope() -> set[str] | None:
    """Owner ids whose records the caller may change; None = all."""
    p = principal()
    if p.role == "admin":
        return None
    if p.role == "manager":
        return authenticator().directory.managed_user_ids(p.id)
    return {p.id}


def read_scope(kind: str) -> set[str] | None:
    """Owner ids whose records of this kind the caller may see; None = all."""
    if kind in SHARED_KINDS:
        return None
    return change_scope()


def owner_filter(kind: str, requested: list[str]) -> list[str] | None:
    """The owner_ids to send with a list call: the requested ones narrowed to what the caller may
    see. None means nothing can match (answer an empty page without asking the service)."""
    scope = read_scope(kind)
    if scope is None:
        return list(requested)
    if not requested:
        return sorted(scope)
    narrowed = [o for o in requested if o in scope]
    return narrowed or None


def singular(kind: str) -> str:
    """One record of a kind: "clients" → "client", "activities" → "activity"."""
    return kind[: -len("ies")] + "y" if kind.endswith("ies") else kind.removesuffix("s")


def not_found(kind: str, record_id: str) -> ProblemError:
    one = singular(kind)
    return ProblemError(404, f"{one}_not_found", f"{one} '{record_id}' not found")


def ensure_visible(kind: str, record_id: str, owner_id: str) -> None:
    scope = read_scope(kind)
    if scope is not None and owner_id not in scope:
        raise not_found(kind, record_id)


def ensure_changeable(kind: str, record_id: str, owner_id: str) -> None:
    ensure_visible(kind, record_id, owner_id)
    scope = change_scope()
    if scope is not None and owner_id not in scope:
        raise ProblemError(403, "forbidden", f"you may not change this {singular(kind)}: it is not yours")


def assignable_owner(requested: str | None, field: str = "owner_id") -> str:
    """The owner of a new or reassigned record: the caller unless another is named, who must be an
    active user the caller may assign records to."""
    p = principal()
    owner = requested or p.id
    scope = change_scope()
    if scope is not None and owner not in scope:
        raise ProblemError(403, "forbidden_owner", f"you may not assign records to user '{owner}'")
    if owner != p.id:
        user = authenticator().directory.users.get(owner)
        if user is None or not user.active:
            message = f"'{owner}' is not an active user"
            errors = [{"field": field, "message": message}]
            raise ProblemError(400, "validation_failed", f"{field}: {message}", errors=errors)
    return owner


def require_admin() -> Principal:
    p = principal()
    if p.role != "admin":
        raise ProblemError(403, "admin_only", "only an admin may do this")
    return p
