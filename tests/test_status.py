"""``specops status`` without a reachable target, and the health rules on target-reported status."""

from __future__ import annotations

import json
from pathlib import Path

from specops.apply import free_port
from specops.apply._demo import prepare
from specops.apply._status import _model_health
from tests.helpers.cli import run_cli
from tests.helpers.serve import REPO_ROOT


def test_unreachable_target_is_unknown(tmp_path: Path) -> None:
    repo = tmp_path / "estate"
    prepare(REPO_ROOT / "specs", repo, f"http://127.0.0.1:{free_port()}")
    code, out, _ = run_cli("status", "--repo", str(repo), "--format", "json", "--detailed-exitcode")
    assert code == 2
    report = json.loads(out)
    assert report["targets"]["local-cpu"]["reachable"] is False
    assert {(r["sync"], r["health"]) for r in report["resources"]} == {("Unknown", "Unknown")}
    code, out, _ = run_cli("status", "--repo", str(repo))
    assert code == 0 and "UNREACHABLE" in out and "0/6 synced" in out


def test_model_health_rules() -> None:
    ready = {"1.0.0": {"ready": True}, "1.1.0": {"ready": True}}
    assert _model_health({"version": "1.1.0", "traffic": {"1.0.0": 0, "1.1.0": 100}, "versions": ready})[0] == "Healthy"
    assert _model_health({"version": "1.1.0", "traffic": {"1.0.0": 90, "1.1.0": 10}, "versions": ready})[0] == "Progressing"
    assert _model_health({"version": "1.1.0", "traffic": {"1.1.0": 100}, "shadow": "1.2.0", "versions": ready})[0] == "Progressing"
    broken = {"1.1.0": {"ready": False}}
    assert _model_health({"version": "1.1.0", "traffic": {"1.1.0": 100}, "versions": broken}) == (
        "Degraded",
        "version 1.1.0 takes traffic but is not ready",
    )
    assert _model_health({"version": "1.1.0", "traffic": {"1.0.0": 100}, "versions": ready})[0] == "Degraded"
