"""End to end: a real git repository, a real ``specops serve``, real ONNX models.

Apply the estate; commit a new model version and watch the canary promote
it; commit a broken export of it and watch its canary roll back by itself.
"""

from __future__ import annotations

from pathlib import Path

from specops.apply import LocalTarget
from tests.helpers.cli import run_cli
from tests.helpers.serve import (
    commit_version,
    journal_events,
    live_model,
)


def test_apply_promote_and_roll_back(estate: Path, target: LocalTarget, tmp_path: Path) -> None:
    journal = estate / ".git" / "specops" / "journal.jsonl"
    code, out, err = run_cli("apply", "--auto-approve", "--repo", str(estate))
    assert code == 0, err
    assert "Apply complete: 6 change(s)" in out
    status = live_model(target)
    assert status["version"] == "1.0.0" and status["serving"] == {"1.0.0": 100}

    code, out, err = run_cli("status", "--repo", str(estate), "--detailed-exitcode")
    assert code == 0, out + err
    assert "6/6 synced, 6/6 healthy." in out

    # A new version: plan, save, apply the saved plan with generated traffic.
    commit_version(estate, "1.1.0")
    plan = tmp_path / "plan.json"
    code, out, err = run_cli("plan", "--repo", str(estate), "--out", str(plan))
    assert code == 0, err
    code, out, err = run_cli("apply", str(plan), "--repo", str(estate), "--traffic", "250")
    assert code == 0, out + err
    assert "10% of traffic on 1.1.0" in out and "analysis at 50%: Successful" in out
    assert "0 failed" in out, out
    status = live_model(target)
    assert status["version"] == "1.1.0" and status["serving"] == {"1.1.0": 100} and not status.get("shadow")
    analyses = [e for e in journal_events(journal) if e["event"] == "analysis"]
    assert [a["detail"]["step"] for a in analyses] == ["10%", "50%", "100%"]
    assert all(a["outcome"] == "Successful" and a["detail"]["requests"] >= 50 for a in analyses)

    # A broken export (outputs 100x too large): the output guardrail blocks its answers, so its
    # canary fails on the guardrail block rate and rolls back; 1.1.0 serves everything.
    commit_version(estate, "1.2.0", broken=True)
    code, out, err = run_cli("apply", "--auto-approve", "--repo", str(estate), "--traffic", "250")
    assert code == 1
    assert "Model/fraud-scorer on local-cpu: analysis at 10% Failed: objective guardrail block rate <= baseline" in err
    assert "measured 1 (limit 0.05" in err
    assert "(failed measurement 3; analysis.failureLimit tolerates 2); rolled back to 1.1.0" in err
    assert out.count("measurement Failed") == 2, out
    status = live_model(target)
    assert status["serving"] == {"1.1.0": 100} and status["version"] == "1.1.0" and not status.get("shadow")
    events = journal_events(journal)
    assert [e["event"] for e in events[-7:]] == [
        "analysis.measurement", "analysis.measurement", "analysis", "rollback", "rollout.step", "change.failed", "apply.failed",
    ]  # fmt: skip
    assert [e["detail"]["failures"] for e in events[-7:-5]] == [1, 2]
    assert all({"plan_id", "commit", "apply_id", "ts"} <= e.keys() for e in events)
    assert "test-admin-token" not in journal.read_text(), "secrets never reach the journal"

    code, out, err = run_cli("status", "--repo", str(estate), "--format", "json")
    assert code == 0
    import json

    rows = {r["id"]: r for r in json.loads(out)["resources"]}
    model = rows["Model/fraud-scorer"]
    assert (model["sync"], model["health"], model["traffic"]) == ("OutOfSync", "Healthy", {"1.1.0": 100})
    assert model["providers"] == ["CPUExecutionProvider"]
    # The target recorded the rollback: status explains it and the next plan does not propose 1.2.0 again.
    assert live_model(target)["rolled_back"]["1.2.0"]["by"] == "analysis"
    assert model["message"].startswith("1.2.0 rolled back at ") and "guardrail block rate" in model["message"]
    code, out, err = run_cli("plan", "--repo", str(estate), "--no-policy")
    assert code == 0 and "Model/fraud-scorer 1.2.0 was rolled back on local-cpu" in out
