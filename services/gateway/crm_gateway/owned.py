"""The one way the gateway serves a collection of owned records (clients, prospects, and the other
services' records as they land): read with a visibility check, list narrowed to what the caller
may see, create with an assignable owner and an Idempotency-Key, update with If-Match and an
ownership check, custom actions and delete on records the caller may change."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from flask import Response, request, stream_with_context
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from pydantic import BaseModel

from crm.contacts.v1 import contacts_pb2
from crm_gateway.access import (
    assignable_owner,
    change_scope,
    ensure_changeable,
    ensure_visible,
    owner_filter,
    principal,
    singular,
)
from crm_gateway.api import ProblemError, call, check_version, etag, idempotency_key, if_match, respond
from crm_gateway.convert import csv_rows, from_json, page, proto_names, to_json

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The largest file an import accepts (the services take gRPC messages of up to 16 MiB).
IMPORT_MAX_BYTES = 15 * 1024 * 1024
# An import of the largest file takes about a minute on 2 cores (bench/contacts.py).
IMPORT_DEADLINE_SECONDS = 240.0
# An export stops after this many rows (a list that large is a job for reports, not a download).
EXPORT_MAX_ROWS = 1_000_000
# Fields a PATCH may never name (the service owns them).
READ_ONLY = frozenset({"id", "create_time", "update_time", "version", "archived"})


@runtime_checkable
class _MayForceDuplicate(Protocol):
    """A create body that may ask for a record although a duplicate exists (clients, contacts, prospects)."""

    force_duplicate: bool


@dataclass(frozen=True)
class Collection:
    """How one kind of owned record maps onto its service's RPCs."""

    kind: str  # "clients"
    service: str  # "contacts"
    stub: Callable[[], Any]
    message: type[Message]  # contacts_pb2.Client
    field: str  # the message's field name in requests/responses: "client"
    get_rpc: str  # "GetClient"
    requests: Any  # the *_pb2 module holding the request messages

    def _req(self, rpc: str, **kw: Any) -> Message:
        cls = getattr(self.requests, f"{rpc}Request")
        return cls(**kw)

    def _call(self, rpc: str, **kw: Any) -> Any:
        return call(self.service, getattr(self.stub(), rpc), self._req(rpc, **kw))

    def fetch(self, record_id: str, *, for_change: bool = False) -> Any:
        record = getattr(self._call(self.get_rpc, id=record_id), self.field)
        if for_change:
            ensure_changeable(self.kind, record_id, record.owner_id)
        else:
            ensure_visible(self.kind, record_id, record.owner_id)
        return record

    def get(self, record_id: str) -> Response:
        record = self.fetch(record_id)
        return respond(to_json(record), headers=etag(record.version))

    def list(self, rpc: str, plural: str, requested_owners: list[str], **filters: Any) -> Response:
        owners = owner_filter(self.kind, requested_owners)
        total = bool(filters.get("include_total_size"))
        if owners is None:
            return respond(page([], "", 0 if total else None))
        res = self._call(rpc, owner_ids=owners, **filters)
        return respond(page(list(getattr(res, plural)), res.next_page_token, res.total_size if total else None))

    # In the class body below, `list` names the method above: the builtin is builtins.list.
    def export_csv(self, rpc: str, plural: str, requested_owners: builtins.list[str], **filters: Any) -> Response:
        """Every record the list would show, as CSV, streamed page by page."""
        owners = owner_filter(self.kind, requested_owners)
        filters.pop("page_token", None)
        filters.pop("include_total_size", None)
        filters.pop("page_size", None)

        def pages() -> Iterator[builtins.list[Message]]:
            if owners is None:
                return
            token, rows = "", 0
            while rows < EXPORT_MAX_ROWS:
                res = self._call(rpc, owner_ids=owners, page_size=500, page_token=token, **filters)
                items = list(getattr(res, plural))
                rows += len(items)
                yield items
                token = res.next_page_token
                if not token:
                    return

        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return Response(
            stream_with_context(csv_rows(self.message, pages())),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{self.kind}-{stamp}.csv"'},
        )

    def import_file(self, kind: contacts_pb2.ImportKind, query: Any, **extra: Any) -> Response:
        """A CSV or XLSX file (the raw body) imported by the service, with its per-row report."""
        media = request.mimetype
        formats = {"text/csv": contacts_pb2.IMPORT_FORMAT_CSV, XLSX: contacts_pb2.IMPORT_FORMAT_XLSX}
        if media not in formats:
            raise ProblemError(415, "unsupported_media_type", f"send the file as text/csv or {XLSX}")
        content = request.get_data(cache=False)
        if not content:
            raise ProblemError(400, "empty_file", "the body is empty: send the file itself")
        scope = change_scope()
        res = call(
            self.service,
            self.stub().ImportRecords,
            contacts_pb2.ImportRecordsRequest(
                kind=kind,
                format=formats[media],
                content=content,
                file_name=request.headers.get("X-File-Name", "")[:200],
                default_owner_id=assignable_owner(query.default_owner_id or None, "default_owner_id"),
                allowed_owner_ids=sorted(scope) if scope is not None else [],
                dry_run=query.dry_run,
                **extra,
            ),
            timeout=IMPORT_DEADLINE_SECONDS,
        )
        return respond(to_json(res))

    def create(self, rpc: str, body: BaseModel, location: Callable[[str], str], **extra: Any) -> Response:
        p = principal()
        data = body.model_dump(exclude_unset=True, exclude=set(extra) | {"force_duplicate"})
        data["owner_id"] = assignable_owner(data.get("owner_id"))
        msg = from_json(self.message(), data)
        kwargs = {self.field: msg, "request_id": idempotency_key(p.id), **extra}
        if isinstance(body, _MayForceDuplicate):
            kwargs["force_duplicate"] = body.force_duplicate
        record = getattr(self._call(rpc, **kwargs), self.field)
        return respond(to_json(record), 201, {"Location": location(record.id), **etag(record.version)})

    def update(
        self,
        rpc: str,
        record_id: str,
        body: BaseModel,
        extra: Callable[[Any, dict[str, Any]], dict[str, Any]] | None = None,
    ) -> Response:
        """`extra`: more fields of the request, from the record as read and the changes (with the
        owner checked), e.g. the scope the service checks the change against."""
        changed = body.model_dump(exclude_unset=True)
        if not changed:
            raise ProblemError(400, "empty_update", "name at least one field to change")
        bad = READ_ONLY & set(changed)
        if bad:
            raise ProblemError(400, "read_only_field", f"these fields cannot be changed: {', '.join(sorted(bad))}")
        current = self.fetch(record_id, for_change=True)
        if "owner_id" in changed:
            changed["owner_id"] = assignable_owner(changed["owner_id"])
        msg = from_json(self.message(id=record_id), changed)
        res = self._call(
            rpc,
            **{self.field: msg},
            update_mask=FieldMask(paths=proto_names(self.message.DESCRIPTOR, changed)),
            expected_version=check_version(if_match(), current.version, singular(self.kind)),
            **(extra(current, changed) if extra is not None else {}),
        )
        record = getattr(res, self.field)
        return respond(to_json(record), headers=etag(record.version))

    def action(self, rpc: str, record_id: str, **kw: Any) -> Response:
        """A custom action (`:archive` ...) on a record the caller may change; answers the record."""
        self.fetch(record_id, for_change=True)
        record = getattr(self._call(rpc, id=record_id, **kw), self.field)
        return respond(to_json(record), headers=etag(record.version))

    def delete(self, rpc: str, record_id: str) -> Response:
        self.fetch(record_id, for_change=True)
        self._call(rpc, id=record_id)
        return Response(status=204)
