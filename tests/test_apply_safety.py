"""Safety: stale and tampered plans are refused, one apply at a time, a killed apply is recovered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from specops.apply import LocalTarget
from tests._gitutil import edit
from tests.test_apply_helpers import (  # noqa: F401 (fixtures)
    TEST_ANALYSIS,
    TOKEN_ENV,
    commit_version,
    estate,
    journal_events,
    live_model,
    live_state,
    run_cli,
    target,
    token,
    wait_for,
)

MODEL = "specs/models/fraud-scorer.yaml"


def _slow_analysis(repo: Path, deadline: str) -> None:
    """Analysis that needs more traffic than anyone sends: the runner waits at the 10% step."""
    edit(repo, MODEL, TEST_ANALYSIS, f"analysis: {{slo: fraud-scorer, minRequests: 100000, interval: 50ms, deadline: {deadline}}}")


def _spawn_apply(repo: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "specops", "apply", "--repo", str(repo), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_stale_and_tampered_plans_are_refused(estate: Path, target: LocalTarget, tmp_path: Path) -> None:  # noqa: F811
    plan = tmp_path / "plan.json"
    assert run_cli("plan", "--repo", str(estate), "--out", str(plan))[0] == 0
    # Live state moves (another apply of the same plan got there first).
    assert run_cli("apply", str(plan), "--repo", str(estate))[0] == 0
    code, _, err = run_cli("apply", str(plan), "--repo", str(estate))
    assert code == 1
    assert "live state moved since the plan was made: target local-cpu is at revision" in err
    assert "re-plan with `specops plan --ref HEAD --out PLAN_FILE`" in err

    # Desired state moves: a commit after the plan was made.
    assert run_cli("plan", "--repo", str(estate), "--out", str(plan))[0] == 0
    edit(estate, "specs/slos/fraud-scorer.yaml", "thresholdMs: 50", "thresholdMs: 60")
    code, _, err = run_cli("apply", str(plan), "--repo", str(estate))
    assert code == 1 and "desired state moved since the plan was made: HEAD is at commit" in err

    # A plan edited by hand (here: its policy verdict) no longer matches its id.
    assert run_cli("plan", "--repo", str(estate), "--out", str(plan))[0] == 0
    doc = json.loads(plan.read_text())
    doc["summary"]["update"] += 1
    plan.write_text(json.dumps(doc))
    code, _, err = run_cli("apply", str(plan), "--repo", str(estate))
    assert code == 1 and "was modified after it was made" in err
    revision = live_state(target)["revision"]
    assert run_cli("apply", "--auto-approve", "--repo", str(estate))[0] == 0
    assert live_state(target)["revision"] != revision


def test_second_apply_is_refused_naming_the_lease_holder(estate: Path, target: LocalTarget) -> None:  # noqa: F811
    assert run_cli("apply", "--auto-approve", "--repo", str(estate))[0] == 0
    commit_version(estate, "1.1.0")
    _slow_analysis(estate, "10s")  # long enough that the second apply comes while the first holds the lease
    first = _spawn_apply(estate, "--auto-approve")
    client = target.driver()
    wait_for(lambda: client.lease_info().get("holder"), what="the first apply's lease")
    code, _, err = run_cli("apply", "--auto-approve", "--repo", str(estate))
    assert code == 1
    assert f"target local-cpu: lease held by apply@{os.uname().nodename}:{first.pid} until 20" in err
    out, err = first.communicate(timeout=60)
    # Nobody sent traffic: the canary stayed Inconclusive past its deadline and rolled back.
    assert first.returncode == 1, out + err
    assert "stayed Inconclusive for 10s" in err and "rolled back to 1.0.0" in err
    assert live_model(target)["serving"] == {"1.0.0": 100}
    assert client.lease_info().get("holder") is None
    client.close()


def test_killed_apply_is_recovered_by_the_next(estate: Path, target: LocalTarget, tmp_path: Path) -> None:  # noqa: F811
    assert run_cli("apply", "--auto-approve", "--repo", str(estate))[0] == 0
    commit_version(estate, "1.1.0")
    _slow_analysis(estate, "5m")
    plan = tmp_path / "plan.json"
    assert run_cli("plan", "--repo", str(estate), "--out", str(plan))[0] == 0
    journal = estate / ".git" / "specops" / "journal.jsonl"
    victim = _spawn_apply(estate, str(plan))
    wait_for(lambda: live_model(target)["serving"] == {"1.0.0": 90, "1.1.0": 10}, what="the 10% canary step")
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    # Half-routed now, and the status says so.
    code, out, _ = run_cli("status", "--repo", str(estate), "--format", "json")
    model = {r["id"]: r for r in json.loads(out)["resources"]}["Model/fraud-scorer"]
    assert model["health"] == "Progressing" and model["traffic"] == {"1.0.0": 90, "1.1.0": 10}

    # The next apply (of the same, now stale, plan) takes over the dead holder's lease,
    # rolls the unjudged canary back, and refuses the stale plan.
    code, out, err = run_cli("apply", str(plan), "--repo", str(estate))
    assert code == 1
    assert "recovered an interrupted apply (1 change(s) made consistent); live state moved" in err
    assert "Model/fraud-scorer on local-cpu: rolled_back" in out
    status = live_model(target)
    assert status["serving"] == {"1.0.0": 100} and status["version"] == "1.0.0" and not status.get("shadow")
    events = journal_events(journal)
    recovery = [e for e in events if e["event"] in ("recovery", "apply.recovered")]
    assert [e["outcome"] for e in recovery] == ["rolled_back", "recovered"]
    assert recovery[0]["apply_id"] == next(e for e in events if e["event"] == "apply.start" and e["holder"].endswith(f":{victim.pid}"))["apply_id"]

    # With analysis that can conclude, the next apply rolls the version out for good.
    edit(estate, MODEL, "analysis: {slo: fraud-scorer, minRequests: 100000, interval: 50ms, deadline: 5m}", TEST_ANALYSIS)
    code, out, err = run_cli("apply", "--auto-approve", "--repo", str(estate), "--traffic", "250")
    assert code == 0, out + err
    assert live_model(target)["serving"] == {"1.1.0": 100}


def test_plan_blocked_by_policy_is_refused(estate: Path, target: LocalTarget, tmp_path: Path) -> None:  # noqa: F811
    from tests._gitutil import commit

    assert run_cli("apply", "--auto-approve", "--repo", str(estate))[0] == 0
    # The estate carries the project's own policy library (as the demo's does);
    # a new artifact under the same version breaks SO-MODEL-005.
    assert (estate / "specops.yaml").is_file() and (estate / "policies" / "model_version_bump.rego").is_file()
    edit(estate, MODEL, "fraud-scorer-1.0.0.onnx", "fraud-scorer-1.1.0.onnx")
    sha = __import__("hashlib").sha256((estate / "specs/artifacts/fraud-scorer-1.1.0.onnx").read_bytes()).hexdigest()
    text = (estate / MODEL).read_text()
    old_sha = next(line for line in text.splitlines() if "sha256:" in line).split()[-1]
    commit(estate, {MODEL: text.replace(old_sha, sha)}, "new artifact, same version")
    plan = tmp_path / "plan.json"
    code, out, err = run_cli("plan", "--repo", str(estate), "--out", str(plan))
    assert code == 1 and plan.exists(), out + err
    code, _, err = run_cli("apply", str(plan), "--repo", str(estate))
    assert code == 1
    assert "is blocked by policy: Model/fraud-scorer: model fraud-scorer: the artifact changed but the version is still 1.0.0" in err
    assert "[SO-MODEL-005]" in err
    code, _, err = run_cli("apply", "--auto-approve", "--repo", str(estate))
    assert code == 1 and "blocked by policy" in err
    assert live_model(target)["serving"] == {"1.0.0": 100}
