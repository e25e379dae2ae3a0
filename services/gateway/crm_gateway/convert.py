"""Protobuf messages as the HTTP API's JSON, and back, by one rule for every resource: field names
as in the contract, enums as lower-case words without their prefix (CLIENT_KIND_COMPANY →
"company", the UNSPECIFIED value → null), int64 as numbers, timestamps as RFC 3339 UTC strings and
dates (crm.common.v1.Date) as "YYYY-MM-DD" (null when unset). The same enum rule covers the few
string fields that carry another contract's enum value by name (ENUM_NAME_FIELDS), so no answer
spells an enum two ways. Every rate is a decimal fraction named `*_rate` ("0.05" is 5 %): the few
contract fields kept as percentages (PERCENT_FIELDS) are converted here, both ways, exactly. The
JSON schema of a response is derived from the same message
descriptor, so the OpenAPI document and the answers agree by construction."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, cast

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from crm.deals.v1 import deals_pb2

_TIMESTAMP = Timestamp.DESCRIPTOR.full_name
_DATE = "crm.common.v1.Date"
_INTS = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
}


# String fields holding the name of another service's enum value ("ACTIVITY_KIND_CALL"): a
# contract imports no other service's, so the value travels as its name; the API shows it as the
# enum's word ("call") like any enum field.
ENUM_NAME_FIELDS: dict[str, EnumDescriptor] = {
    "crm.reporting.v1.RepActivityCount.activity_kind": deals_pb2.ActivityKind.DESCRIPTOR,
}


# Contract fields that hold a percentage ("5" is 5 %), and their name in the HTTP API, where every
# rate is a fraction named *_rate (RATE_RULE). The quotes service keeps percentages (its PDF prints
# them); the API converts at this one place, with Decimal's exact power-of-ten shift.
PERCENT_FIELDS: dict[str, str] = {
    "crm.quotes.v1.QuoteLine.discount_percent": "discount_rate",
    "crm.quotes.v1.Quote.global_discount_percent": "global_discount_rate",
}
RATE_RULE = (
    'A rate is a decimal fraction as a string: "0.19" is 19 %, "0.05" is 5 %, "1" is 100 % (every field '
    "named `*_rate`)."
)
# A rate of 0 to 1 with at most 8 decimals: a percentage with the 6 the services keep.
RATE_PATTERN = r"^(0(\.[0-9]{1,8})?|1(\.0{1,8})?)$"


def api_name(fd: FieldDescriptor) -> str:
    """The field's name in the HTTP API."""
    return PERCENT_FIELDS.get(fd.full_name, fd.name)


def proto_names(desc: Descriptor, names: Any) -> list[str]:
    """API field names of a message as its contract's names (an update mask's paths)."""
    by_api = {api_name(fd): fd.name for fd in desc.fields}
    return sorted(by_api.get(n, n) for n in names)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def percent_to_rate(text: str) -> str:
    """ "5" → "0.05", exactly (a blank percentage is 0)."""
    try:
        return _plain(Decimal(text or "0").scaleb(-2))
    except InvalidOperation:
        return text


def rate_to_percent(text: str) -> str:
    """ "0.05" → "5", exactly (the model has checked the pattern)."""
    return _plain(Decimal(text or "0").scaleb(2))


def _enum_prefix(enum: EnumDescriptor) -> str:
    return enum.values[0].name.removesuffix("UNSPECIFIED")


def enum_words(enum: EnumDescriptor) -> list[str]:
    prefix = _enum_prefix(enum)
    return [v.name.removeprefix(prefix).lower() for v in enum.values if v.number != 0]


def enum_value(enum: EnumDescriptor, word: str) -> int:
    return enum.values_by_name[_enum_prefix(enum) + word.upper()].number


E = TypeVar("E", bound=int)


def enum_member(enum: type[E], word: str) -> E:
    """The value of generated enum `enum` (pb.CanvasStatus) that API word `word` names ("draft"),
    typed as that enum for the message fields that hold one. The stubs declare a generated enum as
    an int subclass; at run time it is an EnumTypeWrapper holding the enum's DESCRIPTOR, and a
    field holds the plain number."""
    descriptor: EnumDescriptor = enum.DESCRIPTOR  # type: ignore[attr-defined]  # the wrapper's, unknown to the stub
    return cast(E, enum_value(descriptor, word))


def _enum_name_word(enum: EnumDescriptor, name: str) -> str | None:
    prefix = _enum_prefix(enum)
    if not name or name == prefix + "UNSPECIFIED":
        return None
    return name.removeprefix(prefix).lower()


def _scalar_out(fd: FieldDescriptor, value: Any) -> Any:
    if fd.full_name in PERCENT_FIELDS:
        return percent_to_rate(value)
    named_enum = ENUM_NAME_FIELDS.get(fd.full_name)
    if named_enum is not None:
        return _enum_name_word(named_enum, value)
    if fd.type == FieldDescriptor.TYPE_ENUM:
        if value == 0:
            return None
        name = fd.enum_type.values_by_number[value].name
        return name.removeprefix(_enum_prefix(fd.enum_type)).lower()
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        return to_json(value)
    return value


# How to_json writes each field of a message kind: its name in the message and in the API, how its
# value is converted, and whether it repeats. Worked out once per kind (a page of 50 clients asks it
# for every field of every row: about a third of the gateway's own time on a list, measured).
_PLAIN, _SCALAR, _MESSAGE = 0, 1, 2
_Plan = list[tuple[str, str, FieldDescriptor, bool, int]]
_PLANS: dict[str, _Plan] = {}


def _plan(desc: Descriptor) -> _Plan:
    plan = _PLANS.get(desc.full_name)
    if plan is None:
        plan = []
        for fd in desc.fields:
            if fd.type == FieldDescriptor.TYPE_MESSAGE:
                how = _MESSAGE
            elif (
                fd.type == FieldDescriptor.TYPE_ENUM
                or fd.full_name in PERCENT_FIELDS
                or fd.full_name in ENUM_NAME_FIELDS
            ):
                how = _SCALAR  # converted by _scalar_out
            else:
                how = _PLAIN  # as it is
            plan.append((fd.name, api_name(fd), fd, fd.is_repeated, how))
        _PLANS[desc.full_name] = plan
    return plan


def to_json(msg: Message) -> Any:
    desc = msg.DESCRIPTOR
    if desc.full_name == _TIMESTAMP:
        return msg.ToDatetime(UTC).isoformat().replace("+00:00", "Z")
    if desc.full_name == _DATE:
        d = (msg.year, msg.month, msg.day)
        return None if d == (0, 0, 0) else f"{d[0]:04d}-{d[1]:02d}-{d[2]:02d}"
    out: dict[str, Any] = {}
    for field, name, fd, repeated, how in _plan(desc):
        value = getattr(msg, field)
        if repeated:
            if how == _PLAIN:
                out[name] = list(value)
            elif how == _MESSAGE:
                out[name] = [to_json(v) for v in value]
            else:
                out[name] = [_scalar_out(fd, v) for v in value]
        elif how == _MESSAGE:
            out[name] = to_json(value) if msg.HasField(field) else None
        elif how == _PLAIN:
            out[name] = value
        else:
            out[name] = _scalar_out(fd, value)
    return out


M = TypeVar("M", bound=Message)


def from_json(msg: M, data: dict[str, Any]) -> M:
    """Fills `msg` from already-validated JSON (the pydantic model's dump), in the API's names."""
    fields = {api_name(fd): fd for fd in msg.DESCRIPTOR.fields}
    for key, value in data.items():
        fd = fields[key]
        name = fd.name
        if fd.full_name in PERCENT_FIELDS and value is not None:
            value = rate_to_percent(value)
        if value is None:
            msg.ClearField(name)
        elif fd.is_repeated:
            target = getattr(msg, name)
            del target[:]
            if fd.type == FieldDescriptor.TYPE_MESSAGE:
                for item in value:
                    from_json(target.add(), item)
            elif fd.type == FieldDescriptor.TYPE_ENUM:
                target.extend(enum_value(fd.enum_type, v) for v in value)
            else:
                target.extend(value)
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            if fd.message_type.full_name == _TIMESTAMP:
                getattr(msg, name).FromDatetime(value)
            elif fd.message_type.full_name == _DATE:
                day = value if isinstance(value, date) else date.fromisoformat(value)
                sub = getattr(msg, name)
                sub.year, sub.month, sub.day = day.year, day.month, day.day
            else:
                sub = getattr(msg, name)
                sub.Clear()
                from_json(sub, value)
                sub.SetInParent()
        elif fd.type == FieldDescriptor.TYPE_ENUM:
            setattr(msg, name, enum_value(fd.enum_type, value))
        else:
            setattr(msg, name, value)
    return msg


# --- JSON schema of a message, for the OpenAPI document --------------------------------------


def _field_schema(fd: FieldDescriptor, defs: dict[str, Any], ref: str) -> dict[str, Any]:
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        if fd.message_type.full_name == _TIMESTAMP:
            schema: dict[str, Any] = {"type": "string", "format": "date-time"}
        elif fd.message_type.full_name == _DATE:
            schema = {"type": "string", "format": "date"}
        else:
            schema = {"$ref": ref.format(model=message_schema(fd.message_type, defs, ref))}
        if not fd.is_repeated:
            schema = {"anyOf": [schema, {"type": "null"}]}
    elif fd.type == FieldDescriptor.TYPE_ENUM or fd.full_name in ENUM_NAME_FIELDS:
        enum = ENUM_NAME_FIELDS.get(fd.full_name) or fd.enum_type
        schema = {"enum": [*enum_words(enum), None]}
        if fd.is_repeated:
            schema = {"enum": enum_words(enum)}
    elif fd.full_name in PERCENT_FIELDS:
        schema = {"type": "string", "pattern": RATE_PATTERN, "description": RATE_RULE}
    elif fd.type == FieldDescriptor.TYPE_BOOL:
        schema = {"type": "boolean"}
    elif fd.type in _INTS:
        schema = {"type": "integer"}
    elif fd.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        schema = {"type": "number"}
    elif api_name(fd).endswith("_rate"):
        schema = {"type": "string", "description": RATE_RULE}
    else:
        schema = {"type": "string"}
    if fd.is_repeated:
        schema = {"type": "array", "items": schema}
    return schema


def message_schema(desc: Descriptor, defs: dict[str, Any], ref: str) -> str:
    """Adds the schema of a message (and of the messages it holds) to `defs`; returns its name."""
    name = desc.name
    if name in defs:
        return name
    defs[name] = {}  # placeholder against recursion
    props = {api_name(fd): _field_schema(fd, defs, ref) for fd in desc.fields}
    defs[name] = {"type": "object", "properties": props, "required": list(props)}
    return name


@dataclass(frozen=True)
class ProtoJson:
    """A response body that is one message as JSON."""

    message: type[Message]


@dataclass(frozen=True)
class ProtoPage:
    """A list response: `{"items": [...], "next_page_token": "..."}`."""

    message: type[Message]


def page(items: list[Message], next_page_token: str, total_size: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"items": [to_json(m) for m in items], "next_page_token": next_page_token}
    if total_size is not None:
        body["total_size"] = total_size
    return body


# --- CSV ----------------------------------------------------------------------------------------

# A cell starting with one of these is taken for a formula by spreadsheet programs (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_OR_PHONE = re.compile(r"^[+-]?[0-9][0-9 .,()-]*$")


def _looks_like_formula(cell: str) -> bool:
    # Phone numbers (+57 ...) and negative amounts start with + or - too, and are kept as they are.
    return cell.startswith(_FORMULA_START) and not _NUMBER_OR_PHONE.match(cell)


def _flat(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else k, v, out)
    elif isinstance(value, list):
        out[prefix] = "; ".join("" if v is None else str(v) for v in value)
    elif value is None:
        out[prefix] = ""
    elif isinstance(value, bool):
        out[prefix] = "true" if value else "false"
    else:
        out[prefix] = str(value)


def _columns(desc: Descriptor, prefix: str = "") -> list[str]:
    cols: list[str] = []
    for fd in desc.fields:
        name = f"{prefix}{api_name(fd)}"
        if fd.type == FieldDescriptor.TYPE_MESSAGE and not fd.is_repeated and fd.message_type.full_name != _TIMESTAMP:
            cols += _columns(fd.message_type, name + ".")
        else:
            cols.append(name)
    return cols


def csv_rows(message: type[Message], pages: Iterator[list[Message]]) -> Iterator[str]:
    """CSV text of messages: a header of the contract's field names (nested ones dotted, such as
    address.city), one line per message; cells that a spreadsheet would run as formulas are
    prefixed with a quote."""
    columns = _columns(message.DESCRIPTOR)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for items in pages:
        for msg in items:
            flat: dict[str, str] = {}
            _flat("", to_json(msg), flat)
            row = []
            for c in columns:
                cell = flat.get(c, "")
                row.append("'" + cell if _looks_like_formula(cell) else cell)
            writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
