"""The CRM's web application: server-rendered pages (Jinja2 + htmx) over the public HTTP API."""
