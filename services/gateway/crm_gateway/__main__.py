"""`python -m crm_gateway`: serves the gateway with gunicorn (gthread workers keep connections
alive). CRM_GATEWAY_LISTEN (default 127.0.0.1:8080), CRM_GATEWAY_WORKERS (default 1),
CRM_GATEWAY_THREADS (default 8). With more than one worker, Prometheus multiprocess mode is used
(PROMETHEUS_MULTIPROC_DIR, emptied at start)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication

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

        return create_app(max_body_bytes=int(os.environ.get("CRM_GATEWAY_MAX_BODY_BYTES", 1024 * 1024)))


def _child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def main() -> None:
    exit_with_launcher()
    try:
        settings = platform_settings()
        listen = os.environ.get("CRM_GATEWAY_LISTEN", "127.0.0.1:8080")
        workers = int(os.environ.get("CRM_GATEWAY_WORKERS", "1"))
        threads = int(os.environ.get("CRM_GATEWAY_THREADS", "8"))
    except (ConfigError, ValueError) as exc:
        print(f"crm-gateway: {exc}", file=sys.stderr)
        sys.exit(2)
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
    if workers > 1:
        mp_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="crm-prom-"))
        shutil.rmtree(mp_dir, ignore_errors=True)
        os.makedirs(mp_dir, exist_ok=True)
        options["child_exit"] = _child_exit
    _Gunicorn(options).run()


if __name__ == "__main__":
    main()
