"""/api/v1/deals: Opportunities to sell (Negocio), moving through a pipeline's stages."""

from __future__ import annotations

from crm_gateway.routing import Resource

res = Resource("deals", "Deals", "Opportunities to sell (Negocio), moving through a pipeline's stages.")
