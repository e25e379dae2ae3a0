"""What the HTTP benchmarks share: the platform started as `crm up` does with an admin signed in,
a bare Flask app under the same gunicorn settings to compare against, and a load generator (wrk
when installed, else bounded Python clients) for GET and POST."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _support import percentile

from crm_platform.launcher import Platform
from crm_platform.nats_server import free_port
from crm_up import isolate_environment

ADMIN_EMAIL = "admin@example.com"
PASSWORD = "bench clave larga 123"


def request(
    url: str,
    body: object = None,
    token: str = "",
    method: str = "POST",
    data: bytes | None = None,
    content_type: str = "application/json",
) -> dict[str, object]:
    payload = data if data is not None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=payload, method=method)
    req.add_header("Content-Type", content_type)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=600) as res:
        return dict(json.loads(res.read() or b"{}"))


def get(url: str, token: str = "") -> dict[str, object]:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=60) as res:
        return dict(json.loads(res.read()))


@dataclass
class Running:
    platform: Platform
    base: str
    token: str


@contextmanager
def platform(workers: int = 2) -> Iterator[Running]:
    """The whole platform on free loopback ports and a fresh data dir, the admin signed in."""
    gateway = isolate_environment()
    os.environ.update(
        CRM_ADMIN_EMAIL=ADMIN_EMAIL,
        CRM_ADMIN_PASSWORD=PASSWORD,
        CRM_GATEWAY_WORKERS=str(workers),
        CRM_LOG_LEVEL="warning",
    )
    data = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    running = Platform(data, gateway_listen=gateway, quiet=True)
    try:
        running.start()
        base = f"http://{gateway}"
        session = request(f"{base}/api/v1/auth/login", {"email": ADMIN_EMAIL, "password": PASSWORD})
        yield Running(running, base, str(session["access_token"]))
    finally:
        running.stop()
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def bare_app(running: Running, source: str, probe_path: str, workers: int = 2) -> Iterator[str]:
    """A Flask app (module source) under gunicorn gthread like the gateway; yields its base URL."""
    folder = Path(tempfile.mkdtemp(prefix="crm-bench-bare-"))
    (folder / "bare_app.py").write_text(source)
    addr = f"127.0.0.1:{free_port()}"
    env = {**running.platform.env, "PYTHONPATH": str(folder)}
    cmd = [sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", "8", "-w", str(workers)]
    proc = subprocess.Popen([*cmd, "-b", addr, "--log-level", "warning", "bare_app:app"], env=env)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://{addr}{probe_path}", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"http://{addr}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def load(url: str, seconds: float, connections: int, token: str = "", body: str = "") -> tuple[float, str]:
    """Requests/s and p99 of GET (or POST of `body` as JSON) for `seconds`."""
    if shutil.which("wrk"):
        return _wrk(url, seconds, connections, token, body)
    return _python_load(url, seconds, connections, token, body)


def load_generator() -> str:
    return "wrk" if shutil.which("wrk") else "python threads (install wrk for a lighter load generator)"


def _wrk(url: str, seconds: float, connections: int, token: str, body: str) -> tuple[float, str]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    script = None
    if body:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115
        script.write(
            f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = {json.dumps(body)}\n'
        )
        script.close()
        cmd += ["-s", script.name]
    try:
        out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    finally:
        if script is not None:
            os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} failed responses\n{out}")
    p99 = re.search(r"99%\s+(\S+)", out)
    return rps, f"p99 {p99.group(1) if p99 else '?'}"


def _python_load(url: str, seconds: float, connections: int, token: str, body: str) -> tuple[float, str]:
    import http.client

    host, port = url.split("//")[1].split("/")[0].split(":")
    path = "/" + url.split("//")[1].split("/", 1)[1]
    stop = time.monotonic() + seconds
    counts: list[int] = []
    lat: list[float] = []
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body:
        headers["Content-Type"] = "application/json"

    def client() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        n = 0
        while time.monotonic() < stop:
            t = time.perf_counter()
            conn.request("POST" if body else "GET", path, body=body or None, headers=headers)
            res = conn.getresponse()
            res.read()
            if res.status >= 300:
                raise RuntimeError(f"{url}: HTTP {res.status}")
            lat.append(time.perf_counter() - t)
            n += 1
        counts.append(n)

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sum(counts) / seconds, f"p99 {percentile(lat, 99) * 1000:.1f}ms"
