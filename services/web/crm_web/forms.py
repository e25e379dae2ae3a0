"""The one way a page keeps a form's values and errors. Inputs are named by the API's field path
("name", "tax_id.value", "address.city"), so the validation errors the API returns land beside
the field they name with no mapping table; an error naming no field on the page is shown in the
summary at the top (the GOV.UK pattern: summary with links, error beside the field). The API's
field errors carry a stable code per kind of mistake: the page says it in its own language
(FIELD_MESSAGES), and the summary names the field by its label, falling back to the API's English
text for a code it does not know."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import request
from flask_babel import LazyString, lazy_gettext

from crm_web import session as web_session
from crm_web.api import ApiError

# The API's field error codes (the gateway's FIELD_ERROR_CODES) as the page says them; `params`
# fill the placeholders. "invalid" and unknown codes show the API's message.
FIELD_MESSAGES: dict[str, LazyString] = {
    "required": lazy_gettext("Este campo es obligatorio."),
    "too_short": lazy_gettext("Escribe al menos %(min_length)s caracteres."),
    "too_long": lazy_gettext("Escribe como máximo %(max_length)s caracteres."),
    "too_few_items": lazy_gettext("Indica al menos %(min_length)s elementos."),
    "too_many_items": lazy_gettext("Indica como máximo %(max_length)s elementos."),
    "too_small": lazy_gettext("El valor es menor que el mínimo permitido."),
    "too_large": lazy_gettext("El valor es mayor que el máximo permitido."),
    "invalid_choice": lazy_gettext("Elige uno de los valores de la lista."),
    "invalid_format": lazy_gettext("El valor no tiene el formato esperado."),
    "invalid_email": lazy_gettext("Escribe una dirección de correo válida, como nombre@empresa.com."),
    "invalid_phone": lazy_gettext("Escribe un número de teléfono válido, con el indicativo del país si no es local."),
    "invalid_country_code": lazy_gettext("Elige un país de la lista."),
    "invalid_type": lazy_gettext("El valor no es del tipo esperado."),
    "unknown_field": lazy_gettext("Este campo no se admite aquí."),
    "nul_character": lazy_gettext("El texto contiene un carácter no permitido."),
}


def field_message(code: str, params: dict[str, Any], fallback: str) -> str:
    """The page's own words for an API field error, or the API's `fallback` text."""
    text = FIELD_MESSAGES.get(code)
    if text is None:
        return fallback
    try:
        return str(text) % params if "%(" in str(text) else str(text)
    except (KeyError, TypeError, ValueError):  # a code whose params did not come: the API's words
        return fallback


@dataclass
class Form:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    # Errors not tied to one field (shown in the summary).
    general: list[str] = field(default_factory=list)
    # A problem the page explains in its own words (e.g. a duplicate with a link), by its code.
    problem: ApiError | None = None
    restored: bool = False
    # Field name -> its label on the page, for the summary ("Nombre comercial: ..."); set by take().
    labels: dict[str, str] = field(default_factory=dict)

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

    def take(self, exc: ApiError, known: list[str], labels: dict[str, Any] | None = None) -> None:
        """Put an API error's field errors beside their fields, in the page's language; the rest
        into the summary. `labels` (field name -> its label on the page) name the fields there."""
        self.problem = exc
        self.labels.update({k: str(v) for k, v in (labels or {}).items()})
        for name, api_message in exc.field_errors.items():
            code, params = exc.field_codes.get(name, ("", {}))
            message = field_message(code, params, api_message)
            target = name if name in known else next((k for k in known if name.startswith(k + ".")), "")
            if not target:
                # phones[0] is the "phones" field; segment_tags[3] the "segment_tags" one.
                target = next((k for k in known if name.startswith(k + "[")), "")
            if target:
                self.error(target, message)
            else:
                self.general.append(f"{self.labels.get(name, name)}: {message}")
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
