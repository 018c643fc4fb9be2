"""Safety: stale and tampered plans are refused, one apply at a time, a killed apply is recovered."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from specops.apply import LocalTarget
from specops.targets import driver_for
from tests.helpers.cli import run_cli
from tests.helpers.git import edit
from tests.helpers.serve import (
    TEST_ANALYSIS,
    TOKEN_ENV,
    commit_version,
    journal_events,
    live_model,
    live_state,
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


def test_stale_and_tampered_plans_are_refused(estate: Path, target: LocalTarget, tmp_path: Path) -> None:
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


def test_second_apply_is_refused_naming_the_lease_holder(estate: Path, target: LocalTarget) -> None:
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


def test_killed_apply_is_recovered_by_the_next(estate: Path, target: LocalTarget, tmp_path: Path) -> None:
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


def test_plan_blocked_by_policy_is_refused(estate: Path, target: LocalTarget, tmp_path: Path) -> None:
    from tests.helpers.git import commit

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


# -- issue 11: a killed apply never locks a target; a revision never repeats ------------------

KILL_POINTS = ["lease.taken", "apply.started", "change.started", "change.made", "apply.done"]
LEAVES_AN_OPEN_APPLY = {"apply.started", "change.started", "change.made"}
DIRECT = "rollout: {strategy: direct}"


def _rollout_block(repo: Path) -> str:
    text = (repo / MODEL).read_text(encoding="utf-8")
    start = text.index("  rollout:")
    end = text.index("  guardrails:")
    return text[start:end]


def _go_direct(repo: Path) -> None:
    edit(repo, MODEL, _rollout_block(repo), f"  {DIRECT}\n")


def _killed_apply(repo: Path, point: str) -> subprocess.CompletedProcess[str]:
    """``apply --auto-approve`` in a subprocess that SIGKILLs itself at ``point`` (if it gets there)."""
    env = {**os.environ, "SPECOPS_TEST_KILL_AT": point}
    return subprocess.run(
        [sys.executable, "-m", "specops", "apply", "--auto-approve", "--no-policy", "--repo", str(repo),
         "--lease-ttl", "3600"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _consistent(repo: Path, target: LocalTarget, version: str) -> None:
    from specops.apply._journal import Journal

    with driver_for("local-cpu", target.url, TOKEN_ENV) as client:
        assert client.lease_info().get("holder") is None
    assert Journal(repo / ".git" / "specops" / "journal.jsonl").open_applies() == []
    status = live_model(target)
    assert status["serving"] == {version: 100} and status["version"] == version and not status.get("shadow")
    code, out, err = run_cli("status", "--repo", str(repo), "--detailed-exitcode")
    assert code == 0, out + err


def test_an_apply_killed_anywhere_never_locks_the_target(estate: Path, target: LocalTarget) -> None:
    """Property: whatever step an apply (and the apply recovering it) dies at, the next one runs at once.

    The killed applies hold an hour-long lease, so only a takeover of their (provably dead)
    holder lets the next apply in; it must then leave the target consistent.
    """
    from hypothesis import HealthCheck, example, given, settings
    from hypothesis import strategies as st

    _go_direct(estate)
    assert run_cli("apply", "--auto-approve", "--no-policy", "--repo", str(estate))[0] == 0
    serial = iter(range(1, 1000))
    state = {"version": "1.0.0"}

    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @example(point="change.made", change="model", recovery_killed=True)
    @example(point="change.started", change="slo", recovery_killed=False)
    @given(
        point=st.sampled_from(KILL_POINTS),
        change=st.sampled_from(["model", "slo"]),
        recovery_killed=st.booleans(),
    )
    def killed_then_next(point: str, change: str, recovery_killed: bool) -> None:
        n = next(serial)
        if change == "model":
            state["version"] = f"1.{n}.0"
            commit_version(estate, state["version"])
        else:
            slo = "specs/slos/fraud-scorer.yaml"
            threshold = next(line for line in (estate / slo).read_text().splitlines() if "thresholdMs" in line)
            old = threshold.split("thresholdMs: ")[1].split("}")[0]
            edit(estate, slo, f"thresholdMs: {old}}}", f"thresholdMs: {100 + n}}}")
        victim = _killed_apply(estate, point)
        assert victim.returncode == -signal.SIGKILL, victim.stdout + victim.stderr
        if recovery_killed:
            recovering = _killed_apply(estate, "recovery.started")
            # Only an interrupted apply gives the next one something to recover.
            expected = -signal.SIGKILL if point in LEAVES_AN_OPEN_APPLY else 0
            assert recovering.returncode == expected, recovering.stdout + recovering.stderr
            if expected == 0:
                assert "took over the lease on local-cpu from apply@" in recovering.stdout
                _consistent(estate, target, state["version"])
                return
        code, out, err = run_cli("apply", "--auto-approve", "--no-policy", "--repo", str(estate))
        assert code == 0, out + err
        assert "took over the lease on local-cpu from apply@" in out and "is gone" in out
        _consistent(estate, target, state["version"])

    killed_then_next()


def test_a_recovery_killed_mid_rollback_is_recovered_again(estate: Path, target: LocalTarget) -> None:
    assert run_cli("apply", "--auto-approve", "--repo", str(estate))[0] == 0
    commit_version(estate, "1.1.0")
    _slow_analysis(estate, "5m")
    victim = _spawn_apply(estate, "--auto-approve", "--lease-ttl", "3600")
    wait_for(lambda: live_model(target)["serving"] == {"1.0.0": 90, "1.1.0": 10}, what="the 10% canary step")
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    # The next apply takes over, rolls the canary back, and dies before journaling that.
    recovering = _killed_apply(estate, "recovery.rolled_back")
    assert recovering.returncode == -signal.SIGKILL, recovering.stdout + recovering.stderr
    assert "took over the lease on local-cpu from apply@" in recovering.stdout
    assert live_model(target)["serving"] == {"1.0.0": 100}
    with driver_for("local-cpu", target.url, TOKEN_ENV) as client:
        holder = client.lease_info()["holder"]
    assert holder != f"apply@{os.uname().nodename}:{victim.pid}"
    # The one after that takes over from it, finds the rollback made, and rolls out.
    _go_direct(estate)
    code, out, err = run_cli("apply", "--auto-approve", "--no-policy", "--repo", str(estate))
    assert code == 0, out + err
    assert f"took over the lease on local-cpu from {holder}, a dead process" in out
    assert "Model/fraud-scorer on local-cpu: not_applied" in out
    _consistent(estate, target, "1.1.0")


def test_a_plan_against_a_wiped_target_is_refused_as_stale(estate: Path, target: LocalTarget, tmp_path: Path) -> None:
    import shutil

    assert run_cli("apply", "--auto-approve", "--repo", str(estate))[0] == 0
    edit(estate, "specs/slos/fraud-scorer.yaml", "thresholdMs: 50", "thresholdMs: 60")
    plan = tmp_path / "plan.json"
    assert run_cli("plan", "--repo", str(estate), "--out", str(plan))[0] == 0
    planned = json.loads(plan.read_text())["live"]["local-cpu"]["revision"]
    # The target's state directory is wiped and the target rebuilt with the same changes.
    target.stop()
    shutil.rmtree(target.state_dir)
    target.start()
    assert run_cli("apply", "--auto-approve", "--repo", str(estate))[0] == 0
    with driver_for("local-cpu", target.url, TOKEN_ENV) as client:
        rebuilt = client.live_state()["revision"]
    # It made as many changes as the old one had when the plan was made: a per-directory
    # counter alone would repeat the revision and let the old plan through.
    assert rebuilt.rpartition("-")[2] == planned.rpartition("-")[2]
    assert rebuilt != planned
    code, _, err = run_cli("apply", str(plan), "--repo", str(estate))
    assert code == 1
    assert f"live state moved since the plan was made: target local-cpu is at revision {rebuilt}, the plan saw {planned}" in err


def test_a_holder_is_dead_only_when_this_machine_proves_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from specops.apply import _leases
    from specops.apply._leases import holder_identity, holder_is_dead

    me = holder_identity()
    assert {"host", "boot_id", "pid_ns", "pid", "start_time"} <= set(me)
    assert holder_is_dead(me) == (False, f"its holder (pid {os.getpid()}) is still running")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        other = holder_identity(child.pid)
        assert holder_is_dead(other)[0] is False
    finally:
        child.kill()
        child.wait()
    assert holder_is_dead(other) == (True, f"pid {child.pid} is gone")
    # The pid now names another process (a reused pid): its start time gives it away.
    assert holder_is_dead({**me, "start_time": me["start_time"] - 1})[0] is True
    # Anything short of proof is not death.
    for identity, reason in [
        (None, "no holder identity"),
        ({**me, "host": "elsewhere"}, "another host (elsewhere)"),
        ({**me, "pid": child.pid, "boot_id": "another-boot"}, "another boot"),
        ({**me, "pid": child.pid, "pid_ns": "pid:[1]"}, "another PID namespace"),
        ({k: v for k, v in me.items() if k != "start_time"} | {"pid": child.pid}, "no pid and start time"),
        ({**me, "pid": "7"}, "no pid and start time"),
    ]:
        dead, why = holder_is_dead(identity)
        assert dead is False and reason in why, (identity, why)
    # A /proc that hides a live process (hidepid) proves nothing either.
    monkeypatch.setattr(_leases, "process_start_time", lambda pid: None if pid == os.getpid() else 1)
    assert holder_is_dead(me) == (False, f"pid {os.getpid()} runs and its start time cannot be read")


def test_a_lease_held_by_a_live_process_says_when_it_expires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from specops.apply._leases import LeaseBlockedError, holder_identity, take
    from specops.apply._rollout import TargetSession
    from tests.test_serve_kit import TOKEN, start

    running = start(tmp_path / "state")
    monkeypatch.setenv("SPECOPS_TRUST_TEST_TOKEN", TOKEN)
    try:
        first = driver_for("t", running.url, "SPECOPS_TRUST_TEST_TOKEN")
        first.acquire("apply@first", 600, identity=holder_identity())
        second = TargetSession("t", driver_for("t", running.url, "SPECOPS_TRUST_TEST_TOKEN"))
        try:
            take(second, "apply@second", 60, holder_identity())
            raise AssertionError("the lease of a live holder was taken")
        except LeaseBlockedError as exc:
            message = str(exc)
        assert "lease held by apply@first until 20" in message
        assert re.search(r" \(in (59\d|600) s\); ", message), message
        assert f"its holder (pid {os.getpid()}) is still running" in message
        remote = {**holder_identity(), "host": "db-7"}
        first.acquire("apply@first", 600, identity=remote)
        with pytest.raises(LeaseBlockedError, match=r"its holder runs on another host \(db-7\)"):
            take(second, "apply@second", 60, holder_identity())
        assert first.lease_info()["holder"] == "apply@first"
        first.close()
        second.client.close()
    finally:
        running.stop()
