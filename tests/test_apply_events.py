"""``apply --format json`` streams one event per line as each step happens, every event with a
``format_version``, and ends with one ``result`` event holding the apply's outcome. A real target,
a real canary; the stream is read from a subprocess while it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from specops.apply import LocalTarget
from tests.helpers.cli import run_cli
from tests.helpers.serve import commit_version, journal_events, live_model


def test_a_canary_streams_its_steps_then_the_result(estate: Path, target: LocalTarget, token: str) -> None:
    assert run_cli("apply", "--auto-approve", "--repo", str(estate))[0] == 0
    commit_version(estate, "1.1.0")
    journal = estate / ".git" / "specops" / "journal.jsonl"
    already = len(journal_events(journal))
    lines: list[str] = []
    running_when_first_arrived = False
    with subprocess.Popen(
        [sys.executable, "-m", "specops", "apply", "--auto-approve", "--repo", str(estate), "--format", "json",
         "--traffic", "250"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    ) as proc:  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        # One buffered reader only (communicate() would skip what it had read ahead).
        for line in proc.stdout:
            if not lines:
                running_when_first_arrived = proc.poll() is None
            lines.append(line)
        err = proc.stderr.read()
        proc.wait(timeout=300)
    events = [json.loads(line) for line in lines if line.strip()]
    assert proc.returncode == 0, (err, [(e["event"], e.get("outcome")) for e in events])
    assert running_when_first_arrived, "the first event arrives while the canary still runs"
    assert all(e["format_version"] == 1 for e in events)
    names = [e["event"] for e in events]
    assert names[0] == "apply.start" and names[-1] == "result" and names.count("result") == 1
    assert {"change.start", "rollout.step", "analysis", "change.done", "apply.done"} <= set(names)
    steps = [e["detail"]["step"] for e in events if e["event"] == "analysis"]
    assert steps == ["10%", "50%", "100%"]
    result = events[-1]["result"]
    assert result["outcome"] == "applied" and result["traffic"]["sent"] > 0
    assert [c["outcome"] for c in result["changes"]] == ["promoted"]
    # The stream is the journal, as written.
    written = journal_events(journal)[already:]
    assert [{k: v for k, v in e.items() if k != "format_version"} for e in events[:-1]] == written
    assert token not in "".join(lines) + err
    assert live_model(target)["serving"] == {"1.1.0": 100}


def test_a_refused_apply_ends_its_stream_with_the_failed_result(estate: Path, target: LocalTarget) -> None:
    plan = estate.parent / "plan.json"
    assert run_cli("plan", "--repo", str(estate), "--out", str(plan))[0] == 0
    assert run_cli("apply", "--auto-approve", "--repo", str(estate))[0] == 0  # live moved on
    code, out, err = run_cli("apply", str(plan), "--repo", str(estate), "--format", "json")
    assert code == 1
    events = [json.loads(line) for line in out.splitlines()]
    assert events[-1]["event"] == "result" and events[-1]["format_version"] == 1
    assert events[-1]["result"]["outcome"] == "failed"
    assert events[-1]["result"]["error"] in err
