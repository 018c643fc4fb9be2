"""Reading a fleet of targets: every target at once, and no per-target set-up cost that grows with the fleet."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from specops.plan._live import read_live
from specops.spec import load_estate
from specops.targets import ServeDriver, _serve

FLEET = 24


class _Fleet(BaseHTTPRequestHandler):
    barrier: threading.Barrier

    def do_GET(self) -> None:
        name = self.path.strip("/").split("/")[0]
        # Nobody answers until the whole fleet is being asked: a reader that asks fewer
        # at a time than the fleet's size times out here.
        self.barrier.wait()
        body = json.dumps({"format_version": 1, "target": name, "revision": "3", "resources": {}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


def _estate(tmp_path: Path, url: str, count: int, trailing: str = "") -> Any:
    specs = tmp_path / "specs"
    specs.mkdir()
    for i in range(count):
        (specs / f"t{i}.yaml").write_text(
            f"apiVersion: specops.dev/v1\nkind: Target\nmetadata: {{name: t{i}}}\n"
            f"spec: {{url: \"{url}/t{i}{trailing}\", environment: staging}}\n",
            encoding="utf-8",
        )
    return load_estate([specs], root=tmp_path)


def test_a_fleet_is_read_all_at_once(tmp_path: Path) -> None:
    handler = type("Fleet", (_Fleet,), {"barrier": threading.Barrier(FLEET, timeout=20)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        estate = _estate(tmp_path, f"http://127.0.0.1:{server.server_address[1]}", FLEET)
        state = read_live(estate, None, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(state.targets) == sorted(f"t{i}" for i in range(FLEET))
    assert {t.revision for t in state.targets.values()} == {"3"}


def test_an_unreachable_fleet_member_keeps_its_url(tmp_path: Path) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), _Fleet) as probe:
        port = probe.server_address[1]  # closed again: nothing listens there
    estate = _estate(tmp_path, f"http://127.0.0.1:{port}", 2, trailing="/")
    state = read_live(estate, None, allow_unreachable=True, timeout=2)
    assert {n: (t.reachable, t.url) for n, t in state.targets.items()} == {
        "t0": (False, f"http://127.0.0.1:{port}/t0"), "t1": (False, f"http://127.0.0.1:{port}/t1"),
    }


def test_drivers_share_one_verifying_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[ssl.SSLContext] = []
    real = httpx.create_ssl_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(_serve.httpx, "create_ssl_context", counting)
    monkeypatch.setattr(_serve, "_TLS", {})
    drivers = [ServeDriver(f"t{i}", f"https://10.0.0.{i}:8480") for i in range(5)]
    for driver in drivers:
        driver.close()
    assert len(built) == 1  # the CA bundle is loaded once, not once per target
    assert built[0].verify_mode == ssl.CERT_REQUIRED and built[0].check_hostname
