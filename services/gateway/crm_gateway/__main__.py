"""`python -m crm_gateway`: serves the gateway with gunicorn (gthread workers keep connections
alive), configured by crm_gateway.settings (CRM_GATEWAY_LISTEN, _WORKERS, _THREADS ...). Each worker
builds its own app, and so follows the identity events itself. With more than one worker,
Prometheus multiprocess mode is used (PROMETHEUS_MULTIPROC_DIR, emptied at start). The gateway
refuses to start without CRM_INTERNAL_TOKEN: the services trust only callers that present it."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication

from crm_gateway.settings import gateway_settings
from crm_platform.config import ConfigError, platform_settings
from crm_platform.logs import setup_logging
from crm_platform.parent import exit_with_launcher


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from crm_gateway.app import create_app

        return create_app()


def _child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


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
    options: dict[str, Any] = {
        "bind": listen,
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,
        "loglevel": settings.log_level,
    }
    # gunicorn's control socket (for gunicornc) defaults to one path per user, shared by every
    # gateway on the machine: a second instance took over the first's. Only where asked, at a path
    # of this instance's own.
    control_socket = os.environ.get("CRM_GATEWAY_CONTROL_SOCKET", "")
    if control_socket:
        options["control_socket"] = control_socket
    else:
        options["control_socket_disable"] = True
    if workers > 1:
        mp_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="crm-prom-"))
        shutil.rmtree(mp_dir, ignore_errors=True)
        os.makedirs(mp_dir, exist_ok=True)
        options["child_exit"] = _child_exit
    _Gunicorn(options).run()


if __name__ == "__main__":
    main()
