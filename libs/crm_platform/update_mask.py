"""Update masks (AIP-134): which field paths an update may name, how the named fields of a draft
are applied to a record, and which fields an update changed. Pure Python: no protobuf, no I/O.
Records are frozen dataclasses whose attributes carry the API's field names; a service whose
record stores a field differently (contacts keep a tax id as two attributes) overrides
`apply_path` and `value`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from crm_platform.errors import FieldViolation, InvalidArgument

if TYPE_CHECKING:
    from _typeshed import DataclassInstance  # what `dataclasses.replace` accepts; exists for type checkers only

R = TypeVar("R", bound="DataclassInstance")
WILDCARD = "*"


@dataclass(frozen=True)
class UpdatableFields:
    """The API field names of one kind of record that an update may change (in the order
    `changed` reports them), those it may never change (ids, times, version, state that has its
    own call), and the message fields that may be updated one part at a time
    ({"address": ("city", ...)} allows "address.city")."""

    fields: tuple[str, ...]
    immutable: frozenset[str]
    subfields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(self.fields) | {f"{f}.{s}" for f in self.fields for s in self.subfields.get(f, ())}

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
            self.apply_path(changes, current, draft, head, sub)
        return replace(current, **changes)

    def apply_path(self, changes: dict[str, Any], current: Any, draft: Any, head: str, sub: str) -> None:
        """Records in `changes` the attributes that path `head[.sub]` takes from `draft`."""
        given = getattr(draft, head)
        if not sub:
            changes[head] = given
        else:
            changes[head] = replace(changes.get(head, getattr(current, head)), **{sub: getattr(given, sub)})

    def changed(self, before: R, after: R) -> list[str]:
        """The API names of the fields whose values differ."""
        return [name for name in self.fields if self.value(before, name) != self.value(after, name)]

    def value(self, record: Any, name: str) -> Any:
        """The value of API field `name` in `record`."""
        return getattr(record, name)
