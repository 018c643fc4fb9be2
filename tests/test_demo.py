"""``specops demo`` as the README runs it: from the checkout, after installation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests._evidence_util import csv_rows
from tests.helpers.cli import run_cli
from tests.helpers.serve import REPO_ROOT


def test_demo_runs_the_whole_loop_and_stops_its_server(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "specops", "demo", "--workdir", str(tmp_path)],
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
    # It ends with the audit and the model's history, read back from the evidence it sealed.
    evidence = out[out.index("$ specops audit"):]
    assert "Changes (10, from" in evidence and "Model/fraud-scorer 1.2.0 on local-cpu: update -> rolled_back by analysis" in evidence
    assert "Model/fraud-scorer 1.3.0 on local-cpu: update -> rolled_back by watch" in evidence
    assert "objective errorRate <= 0.001: burn rate" in evidence
    history = evidence[evidence.index("$ specops history Model/fraud-scorer"):]
    assert [line.split()[3] for line in history.splitlines()[2:7]] == ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.1.0"]
    assert "rolled_back by analysis" in history and history.count("rolled_back by watch") == 2
    # As the issue asks it: --repo is the demo's workdir (its repository is workdir/estate).
    code, csv, err = run_cli("audit", "--repo", str(tmp_path), "--format", "csv")
    assert code == 0, err
    rows = [r for r in csv_rows(csv) if r["outcome"] != "FINDING"]
    assert sorted((r["resource"], r["action"], r["outcome"]) for r in rows[:6]) == sorted(
        (rid, "create", "applied") for rid in ("Target/local-cpu", "Dataset/transactions", "Guardrail/feature-ranges",
                                               "Model/fraud-scorer", "Prompt/fraud-case-summary", "SLO/fraud-scorer")
    )  # fmt: skip
    assert [(r["version"], r["action"], r["outcome"], r["outcome_by"]) for r in rows[6:]] == [
        ("1.1.0", "update", "promoted", ""), ("1.2.0", "update", "rolled_back", "analysis"),
        ("1.3.0", "update", "rolled_back", "watch"), ("1.1.0", "rollback", "rolled_back", "watch"),
    ]  # fmt: skip
    assert rows[7]["objective"].startswith("guardrail block rate") and float(rows[7]["measured"]) > 0.05
    assert rows[8]["objective"].startswith("errorRate <= 0.001: burn rate")
    assert all("SO-MODEL-005:pass" in r["policies"] for r in rows[:9]) and rows[9]["holder"].startswith("watch@")
    assert "specops serve exited" not in result.stderr, result.stderr
