"""A real Alertmanager for tests, and the webhook receiver it routes to.

``running_alertmanager(workdir, receiver_url)`` starts Debian's
``prometheus-alertmanager`` (0.25) on 127.0.0.1 at a free port, with its own
storage directory and a configuration that routes every alert to one webhook
(``send_resolved: true``, short group timers so a test sees notifications in
about a second), and stops it by its PID. ``WebhookReceiver`` is a real HTTP
server on 127.0.0.1 that keeps every JSON body POSTed to it.

Usage (the watch loop's end-to-end tests post through ``specops watch``)::

    with WebhookReceiver() as hook, running_alertmanager(tmp_path, hook.url) as am:
        ...  # notify am.url ("alertmanager:" + am.url in an SLO's notify list)
        body = hook.wait_for(lambda b: b["status"] == "firing")

Alertmanager is not skipped when missing: ``nox -s tests`` installs it, and
without it the test fails with a message naming the package.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

__all__ = ["Alertmanager", "WebhookReceiver", "alertmanager_binary", "running_alertmanager"]

PACKAGE = "prometheus-alertmanager"


def alertmanager_binary() -> str:
    """The Alertmanager executable, or a test failure naming the Debian package."""
    path = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if path is None:
        pytest.fail(
            f"Alertmanager is not installed: it comes from the Debian package `{PACKAGE}` "
            f"(`nox -s tests` installs it; or `apt-get install -y --no-install-recommends {PACKAGE}`)"
        )
    return path


class WebhookReceiver:
    """Every JSON body POSTed to ``url`` (any path), in arrival order."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                with receiver._changed:
                    receiver.bodies.append(body)
                    receiver.paths.append(self.path)
                    receiver._changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/alerts"

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
        """The first body received that ``match`` accepts; fails the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for body in self.bodies:
                    if match(body):
                        return body
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no matching webhook call within {timeout:g}s; received: {self.bodies!r}")
                self._changed.wait(left)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(receiver_url: str, group_wait: str, group_interval: str, repeat_interval: str) -> str:
    # JSON is YAML; Alertmanager reads either.
    return json.dumps({
        "route": {
            "receiver": "webhook",
            "group_by": ["alertname", "slo", "model"],
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [{"name": "webhook", "webhook_configs": [{"url": receiver_url, "send_resolved": True}]}],
    }, indent=2)  # fmt: skip


class Alertmanager:
    """One Alertmanager process: ``url`` is its base URL (``/api/v2/alerts`` below it)."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, workdir: Path) -> None:
        self.process = process
        self.port = port
        self.workdir = workdir

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        path = self.workdir / "alertmanager.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def post_alerts(self, alerts: list[dict[str, Any]]) -> httpx.Response:
        """POST ``alerts`` to the v2 API as they are (a list of postable alerts)."""
        return httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10)

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds now (``GET /api/v2/alerts``)."""
        response = httpx.get(f"{self.url}/api/v2/alerts", timeout=10)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def stop(self) -> None:
        """SIGTERM by PID, then SIGKILL if it has not exited within 10 s."""
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def _start(workdir: Path, port: int) -> Alertmanager:
    log = (workdir / "alertmanager.log").open("ab")
    process = subprocess.Popen(
        [
            alertmanager_binary(),
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port: one instance per test
            "--log.level=info",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    log.close()
    return Alertmanager(process, port, workdir)


def _wait_ready(am: Alertmanager, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if am.process.poll() is not None:
            return False
        try:
            if httpx.get(f"{am.url}/-/ready", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


@contextmanager
def running_alertmanager(
    workdir: Path,
    receiver_url: str,
    *,
    group_wait: str = "0s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
    timeout: float = 30.0,
) -> Iterator[Alertmanager]:
    """Start Alertmanager routing every alert to ``receiver_url``; stop it on exit."""
    workdir = workdir / "alertmanager"
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    (workdir / "alertmanager.yml").write_text(
        _config(receiver_url, group_wait, group_interval, repeat_interval), encoding="utf-8"
    )
    am: Alertmanager | None = None
    for _ in range(3):  # another process may take the free port before Alertmanager binds it
        am = _start(workdir, _free_port())
        if _wait_ready(am, timeout):
            break
        am.stop()
    else:
        log = am.log if am is not None else ""
        pytest.fail(f"Alertmanager did not become ready; its log:\n{log[-4000:]}")
    try:
        yield am
    finally:
        am.stop()
