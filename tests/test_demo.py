"""``specops demo`` as the README runs it: from the checkout, after installation."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.serve import REPO_ROOT


def test_demo_runs_the_whole_loop_and_stops_its_server() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "specops", "demo"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Apply complete: 6 change(s) on 1 target(s)." in out
    assert "inference: amount=" in out and "P(fraud) = 0." in out
    assert "Model/fraud-scorer on local-cpu: promoted" in out
    assert "generated traffic:" in out and " 0 failed" in out
    assert "analysis at 10% Failed: objective guardrail block rate <= baseline" in out
    assert "Model/fraud-scorer on local-cpu: rolled back; 1.1.0 serves 100%" in out
    # After the canaries: a version that fails real traffic later is rolled back by watch.
    assert "Model/fraud-scorer on local-cpu: promoted" in out.split("== 5.")[1]
    assert "rolling back to 1.1.0 (errorRate <= 0.001: burn rate" in out
    assert "ALERT FIRING SLODrift: input drift on fraud-scorer 1.3.0 (local-cpu): amount" in out and "hour_of_day" in out
    assert "revert proposed on branch specops/rollback/fraud-scorer-1.3.0" in out
    assert "specops slo status:" in out and "errorRate <= 0.001: budget remaining" in out
    assert "1.3.0 rolled back at " in out
    assert "1.1.0=100%" in out and "6/6 healthy." in out
    assert "Demo complete" in out
    assert "specops serve exited" not in result.stderr, result.stderr
