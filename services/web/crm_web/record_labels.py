"""The words a person reads for the contacts', prospects' and products' enum values, added to the
shared table in crm_web.labels (so templates keep calling `label(group, value)`)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from crm_web.labels import LABELS, TONES

DECISION_ROLES = {
    "decision_maker": _l("Decide la compra"),
    "influencer": _l("Influye"),
    "user": _l("Usuario"),
    "other": _l("Otro"),
}
PROSPECT_STATUSES = {
    "new": _l("Nuevo"),
    "contacted": _l("Contactado"),
    "qualified": _l("Calificado"),
    "converted": _l("Convertido"),
    "disqualified": _l("Descartado"),
}
PROSPECT_SOURCES = {
    "web": _l("Sitio web"),
    "referral": _l("Referido"),
    "campaign": _l("Campaña"),
    "trade_fair": _l("Feria"),
    "ads": _l("Publicidad"),
    "rd_station": _l("RD Station"),
    "import": _l("Importación"),
}
PRODUCT_KINDS = {"product": _l("Producto"), "service": _l("Servicio")}

LABELS.update(
    decision_role=DECISION_ROLES,
    prospect_status=PROSPECT_STATUSES,
    prospect_source=PROSPECT_SOURCES,
    product_kind=PRODUCT_KINDS,
)
TONES.update(
    prospect_status={
        "new": "info",
        "contacted": "info",
        "qualified": "success",
        "converted": "success",
        "disqualified": "neutral",
    },
)


def options(group: dict[str, object]) -> list[tuple[str, str]]:
    """A label group as a select's (value, text) options."""
    return [(value, str(text)) for value, text in group.items()]
