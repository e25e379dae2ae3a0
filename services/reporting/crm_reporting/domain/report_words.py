"""How an exported report reads: the words a workbook shows for a field's coded values (a deal's
status `won` is "Ganado", a quote's `accepted` "Aceptada"), in the workbook's language (Spanish,
the product's; the sheet names and headers are Spanish too), and which fields hold a reference
to another record that the workbook shows by name (the owner by their name, a client by its
name, a stage by its name). Pure Python: no I/O."""

from __future__ import annotations

# module → field → value → word. A value the table lacks is shown as it is (a newer value than
# this table knows reads as its code rather than as nothing).
VALUE_WORDS: dict[str, dict[str, dict[str, str]]] = {
    "clients": {"kind": {"company": "Empresa", "person": "Persona"}},
    "prospects": {
        "source": {
            "web": "Web",
            "referral": "Referido",
            "campaign": "Campaña",
            "trade_fair": "Feria",
            "ads": "Publicidad",
            "rd_station": "RD Station",
            "other": "Otro",
        },
        "status": {
            "new": "Nuevo",
            "contacted": "Contactado",
            "qualified": "Calificado",
            "converted": "Convertido",
            "disqualified": "Descartado",
        },
    },
    "deals": {"status": {"open": "Abierto", "won": "Ganado", "lost": "Perdido"}},
    "activities": {
        "kind": {"call": "Llamada", "meeting": "Reunión", "visit": "Visita", "task": "Tarea", "email": "Correo"},
        "status": {"scheduled": "Programada", "done": "Hecha", "cancelled": "Cancelada"},
    },
    "quotes": {
        "status": {
            "draft": "Borrador",
            "sent": "Enviada",
            "accepted": "Aceptada",
            "rejected": "Rechazada",
            "expired": "Vencida",
            "superseded": "Reemplazada",
        }
    },
    "products": {"kind": {"product": "Producto", "service": "Servicio"}},
    "campaigns": {
        "type": {
            "mailing": "Correo masivo",
            "telemarketing": "Telemercadeo",
            "social_ads": "Redes y anuncios",
            "trade_fair": "Feria",
        },
        "status": {
            "draft": "Borrador",
            "scheduled": "Programada",
            "running": "En curso",
            "completed": "Completada",
            "cancelled": "Cancelada",
        },
    },
}

# Fields holding another record's id → the kind of record, whose name the workbook shows.
REFERENCES: dict[str, str] = {
    "owner_id": "user",
    "manager_id": "user",
    "client_id": "client",
    "converted_client_id": "client",
    "stage_id": "stage",
    "pipeline_id": "pipeline",
    "campaign_id": "campaign",
    "source_campaign_id": "campaign",
    "contact_id": "contact",
}


def value_word(module: str, field: str, value: str) -> str:
    """The word for a coded value, or the value itself when there is none."""
    return VALUE_WORDS.get(module, {}).get(field, {}).get(value, value)
