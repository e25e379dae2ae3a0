"""The one way a page keeps a form's values and errors. Inputs are named by the API's field path
("name", "tax_id.value", "address.city"), so the validation errors the API returns land beside
the field they name with no mapping table; an error naming no field on the page is shown in the
summary at the top (the GOV.UK pattern: summary with links, error beside the field)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import request

from crm_web import session as web_session
from crm_web.api import ApiError


@dataclass
class Form:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    # Errors not tied to one field (shown in the summary).
    general: list[str] = field(default_factory=list)
    # A problem the page explains in its own words (e.g. a duplicate with a link), by its code.
    problem: ApiError | None = None
    restored: bool = False

    @classmethod
    def from_record(cls, record: dict[str, Any] | None, names: list[str]) -> Form:
        """A form showing a record's fields (dotted names reach into nested objects), or the
        values kept from before the session ended, when there are some for this page."""
        kept = web_session.restored_form()
        if kept is not None:
            return cls(values={k: v[0] if len(v) == 1 else ",".join(v) for k, v in kept.items()}, restored=True)
        values: dict[str, str] = {}
        for name in names:
            value: Any = record or {}
            for part in name.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            values[name] = "" if value is None else str(value)
        return cls(values=values)

    @classmethod
    def posted(cls) -> Form:
        return cls(values={k: v.strip() for k, v in request.form.items() if k != "csrf_token"})

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def take(self, exc: ApiError, known: list[str]) -> None:
        """Put an API error's field errors beside their fields; the rest into the summary."""
        self.problem = exc
        for name, message in exc.field_errors.items():
            target = name if name in known else next((k for k in known if name.startswith(k + ".")), "")
            if target:
                self.error(target, message)
            else:
                self.general.append(f"{name}: {message}")
        if not exc.field_errors:
            self.general.append(exc.detail)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.general

    def body(self, names: list[str], *, lists: tuple[str, ...] = (), keep_empty: bool = False) -> dict[str, Any]:
        """The values as the API's JSON body: dotted names become nested objects, `lists` are
        comma-separated lists; empty nested objects are left out (so an empty address is absent)."""
        out: dict[str, Any] = {}
        for name in names:
            raw = self.values.get(name, "")
            value: Any = [x.strip() for x in raw.split(",") if x.strip()] if name in lists else raw
            if not keep_empty and "." in name and value in ("", []):
                continue
            node = out
            *parents, leaf = name.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        return out
