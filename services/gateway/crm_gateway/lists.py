"""Query models every owned collection shares: filters common to all lists (text, owners, creation
range, archived), paging on top of them for lists, and the parameters of a file import."""

from __future__ import annotations

import re
from typing import Annotated, Any

from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

# Record and user ids are UUIDs.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
Id = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
OPTIONAL_UUID = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
Short = Annotated[str, StringConstraints(max_length=200)]
# Opaque, URL-safe (crm_platform.pagination): only a token the same list answered can be sent back.
PageToken = Annotated[
    str,
    StringConstraints(max_length=2000, pattern=r"^[A-Za-z0-9_-]*$"),
    Field(
        description="Empty for the first page; then the `next_page_token` this list answered, with the same "
        "filters (opaque: any other value is a 400 naming page_token)."
    ),
]
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339_only(value: object) -> object:
    # pydantic would also take a number as a Unix time; the document promises RFC 3339 only.
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-01-31T00:00:00Z")
    return value


# The pattern states the rule for the document (a date-time format alone admits forms the gateway
# refuses, such as a lower-case separator, a leap second or an offset past 23:59).
INSTANT_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_only),
    Field(json_schema_extra={"pattern": INSTANT_PATTERN, "examples": ["2026-01-31T00:00:00Z"]}),
]


class Filters(BaseModel):
    """What every list and export of owned records can be narrowed by."""

    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, StringConstraints(max_length=200), Field(description="Text search.")] = ""
    owner_id: Annotated[list[Id], Field(max_length=100, description="Repeat for several owners.")] = []
    created_after: Instant | None = Field(None, description="Created at or after (RFC 3339, with offset).")
    created_before: Instant | None = Field(None, description="Created before (RFC 3339, with offset).")
    include_archived: bool = False

    def rpc_filters(self) -> dict[str, Any]:
        """The filters as keyword arguments of the List RPC (owners are narrowed separately)."""
        out: dict[str, Any] = {"query": self.q, "include_archived": self.include_archived}
        for name in ("created_after", "created_before"):
            value = getattr(self, name)
            if value is not None:
                ts = Timestamp()
                ts.FromDatetime(value)
                out[name] = ts
        return out


class Paging(BaseModel):
    page_size: Annotated[int, Field(ge=0, le=10_000, description="0 = the default (50); above 500 = 500.")] = 0
    page_token: PageToken = ""
    include_total_size: bool = Field(False, description="Also count every match (total_size).")

    def rpc_paging(self) -> dict[str, Any]:
        return {
            "page_size": self.page_size,
            "page_token": self.page_token,
            "include_total_size": self.include_total_size,
        }


class ImportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = Field(
        False,
        description="Check every row and report what a real run would (created, created_rows, duplicates, "
        "problems; `dry_run: true`, no ids); write nothing.",
    )
    default_owner_id: Annotated[
        str, StringConstraints(pattern=OPTIONAL_UUID), Field(description="Owner of rows naming none.")
    ] = ""
