"""/api/v1/activities: Calls, meetings, visits, tasks and e-mails logged or scheduled (Actividad)."""

from __future__ import annotations

from crm_gateway.routing import Resource

res = Resource(
    "activities", "Activities", "Calls, meetings, visits, tasks and e-mails logged or scheduled (Actividad)."
)
