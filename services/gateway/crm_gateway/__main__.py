"""`python -m crm_gateway`: serves the gateway with gunicorn (gthread workers keep connections
alive), configured by crm_gateway.settings (CRM_GATEWAY_LISTEN, _WORKERS, _THREADS ...). Each worker
builds its own app, and so follows the identity events itself. With more than one worker,
Prometheus multiprocess mode is used (PROMETHEUS_MULTIPROC_DIR, emptied at start). The gateway
refuses to start without CRM_INTERNAL_TOKEN: the services trust only callers that present it."""

from __future__ import annotations

import os
import sys
from typing import Any

from crm_gateway.settings import gateway_settings
from crm_platform.config import ConfigError, platform_settings
from crm_platform.logs import setup_logging
from crm_platform.parent import exit_with_launcher
from crm_platform.wsgi import serve


def _app() -> Any:
    from crm_gateway.app import create_app

    return create_app()


def main() -> None:
    exit_with_launcher()
    try:
        settings = platform_settings()
        gateway = gateway_settings()
        if not settings.internal_token:
            raise ConfigError("CRM_INTERNAL_TOKEN must be set (the same secret on the gateway and every service)")
    except ConfigError as exc:
        print(f"crm-gateway: {exc}", file=sys.stderr)
        sys.exit(2)
    listen, workers, threads = gateway.listen, gateway.workers, gateway.threads
    setup_logging("gateway", settings.log_level, settings.log_format)
    serve(
        _app,
        name="gateway",
        bind=listen,
        workers=workers,
        threads=threads,
        log_level=settings.log_level,
        control_socket=os.environ.get("CRM_GATEWAY_CONTROL_SOCKET", ""),
    )


if __name__ == "__main__":
    main()
