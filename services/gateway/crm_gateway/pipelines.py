"""/api/v1/pipelines: Sales pipelines and their stages."""

from __future__ import annotations

from crm_gateway.routing import Resource

res = Resource("pipelines", "Pipelines", "Sales pipelines and their stages.")
