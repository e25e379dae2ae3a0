"""Update masks (AIP-134): which field paths an update may name, how the named fields of a draft
are applied to a record, and which fields an update changed. Pure Python: no protobuf, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from crm_platform.errors import FieldViolation, InvalidArgument

R = TypeVar("R")
WILDCARD = "*"
# Message fields that may be updated one part at a time ("address.city", "tax_id.value").
SUBFIELDS: dict[str, tuple[str, ...]] = {
    "address": ("street", "city", "region", "postal_code", "country_code"),
    "tax_id": ("country_code", "value"),
}


@dataclass(frozen=True)
class UpdatableFields:
    """The API field names of one kind of record that an update may change (in the order
    `changed` reports them) and those it may never change (ids, times, version, state that has
    its own call). Records keep a tax id as `tax_country` + `tax_id` and an address as `Address`;
    every other field has the same name in the record as in the API."""

    fields: tuple[str, ...]
    immutable: frozenset[str]

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(self.fields) | {f"{f}.{s}" for f in self.fields for s in SUBFIELDS.get(f, ())}

    def check(self, paths: Sequence[str]) -> frozenset[str]:
        """The mask's paths ('*' = every updatable field), or InvalidArgument naming each path
        that is unknown or may not be changed."""
        if not paths:
            raise InvalidArgument.field("update_mask", "name the fields to change ('*' for all of them)")
        problems: list[FieldViolation] = []
        allowed = self.paths
        for path in paths:
            if path == WILDCARD or path in allowed:
                continue
            if path in self.immutable or path.split(".", 1)[0] in self.immutable:
                problems.append(FieldViolation("update_mask", f"'{path}' cannot be changed by an update"))
            else:
                problems.append(FieldViolation("update_mask", f"'{path}' is not a field that can be updated"))
        if problems:
            raise InvalidArgument(problems)
        if WILDCARD in paths:
            return frozenset(self.fields)
        return frozenset(paths)

    def apply(self, current: R, draft: R, paths: frozenset[str]) -> R:
        """`current` with the fields named by (checked) `paths` taken from `draft`."""
        changes: dict[str, Any] = {}
        for path in sorted(paths):  # a whole message and one of its parts from the same draft agree
            head, _, sub = path.partition(".")
            if head == "address":
                given = draft.address  # type: ignore[attr-defined]
                address = changes.get("address", current.address)  # type: ignore[attr-defined]
                changes["address"] = given if not sub else replace(address, **{sub: getattr(given, sub)})
            elif head == "tax_id":
                if sub in ("", "country_code"):
                    changes["tax_country"] = draft.tax_country  # type: ignore[attr-defined]
                if sub in ("", "value"):
                    changes["tax_id"] = draft.tax_id  # type: ignore[attr-defined]
            else:
                changes[head] = getattr(draft, head)
        return replace(current, **changes)  # type: ignore[type-var]

    def changed(self, before: R, after: R) -> list[str]:
        """The API names of the fields whose values differ."""
        return [name for name in self.fields if _value(before, name) != _value(after, name)]


def _value(record: Any, name: str) -> Any:
    if name == "tax_id":
        return (record.tax_country, record.tax_id)
    return getattr(record, name)
