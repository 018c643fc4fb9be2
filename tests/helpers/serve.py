"""A real ``specops serve`` target for the apply, status, workflow and demo tests.

Real parts only: a git repository holding the example estate, a real
``specops serve`` subprocess on a free loopback port with an admin token, and
real ONNX models (the example ones, and a broken export of one).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from specops.apply import LocalTarget
from specops.apply._demo import commit_all, rescaled_model, set_model_version

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN_ENV = "SPECOPS_LOCAL_TOKEN"
# Short canary timings keep the suite fast: steps need 50 requests, judged from 0.5 s on. Windows
# that short can be swamped by one stall of this shared machine (hundreds of ms of host steal
# were measured), so a step tolerates two failed measurements; a bad version fails all three.
# The deadline only bounds an undecided step: a busy machine serves the 10% canary 3 requests/s.
TEST_ANALYSIS = "analysis: {slo: fraud-scorer, minRequests: 50, interval: 500ms, deadline: 2m, failureLimit: 2}"


def commit_version(repo: Path, version: str, *, broken: bool = False) -> str:
    """Commit the example model as ``version``; ``broken``: an export whose outputs are 100x too large."""
    artifact = "specs/artifacts/fraud-scorer-1.1.0.onnx"
    if broken:
        data = rescaled_model((repo / artifact).read_bytes())
        set_model_version(repo, version, f"specs/artifacts/fraud-scorer-{version}.onnx", data)
    else:
        set_model_version(repo, version, artifact, (repo / artifact).read_bytes())
    return commit_all(repo, f"fraud-scorer {version}")


def live_state(target: LocalTarget) -> dict[str, Any]:
    with target.driver() as driver:
        return driver.live_state()


def live_model(target: LocalTarget) -> dict[str, Any]:
    state = live_state(target)
    status = dict(state["resources"]["Model/fraud-scorer"]["status"])
    status["serving"] = {v: w for v, w in status["traffic"].items() if w > 0}
    return status


def journal_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(predicate: Any, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
