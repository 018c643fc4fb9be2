"""The target seam: the ``specops serve`` driver over a real loopback HTTP server.

The server here is a scripted ``http.server`` (not ``specops serve``) because
these tests need a target that misbehaves on cue: drops a connection, never
answers, answers 401. ``test_apply*.py`` run the driver against the real target.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from specops.apply._local import free_port
from specops.targets import (
    LeaseHeldError,
    MutationUncertainError,
    RevisionConflictError,
    ServeDriver,
    TargetAuthError,
    TargetDownError,
    TargetDriver,
    driver_for,
    fan_out,
)

Script = Callable[[BaseHTTPRequestHandler, int], Any]


class Scripted:
    """A loopback HTTP server whose every request is answered by ``script(handler, n)``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.connections: set[int] = set()
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with owner.lock:
                    n = len(owner.requests)
                    owner.requests.append(
                        {"method": self.command, "path": self.path, "body": body, "headers": dict(self.headers)}
                    )
                    owner.connections.add(self.client_address[1])
                answer = owner.script(self, n)
                if answer is None:
                    return  # the script answered (or dropped) by itself
                status, payload = answer
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as the test meant it to

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def serve() -> Iterator[Callable[[Script], Scripted]]:
    started: list[Scripted] = []

    def start(script: Script) -> Scripted:
        started.append(Scripted(script))
        return started[-1]

    yield start
    for server in started:
        server.close()


def _drop(handler: BaseHTTPRequestHandler) -> None:
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


STATE = {"format_version": 1, "target": "t", "revision": "7", "resources": {}}


def test_the_serve_driver_is_a_target_driver() -> None:
    with ServeDriver("t", "http://127.0.0.1:1") as driver:
        assert isinstance(driver, TargetDriver)


def test_reads_are_retried_after_a_dropped_connection(serve: Callable[[Script], Scripted]) -> None:
    def script(handler: BaseHTTPRequestHandler, n: int) -> Any:
        if n < 2:
            return _drop(handler)
        return 200, STATE

    server = serve(script)
    with ServeDriver("t", server.url, timeout=5, backoff_s=0.01) as driver:
        assert driver.live_state()["revision"] == "7"
    assert [r["method"] for r in server.requests] == ["GET", "GET", "GET"]


def test_a_mutation_whose_answer_is_lost_is_sent_once_and_says_so(serve: Callable[[Script], Scripted]) -> None:
    release = threading.Event()

    def script(handler: BaseHTTPRequestHandler, n: int) -> Any:
        release.wait(10)  # the target got the change and is slow to answer
        return 200, {"revision": "8"}

    server = serve(script)
    with ServeDriver("t", server.url, timeout=0.5, load_timeout=0.5, backoff_s=0.01) as driver:
        with pytest.raises(MutationUncertainError, match=r"may or may not have taken effect.*read the live state"):
            driver.put_resource("SLO", "s", {"kind": "SLO"}, "h", expected_revision="7")
        with pytest.raises(MutationUncertainError):
            driver.set_traffic("m", {"1.0.0": 100}, None, expected_revision="7")
        release.set()
    assert [r["method"] for r in server.requests] == ["PUT", "PUT"]  # never repeated
    # The runner treats it like an outage: the change stays open in the journal for recovery.
    assert issubclass(MutationUncertainError, TargetDownError)


def test_a_mutation_that_never_left_is_a_plain_outage() -> None:
    port = free_port()  # nothing listens there
    with ServeDriver("t", f"http://127.0.0.1:{port}", timeout=2) as driver:
        with pytest.raises(TargetDownError, match="is unreachable") as info:
            driver.delete_resource("SLO", "s", expected_revision="1")
        assert not isinstance(info.value, MutationUncertainError)


def test_uploads_are_retried_because_they_are_content_addressed(serve: Callable[[Script], Scripted]) -> None:
    def script(handler: BaseHTTPRequestHandler, n: int) -> Any:
        if n == 0:
            return _drop(handler)
        return 201, {}

    server = serve(script)
    with ServeDriver("t", server.url, timeout=5, backoff_s=0.01) as driver:
        driver.upload("ab" * 32, b"model bytes")
    assert [(r["method"], r["body"]) for r in server.requests] == [("PUT", b"model bytes")] * 2


def test_refused_credentials_are_an_authentication_failure(
    serve: Callable[[Script], Scripted], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(lambda handler, n: (401, {"error": "a valid token is required"}))
    monkeypatch.setenv("T_TOKEN", "wrong")
    with ServeDriver("t", server.url, "T_TOKEN") as driver:
        with pytest.raises(TargetAuthError, match=r"target t: authentication failed .*HTTP 401.*check T_TOKEN") as info:
            driver.live_state()
        assert "unreachable" not in str(info.value)
    assert server.requests[0]["headers"]["Authorization"] == "Bearer wrong"
    monkeypatch.delenv("T_TOKEN")
    with ServeDriver("t", server.url, "T_TOKEN") as driver, pytest.raises(TargetAuthError, match=r"T_TOKEN .* is not set"):
        driver.lease_info()


def test_conflicts_name_the_holder_or_the_revision(serve: Callable[[Script], Scripted]) -> None:
    answers = [
        (409, {"error": "held", "holder": "apply@h:1", "expires_at": "2026-12-01T00:00:00Z"}),
        (409, {"error": "moved", "revision": "9"}),
    ]
    server = serve(lambda handler, n: answers[n])
    with ServeDriver("t", server.url) as driver:
        with pytest.raises(LeaseHeldError, match="lease held by apply@h:1"):
            driver.acquire("me", 30)
        with pytest.raises(RevisionConflictError, match="the target is at 9"):
            driver.delete_resource("SLO", "s", expected_revision="8")


def test_one_kept_alive_connection_and_the_lease_on_every_mutation(serve: Callable[[Script], Scripted]) -> None:
    server = serve(lambda handler, n: (200, {"revision": str(n), "holder": None}))
    with ServeDriver("t", server.url) as driver:
        driver.acquire("apply@me:1", 30, identity={"boot_id": "b"})
        driver.live_state()
        driver.put_resource("SLO", "s", {}, "h", expected_revision="1")
        driver.release()
        assert driver.lease is None
    assert len(server.connections) == 1
    acquire, read, put, release = server.requests
    assert json.loads(acquire["body"]) == {"holder": "apply@me:1", "ttl_s": 30, "identity": {"boot_id": "b"}}
    assert "X-SpecOps-Lease" not in read["headers"]
    assert put["headers"]["X-SpecOps-Lease"] == "apply@me:1"
    assert json.loads(release["body"]) == {"holder": "apply@me:1"}


def test_watch_calls_use_the_seam_endpoints(serve: Callable[[Script], Scripted]) -> None:
    server = serve(lambda handler, n: (200, {"revision": "1"}))
    with ServeDriver("t", server.url) as driver:
        driver.acquire("watch@me:1", 30, kind="watch")
        assert driver.lease is None  # the watch lease is not the apply lease
        driver.observations("fraud", [300, 3600])
        driver.watch_state()
        driver.put_watch_state({"alerts": {}}, holder="watch@me:1")
        driver.release("watch@me:1", kind="watch")
        driver.set_traffic("fraud", {"1.0.0": 100}, None, expected_revision="1",
                           reason={"version": "1.1.0", "reason": "burn", "by": "watch"})
        with pytest.raises(ValueError, match="unknown lease kind"):
            driver.lease_info("other")
    paths = [(r["method"], r["path"]) for r in server.requests]
    assert paths == [
        ("POST", "/admin/v1/lease?kind=watch"),
        ("GET", "/admin/v1/models/fraud/observations?windows=300%2C3600"),
        ("GET", "/admin/v1/watch/state"),
        ("PUT", "/admin/v1/watch/state"),
        ("DELETE", "/admin/v1/lease?kind=watch"),
        ("PUT", "/admin/v1/models/fraud/traffic"),
    ]
    assert json.loads(server.requests[3]["body"]) == {"holder": "watch@me:1", "state": {"alerts": {}}}
    assert json.loads(server.requests[5]["body"])["rollback"] == {"version": "1.1.0", "reason": "burn", "by": "watch"}


def test_infer_posts_to_the_inference_url(serve: Callable[[Script], Scripted]) -> None:
    server = serve(lambda handler, n: (200, {"outputs": []}))
    with ServeDriver("t", server.url) as driver:
        response = driver.infer("fraud", {"inputs": []})
        assert response.status_code == 200 and response.json() == {"outputs": []}
        assert driver.inference_url("fraud") == f"{server.url}/v2/models/fraud/infer"
    assert server.requests[0]["path"] == "/v2/models/fraud/infer"


def test_many_targets_are_read_at_once(serve: Callable[[Script], Scripted]) -> None:
    # Each target answers only once all of them are being asked: a sequential reader would time out.
    barrier = threading.Barrier(3, timeout=10)

    def script(handler: BaseHTTPRequestHandler, n: int) -> Any:
        barrier.wait()
        return 200, STATE

    servers = [serve(script) for _ in range(3)]
    drivers = [ServeDriver(f"t{i}", s.url, timeout=20) for i, s in enumerate(servers)]
    try:
        answers = fan_out(drivers, lambda d: d.live_state())
    finally:
        for driver in drivers:
            driver.close()
    assert {name: a["revision"] for name, a in answers.items()} == {"t0": "7", "t1": "7", "t2": "7"}  # type: ignore[index]


def test_fan_out_hands_back_each_targets_error() -> None:
    port = free_port()
    drivers = [ServeDriver("down", f"http://127.0.0.1:{port}", timeout=2, retries=1)]
    answers = fan_out(drivers, lambda d: d.live_state())
    drivers[0].close()
    assert isinstance(answers["down"], TargetDownError)


def test_driver_for_reads_the_target_spec() -> None:
    from specops.spec import Target

    target = Target.model_validate(
        {"apiVersion": "specops.dev/v1", "kind": "Target", "metadata": {"name": "gpu-east"},
         "spec": {"url": "http://10.0.0.1:8480", "environment": "production", "auth": {"tokenEnv": "GPU_TOKEN"}}}
    )
    driver = driver_for(target, timeout=3)
    assert (driver.name, driver.url, driver.token_env) == ("gpu-east", "http://10.0.0.1:8480", "GPU_TOKEN")
    driver.close()
    with pytest.raises(Exception, match="no url"):
        driver_for("lonely")


def test_the_in_memory_driver_keeps_the_seams_contract() -> None:
    from tests.helpers.memory import MemoryDriver

    driver = MemoryDriver("t")
    assert isinstance(driver, TargetDriver)
    driver.acquire("me", 30)
    with pytest.raises(LeaseHeldError):
        driver.acquire("you", 30)
    revision = driver.live_state()["revision"]
    driver.put_resource("SLO", "s", {}, "h", expected_revision=revision)
    with pytest.raises(RevisionConflictError):
        driver.delete_resource("SLO", "s", expected_revision=revision)
    assert set(driver.live_state()["resources"]) == {"SLO/s"}
