"""Use cases on clients. Each runs in one unit of work: the change and its event commit together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from crm.contacts.v1 import contacts_pb2, events_pb2
from crm_contacts.adapters import repository
from crm_contacts.domain.clients import Client, validated
from crm_contacts.entrypoints import convert
from crm_platform import idempotency, pagination
from crm_platform.db import Database
from crm_platform.errors import AlreadyExists, NotFound
from crm_platform.ids import is_valid_id, new_id

CREATE_SCOPE = "CreateClient"


@dataclass(frozen=True)
class ClientFilters:
    query: str = ""
    owner_id: str = ""
    segment_tag: str = ""
    city: str = ""
    country_code: str = ""
    include_archived: bool = False


def create_client(
    db: Database, draft: Client, *, request_id: str = "", force_duplicate: bool = False
) -> contacts_pb2.CreateClientResponse:
    """Validates and stores a new client and stages client_created. A repeated request_id returns
    the first answer; a duplicate e-mail or tax id is ALREADY_EXISTS naming the existing client."""
    for attempt in range(2):
        with db.uow() as uow:
            earlier = idempotency.remembered(uow.session, CREATE_SCOPE, request_id, contacts_pb2.CreateClientResponse)
            if earlier is not None:
                return earlier
            now = datetime.now(UTC)
            client = validated(draft)
            client = Client(**{**client.__dict__, "id": new_id(), "created_at": now, "updated_at": now, "version": 1})
            if not force_duplicate:
                dups = repository.find_duplicates(uow.session, client)
                if dups:
                    field, existing = dups[0]
                    raise AlreadyExists(
                        f"a client with this {field} already exists: {existing}",
                        reason="duplicate_client",
                        metadata={"existing_id": existing, "field": field},
                    )
            repository.add_client(uow.session, client)
            message = convert.client_to_proto(client)
            uow.add_event(events_pb2.ClientCreated(client=message))
            response = contacts_pb2.CreateClientResponse(client=message)
            idempotency.remember(uow.session, CREATE_SCOPE, request_id, response)
            try:
                uow.commit()
            except IntegrityError:
                if attempt == 0 and request_id:
                    continue  # a concurrent call with the same request_id won: answer as it did
                raise
            return response
    raise AssertionError("unreachable")


def get_client(db: Database, client_id: str) -> Client:
    if not is_valid_id(client_id):
        raise NotFound(f"client '{client_id}' not found", reason="client_not_found")
    with db.read() as session:
        client = repository.get_client(session, client_id)
    if client is None:
        raise NotFound(f"client '{client_id}' not found", reason="client_not_found")
    return client


def list_clients(db: Database, filters: ClientFilters, page_size: int, page_token: str) -> tuple[list[Client], str]:
    size = pagination.page_size(page_size)
    key = pagination.decode_token(page_token, filters.__dict__)
    with db.read() as session:
        rows = list(
            repository.list_clients(
                session,
                limit=size + 1,
                after_id=str(key[0]) if key else None,
                **filters.__dict__,
            )
        )
    next_token = ""
    if len(rows) > size:
        rows = rows[:size]
        next_token = pagination.encode_token([rows[-1].id], filters.__dict__)
    return rows, next_token
