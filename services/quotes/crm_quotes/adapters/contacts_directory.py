"""What the quotes service asks the contacts service over gRPC: the client and contact a quote is
addressed to, as the PDF prints them (one call each, with the platform's deadline). An unreachable
or failing contacts service is UNAVAILABLE."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import grpc

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_platform.errors import Unavailable
from crm_platform.grpc_client import decode_error, stub


@dataclass(frozen=True)
class ClientCard:
    id: str
    name: str
    legal_name: str = ""
    tax_id: str = ""
    email: str = ""
    phone: str = ""
    # Street, city, region and country on one line.
    address: str = ""


@dataclass(frozen=True)
class ContactCard:
    id: str
    name: str
    job_title: str = ""
    email: str = ""
    phone: str = ""


class ContactsDirectory(Protocol):
    def client(self, client_id: str) -> ClientCard | None:
        """The client, or None when there is none."""
        ...

    def contact(self, contact_id: str) -> ContactCard | None:
        """The contact, or None when there is none."""
        ...


class GrpcContactsDirectory:
    """The contacts service over gRPC (CRM_CONTACTS_ADDR)."""

    def __init__(self, make_stub: Callable[[], Any] | None = None):
        self._make_stub = make_stub or (lambda: stub(contacts_pb2_grpc.ContactsServiceStub, "contacts"))

    def _batch(self, rpc: str, request: Any, field: str) -> Any | None:
        try:
            res = getattr(self._make_stub(), rpc)(request)
        except grpc.RpcError as exc:
            info = decode_error(exc)
            raise Unavailable(
                f"the contacts service could not answer ({info.code.name}: {info.message}); try again",
                reason="contacts_unavailable",
                metadata={"dependency": "contacts", "status": info.code.name},
            ) from None
        found = list(getattr(res, field))
        return found[0] if found else None

    def client(self, client_id: str) -> ClientCard | None:
        c = self._batch("BatchGetClients", contacts_pb2.BatchGetClientsRequest(ids=[client_id]), "clients")
        if c is None:
            return None
        a = c.address
        tax = f"{c.tax_id.value}" if c.tax_id.value else ""
        return ClientCard(
            id=c.id,
            name=c.name,
            legal_name=c.legal_name,
            tax_id=tax,
            email=c.email,
            phone=c.phones[0] if c.phones else "",
            address=", ".join(p for p in (a.street, a.city, a.region, a.country_code) if p),
        )

    def contact(self, contact_id: str) -> ContactCard | None:
        c = self._batch("BatchGetContacts", contacts_pb2.BatchGetContactsRequest(ids=[contact_id]), "contacts")
        if c is None:
            return None
        return ContactCard(
            id=c.id,
            name=" ".join(p for p in (c.first_name, c.last_name) if p),
            job_title=c.job_title,
            email=c.email,
            phone=c.phones[0] if c.phones else "",
        )
