"""The deals service: pipelines, deals (Negocio) and activities (Actividad)."""
