"""Alert state, notifications and the revert branch of ``specops watch``: the parts alone.

Real parts: a real HTTP receiver on 127.0.0.1 for webhooks and the Alertmanager API
shape, real git repositories (pygit2) with a bare ``origin``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pygit2
import pytest

from specops._git import GitRepo
from specops.watch._alerts import AlertBook, Condition
from specops.watch._notify import Notifier, parse_channel
from specops.watch._rollback import propose_revert, revert_branch, rolled_back_blocks


class Receiver:
    """Keeps every JSON body POSTed to it, with the path and the Authorization header."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[tuple[str, Any, str | None]] = []
        self.status = status
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                owner.bodies.append((self.path, json.loads(self.rfile.read(length)), self.headers.get("authorization")))
                self.send_response(owner.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def burn(firing: bool | None, channels: list[str], key: str = "k1") -> Condition:
    return Condition(
        key=key, alertname="SLOBurnRate",
        labels={"slo": "s", "model": "m", "version": "1.1.0", "target": "t", "severity": "page",
                "objective": "errorRate <= 0.001", "windows": "1h/5m"},
        summary="m 1.1.0 burns", description="burn rate 30x over 1h and 28x over 5m",
        firing=firing, channels=channels, scope="t", evidence={"long": {"burn_rate": 30.0}},
    )  # fmt: skip


def test_a_firing_alert_is_sent_once_per_channel_and_resent_only_to_alertmanager() -> None:
    book = AlertBook()
    channels = ["alertmanager:http://am:9093", "webhook:http://hook", "log"]
    assert book.reconcile([burn(True, channels)], {"t"}, 1000.0) == ["k1"]
    due = book.due(1000.0, resend_s=240)
    assert sorted(e.channel for e in due) == sorted(channels)
    assert due[0].alert["status"] == "firing" and due[0].alert["labels"]["alertname"] == "SLOBurnRate"
    for e in due:
        book.sent(e.key, e.channel, 1000.0)
    # Next ticks: still firing, nothing due until the resend interval, then Alertmanager only.
    assert book.reconcile([burn(True, channels)], {"t"}, 1030.0) == []
    assert book.due(1030.0, resend_s=240) == []
    assert [e.channel for e in book.due(1241.0, resend_s=240)] == ["alertmanager:http://am:9093"]
    # A restart reads the same state from the target: nothing is repeated.
    again = AlertBook(json.loads(json.dumps(book.to_json())))
    assert again.due(1030.0, resend_s=240) == []
    assert again.alerts["k1"]["firing_since"] == book.alerts["k1"]["firing_since"]


def test_no_data_keeps_the_state_and_ok_resolves_once() -> None:
    book = AlertBook()
    book.reconcile([burn(True, ["log"])], {"t"}, 1000.0)
    for e in book.due(1000.0):
        book.sent(e.key, e.channel, 1000.0)
    assert book.reconcile([burn(None, ["log"])], {"t"}, 1010.0) == []
    assert book.alerts["k1"]["status"] == "firing"
    assert book.reconcile([burn(False, ["log"])], {"t"}, 1020.0) == ["k1"]
    resolved = book.due(1020.0)
    assert [(e.channel, e.alert["status"]) for e in resolved] == [("log", "resolved")]
    assert resolved[0].alert["ends_at"] == "1970-01-01T00:17:00Z"
    book.sent("k1", "log", 1020.0)
    assert book.due(2000.0) == []
    # A resolved alert that was never sent is not announced.
    book.reconcile([burn(True, ["log"], "k2")], {"t"}, 3000.0)
    book.reconcile([burn(False, ["log"], "k2")], {"t"}, 3001.0)
    assert book.due(3001.0) == []


def test_an_alert_nobody_mentions_on_an_evaluated_target_resolves() -> None:
    book = AlertBook()
    book.reconcile([burn(True, ["log"])], {"t"}, 1000.0)
    book.reconcile([], {"other"}, 1010.0)
    assert book.alerts["k1"]["status"] == "firing"  # its target was not evaluated (unreachable)
    book.reconcile([], {"t"}, 1020.0)
    assert book.alerts["k1"]["status"] == "resolved"
    book.prune(1020.0 + 8 * 86400)
    assert book.alerts == {}


def test_notify_channels_are_checked() -> None:
    assert str(parse_channel("alertmanager:http://am:9093")) == "alertmanager:http://am:9093"
    assert parse_channel("log").url is None
    with pytest.raises(ValueError, match="alertmanager:URL"):
        parse_channel("slack:#risk-oncall")
    with pytest.raises(ValueError, match="http"):
        parse_channel("webhook:ftp://x")


def test_webhook_and_alertmanager_payloads(receiver: Receiver) -> None:
    book = AlertBook()
    book.reconcile([burn(True, ["log"])], {"t"}, 1000.0)
    event = book.event("k1")
    lines: list[str] = []
    notifier = Notifier("watch@h:1", lambda: "2026-12-01T00:00:00Z", say=lines.append)
    try:
        assert notifier.send(parse_channel(f"alertmanager:{receiver.url}"), [event])
        assert notifier.send(parse_channel(f"webhook:{receiver.url}/hook"), [event])
        assert notifier.send(parse_channel("log"), [event])
        assert notifier.retrain(f"{receiver.url}/retrain", None, {"model": "m"})
    finally:
        notifier.close()
    (am_path, am, _), (hook_path, hook, _), (retrain_path, _, _) = receiver.bodies
    assert am_path == "/api/v2/alerts"
    assert am[0]["labels"] == {"alertname": "SLOBurnRate", "slo": "s", "model": "m", "version": "1.1.0", "target": "t",
                               "severity": "page", "objective": "errorRate <= 0.001", "windows": "1h/5m"}
    assert am[0]["annotations"]["description"].startswith("burn rate 30x") and "endsAt" not in am[0]
    assert hook_path == "/hook" and hook["format_version"] == 1 and hook["alerts"][0]["evidence"]["long"]["burn_rate"] == 30
    assert retrain_path == "/retrain"
    assert lines == ["  ALERT FIRING SLOBurnRate: m 1.1.0 burns"]


def test_a_failing_channel_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    with Receiver(status=500) as down:
        notifier = Notifier("watch@h:1", lambda: "now")
        try:
            assert not notifier.send(parse_channel(f"webhook:{down.url}"), [{"status": "firing"}])
            monkeypatch.delenv("SPECOPS_TEST_RETRAIN", raising=False)
            assert not notifier.retrain(down.url, "SPECOPS_TEST_RETRAIN", {})
        finally:
            notifier.close()
        assert "HTTP 500" in notifier.errors[0] and "SPECOPS_TEST_RETRAIN" in notifier.errors[1]


MODEL = """apiVersion: specops.dev/v1
kind: Model
metadata: {{name: scorer}}
spec:
  version: {version}
  artifact: {{uri: specs/artifacts/scorer-{version}.onnx, sha256: {sha}}}
  signature:
    inputs: [{{name: x, dtype: float32, shape: [-1, 2]}}]
    outputs: [{{name: y, dtype: float32, shape: [-1, 1]}}]
  targets: [t]
"""


def _commit(repo: Path, files: dict[str, bytes], message: str) -> str:
    for path, data in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(data)
    return GitRepo.discover(repo).commit_all(message, "T", "t@specops.invalid")


def test_the_revert_branch_restores_the_previous_spec_and_is_pushed(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    GitRepo.init(repo)
    origin = tmp_path / "origin.git"
    pygit2.init_repository(str(origin), bare=True)
    pygit2.Repository(str(repo)).remotes.create("origin", str(origin))
    old = MODEL.format(version="1.0.0", sha="a" * 64).encode()
    _commit(repo, {"specs/model.yaml": old, "specs/artifacts/scorer-1.0.0.onnx": b"old"}, "1.0.0")
    (repo / "specs/artifacts/scorer-1.0.0.onnx").unlink()
    new = MODEL.format(version="1.1.0", sha="b" * 64).encode()
    head = _commit(repo, {"specs/model.yaml": new, "specs/artifacts/scorer-1.1.0.onnx": b"new"}, "1.1.0")
    lines: list[str] = []
    result = propose_revert(repo, "HEAD", "specs/model.yaml", "scorer", "1.1.0", "1.0.0", None,
                            "Revert Model/scorer to 1.0.0\n\nerrorRate: burn 30x over 1h/5m\n", lines.append)  # fmt: skip
    assert result["error"] is None and result["pushed"] is True
    assert result["branch"] == revert_branch("scorer", "1.1.0") == "specops/rollback/scorer-1.1.0"
    git = GitRepo.discover(repo)
    assert git.read_path(result["commit"], "specs/model.yaml") == old
    assert git.read_path(result["commit"], "specs/artifacts/scorer-1.0.0.onnx") == b"old"  # the head had lost it
    commit = pygit2.Repository(str(repo))[result["commit"]]
    assert [str(p) for p in commit.parent_ids] == [head] and "burn 30x" in commit.message
    # The work tree and HEAD are untouched; the bare origin has the branch.
    assert (repo / "specs/model.yaml").read_bytes() == new and git.head_commit() == head
    assert str(pygit2.Repository(str(origin)).branches["specops/rollback/scorer-1.1.0"].target) == result["commit"]
    # Proposing again reuses the branch.
    assert propose_revert(repo, "HEAD", "specs/model.yaml", "scorer", "1.1.0", "1.0.0", None, "again")["commit"] == result["commit"]


def test_no_previous_spec_is_reported_not_raised(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    GitRepo.init(repo)
    _commit(repo, {"specs/model.yaml": MODEL.format(version="1.1.0", sha="b" * 64).encode()}, "only")
    result = propose_revert(repo, "HEAD", "specs/model.yaml", "scorer", "1.1.0", "1.0.0", None, "m")
    assert result["commit"] is None and "1.0.0" in result["error"] and result["pushed"] is False


def test_the_planner_check_blocks_the_rolled_back_spec_only() -> None:
    from specops.plan._live import LiveResource, LiveState, TargetState
    from specops.plan._model import ResourceChange

    status = {"rolled_back": {"1.1.0": {"hash": "h-bad", "at": "2026-12-01T00:00:00Z", "reason": "burn 30x",
                                        "by": "watch", "branch": "specops/rollback/m-1.1.0"}}}  # fmt: skip
    live = LiveState({"t": TargetState("t", "5", "http", resources={
        "Model/m": LiveResource("Model/m", "t", "h-old", None, status, "h-old")})})  # fmt: skip

    def change(after_hash: str, version: str = "1.1.0") -> ResourceChange:
        return ResourceChange("Model/m", "Model", "m", ["update"], "spec_changed", "h-old", after_hash,
                              after={"spec": {"version": version}}, targets=["t"])  # fmt: skip

    [blocked] = rolled_back_blocks([change("h-bad")], live)
    assert blocked.reason == "rolled_back" and "2026-12-01T00:00:00Z" in blocked.message
    assert "burn 30x" in blocked.message and "specops/rollback/m-1.1.0" in blocked.message
    assert rolled_back_blocks([change("h-bad")], live, retry=True) == []
    assert rolled_back_blocks([change("h-fixed")], live) == []  # the spec changed: not blocked
    assert rolled_back_blocks([change("h-bad", "1.2.0")], live) == []
