"""Serving a Flask application under gunicorn: the one way the gateway and the web application
run. gthread workers keep connections alive; with more than one worker, prometheus-client's
multiprocess mode is used (PROMETHEUS_MULTIPROC_DIR, emptied at start, a fresh folder unless
given); gunicorn's control socket is off unless a path of this instance's own is named (its
default is one path per user, so a second instance on the machine took over the first's)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, options: dict[str, Any], load: Callable[[], Any]):
        self.options = options
        self._load = load
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._load()


def _child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]  # unannotated in prometheus-client


def serve(
    load: Callable[[], Any],
    *,
    name: str,
    bind: str,
    workers: int,
    threads: int,
    log_level: str,
    control_socket: str = "",
) -> None:
    """Runs until stopped: `load` builds the WSGI application in each worker."""
    options: dict[str, Any] = {
        "bind": bind,
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,  # the application writes its own JSON access lines
        "loglevel": log_level,
    }
    if control_socket:
        options["control_socket"] = control_socket
    else:
        options["control_socket_disable"] = True
    if workers > 1:
        mp_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix=f"crm-{name}-prom-"))
        shutil.rmtree(mp_dir, ignore_errors=True)
        os.makedirs(mp_dir, exist_ok=True)
        options["child_exit"] = _child_exit
    _Gunicorn(options, load).run()
