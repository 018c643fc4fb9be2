"""``specops show PLAN_FILE``: a saved plan renders exactly as the plan command printed it, in every
format, without planning again; the plan workflow plans once and renders SARIF and annotations
from the file."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest
from ruamel.yaml import YAML

from specops._cli import main
from specops.plan._render import FORMATS
from tests.helpers.git import commit
from tests.test_policy import make_direct, plan_cli
from tests.test_policy import project as policy_project

__all__ = ["policy_project"]  # fixture

REPO_ROOT = Path(__file__).resolve().parent.parent


def _show(path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["show", str(path), "--format", fmt])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("fmt", FORMATS)
def test_show_renders_a_blocked_plan_as_plan_printed_it(
    policy_project: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_direct(policy_project)  # SO-MODEL-002 denies it: results in every format
    saved = policy_project.parent / "plan.json"
    code, printed, _ = plan_cli(policy_project, "--out", str(saved), "--format", fmt, capsys=capsys)
    assert code == 1, "blocked"
    assert "SO-MODEL-002" in printed
    shown_code, shown, err = _show(saved, fmt, capsys)
    assert (shown_code, err) == (0, "")
    assert shown == printed


@pytest.mark.parametrize("no_policy", [False, True])
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_plan_no_policy_judged_says_so_in_every_format_and_shows_the_same(
    example_repo: Path, tmp_path: Path, fmt: str, no_policy: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    live = tmp_path / "empty.json"
    live.write_text(json.dumps({"format_version": 1, "targets": []}))
    saved = tmp_path / "plan.json"
    extra = ["--no-policy"] if no_policy else []
    code = main(["plan", "--repo", str(example_repo), "--live", str(live), "--out", str(saved), "--format", fmt,
                 *extra])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    if fmt == "json":  # the plan document records why
        expected = '"policy_absent": "skipped"' if no_policy else '"policy_absent": "none_configured"'
    else:
        expected = "skipped with --no-policy" if no_policy else "no policies configured"
    assert expected in printed
    assert json.loads(saved.read_text())["policy_absent"] == ("skipped" if no_policy else "none_configured")
    if fmt == "sarif":
        assert json.loads(printed)["runs"][0]["properties"]["policies"] == "none"
    assert _show(saved, fmt, capsys)[1] == printed


def test_show_refuses_what_is_not_a_plan_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edited = tmp_path / "plan.json"
    edited.write_text('{"plan_id": "x", "resource_changes": []}')
    code, out, err = _show(edited, "text", capsys)
    assert code == 1 and out == ""
    assert err.startswith(f"error: {edited} was modified after it was made") and err.count("\n") == 1
    code, _, err = _show(tmp_path / "missing.json", "json", capsys)
    assert code == 1 and "cannot read plan" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_plan_workflow_plans_once_and_renders_from_the_file(tmp_path: Path) -> None:
    """The workflow's `specops plan` step, run as GitHub would, with every specops call recorded."""
    repo = tmp_path / "estate"
    assert main(["init", str(repo)]) == 0
    pygit2.init_repository(str(repo), initial_head="main")
    target = repo / "specs/targets/local.yaml"
    commit(repo, {"specs/targets/local.yaml": target.read_text().replace("8480", str(_free_port()))}, "init")
    base = str(pygit2.Repository(str(repo)).head.target)
    model = repo / "specs/models/churn-scorer.yaml"
    commit(repo, {"specs/models/churn-scorer.yaml": model.read_text().replace("minRequests: 100", "minRequests: 200")})

    shim = tmp_path / "bin"
    shim.mkdir()
    log = tmp_path / "calls.log"
    real = Path(sys.executable).parent / "specops"
    (shim / "specops").write_text(f'#!/bin/bash\necho "$*" >> {log}\nexec {real} "$@"\n')
    (shim / "specops").chmod(0o755)
    workflow = YAML(typ="safe").load((REPO_ROOT / ".github/workflows/specops-plan.yml").read_text())
    (step,) = [s for j in workflow["jobs"].values() for s in j["steps"] if s.get("name") == "specops plan"]
    output, summary = tmp_path / "out", tmp_path / "summary"
    output.write_text("")
    summary.write_text("")
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", "BASE_SHA": base,
           "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}  # fmt: skip
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                            cwd=repo, env=env, capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert [c.split()[0] for c in calls] == ["plan", "show", "show"], calls
    assert output.read_text() == "status=0\n"
    plan = json.loads((repo / "plan.json").read_text())
    assert [c["id"] for c in plan["resource_changes"] if c["actions"] == ["unknown"]] != []
    sarif = json.loads((repo / "plan.sarif").read_text())
    assert sarif["runs"][0]["properties"]["bundleHash"] == plan["policy"]["bundle_hash"]
    assert "SpecOps policy" in result.stdout  # the annotations went to the log
    assert summary.read_text() == (repo / "plan.md").read_text()
