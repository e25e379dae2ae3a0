"""What the deals service asks the contacts service over gRPC (with the platform's deadline on
every call): which clients, contacts and prospects exist, and whose client each contact is. One
call answers for many ids. An unreachable or slow contacts service is UNAVAILABLE, raised before
the caller writes anything."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import grpc

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_platform.errors import Unavailable
from crm_platform.grpc_client import decode_error, stub


@dataclass(frozen=True)
class ClientRef:
    id: str
    name: str
    archived: bool


@dataclass(frozen=True)
class ContactRef:
    id: str
    client_id: str
    archived: bool


@dataclass(frozen=True)
class ProspectRef:
    id: str
    archived: bool
    # Prospects are visible to their owner's scope only (clients and contacts to everyone).
    owner_id: str = ""


class ContactsDirectory(Protocol):
    def clients(self, ids: Sequence[str]) -> tuple[dict[str, ClientRef], list[str]]:
        """The clients found among `ids` by id, and the ids not found."""
        ...

    def contacts(self, ids: Sequence[str]) -> tuple[dict[str, ContactRef], list[str]]:
        """The contacts found among `ids` by id, and the ids not found."""
        ...

    def prospect(self, prospect_id: str) -> ProspectRef | None:
        """The prospect, or None when there is none."""
        ...


class GrpcContactsDirectory:
    """The contacts service over gRPC (CRM_CONTACTS_ADDR)."""

    def __init__(self, make_stub: Callable[[], Any] | None = None):
        self._make_stub = make_stub or (lambda: stub(contacts_pb2_grpc.ContactsServiceStub, "contacts"))

    def _call(self, rpc: str, request: Any) -> Any:
        try:
            return getattr(self._make_stub(), rpc)(request)
        except grpc.RpcError as exc:
            raise _unavailable(exc) from None

    def clients(self, ids: Sequence[str]) -> tuple[dict[str, ClientRef], list[str]]:
        if not ids:
            return {}, []
        res = self._call("BatchGetClients", contacts_pb2.BatchGetClientsRequest(ids=list(ids)))
        return {c.id: ClientRef(c.id, c.name, c.archived) for c in res.clients}, list(res.missing_ids)

    def contacts(self, ids: Sequence[str]) -> tuple[dict[str, ContactRef], list[str]]:
        if not ids:
            return {}, []
        res = self._call("BatchGetContacts", contacts_pb2.BatchGetContactsRequest(ids=list(ids)))
        return {c.id: ContactRef(c.id, c.client_id, c.archived) for c in res.contacts}, list(res.missing_ids)

    def prospect(self, prospect_id: str) -> ProspectRef | None:
        try:
            res = self._make_stub().GetProspect(contacts_pb2.GetProspectRequest(id=prospect_id))
        except grpc.RpcError as exc:
            if decode_error(exc).code == grpc.StatusCode.NOT_FOUND:
                return None
            raise _unavailable(exc) from None
        return ProspectRef(res.prospect.id, res.prospect.archived, res.prospect.owner_id)


def _unavailable(exc: grpc.RpcError) -> Unavailable:
    info = decode_error(exc)
    return Unavailable(
        f"the contacts service could not answer ({info.code.name}: {info.message}); nothing was changed, try again",
        reason="contacts_unavailable",
        metadata={"dependency": "contacts", "upstream_status": info.code.name},
    )
