"""`python -m crm_web`: serves the web application with gunicorn (gthread workers), configured by
crm_web.settings (CRM_WEB_LISTEN, _GATEWAY_URL, _SECRET_KEY, _WORKERS, _THREADS ...). Without
CRM_WEB_SECRET_KEY a random key is made for this run and shared by every worker (sessions then
end when the process restarts: set one in production). With more than one worker, Prometheus
multiprocess mode is used, as in the gateway."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication

from crm_platform.config import ConfigError, platform_settings
from crm_platform.logs import setup_logging
from crm_platform.parent import exit_with_launcher
from crm_web.settings import web_settings


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from crm_web.app import create_app

        return create_app()


def _child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


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
    options: dict[str, Any] = {
        "bind": settings.listen,
        "workers": settings.workers,
        "worker_class": "gthread",
        "threads": settings.threads,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,
        "loglevel": platform.log_level,
    }
    if settings.workers > 1:
        mp_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="crm-web-prom-"))
        shutil.rmtree(mp_dir, ignore_errors=True)
        os.makedirs(mp_dir, exist_ok=True)
        options["child_exit"] = _child_exit
    _Gunicorn(options).run()


if __name__ == "__main__":
    main()
