"""/api/v1/quotes: Proposals built from catalogue products, with totals and a PDF (Cotización)."""

from __future__ import annotations

from crm_gateway.routing import Resource

res = Resource("quotes", "Quotes", "Proposals built from catalogue products, with totals and a PDF (Cotización).")
