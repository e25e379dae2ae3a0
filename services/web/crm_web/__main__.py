"""`python -m crm_web`: serves the web application with gunicorn (gthread workers), configured by
crm_web.settings (CRM_WEB_LISTEN, _GATEWAY_URL, _SECRET_KEY, _WORKERS, _THREADS ...). Without
CRM_WEB_SECRET_KEY a random key is made for this run and shared by every worker (sessions then
end when the process restarts: set one in production). With more than one worker, Prometheus
multiprocess mode is used, as in the gateway."""

from __future__ import annotations

import os
import secrets
import sys
from typing import Any

from crm_platform.config import ConfigError, platform_settings
from crm_platform.logs import setup_logging
from crm_platform.parent import exit_with_launcher
from crm_platform.wsgi import serve
from crm_web.settings import web_settings


def _app() -> Any:
    from crm_web.app import create_app

    return create_app()


def main() -> None:
    exit_with_launcher()
    try:
        platform = platform_settings()
        settings = web_settings()
    except ConfigError as exc:
        print(f"crm-web: {exc}", file=sys.stderr)
        sys.exit(2)
    if not settings.secret_key:
        # Every worker must sign cookies with the same key: make it here, before they fork.
        os.environ["CRM_WEB_SECRET_KEY"] = secrets.token_urlsafe(32)
        print("crm-web: CRM_WEB_SECRET_KEY is not set; sessions end when this process restarts", file=sys.stderr)
    setup_logging("web", platform.log_level, platform.log_format)
    serve(
        _app,
        name="web",
        bind=settings.listen,
        workers=settings.workers,
        threads=settings.threads,
        log_level=platform.log_level,
        control_socket=os.environ.get("CRM_WEB_CONTROL_SOCKET", ""),
    )


if __name__ == "__main__":
    main()
