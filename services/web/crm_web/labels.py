"""The words a person reads for the API's enum values (translated), and the tone of a status
badge. Templates call `label(group, value)` and `tone(group, value)`."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

LABELS: dict[str, dict[str, Any]] = {
    "role": {"admin": _l("Administrador"), "manager": _l("Gerente"), "rep": _l("Vendedor")},
    "client_kind": {"company": _l("Empresa"), "person": _l("Persona")},
    "deal_status": {"open": _l("Abierto"), "won": _l("Ganado"), "lost": _l("Perdido")},
    "activity_kind": {
        "call": _l("Llamada"),
        "meeting": _l("Reunión"),
        "visit": _l("Visita"),
        "task": _l("Tarea"),
        "email": _l("Correo"),
    },
    "activity_status": {"scheduled": _l("Programada"), "done": _l("Hecha"), "cancelled": _l("Cancelada")},
    "quote_status": {
        "draft": _l("Borrador"),
        "sent": _l("Enviada"),
        "accepted": _l("Aceptada"),
        "rejected": _l("Rechazada"),
        "expired": _l("Expirada"),
    },
}
TONES: dict[str, dict[str, str]] = {
    "deal_status": {"open": "info", "won": "success", "lost": "danger"},
    "activity_status": {"scheduled": "info", "done": "success", "cancelled": "neutral"},
    "quote_status": {
        "draft": "neutral",
        "sent": "info",
        "accepted": "success",
        "rejected": "danger",
        "expired": "warning",
    },
}


def label(group: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    return str(LABELS.get(group, {}).get(value, value))


def tone(group: str, value: Any) -> str:
    return TONES.get(group, {}).get(value, "neutral")
