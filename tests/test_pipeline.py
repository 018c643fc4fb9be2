"""The one pipeline: settings resolved once, one estate load per ref, and apply doing what the plan shows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import specops.plan._pipeline as pipeline
from specops._git import GitRepo
from specops.apply import LocalTarget
from specops.plan import Plan
from tests.helpers.cli import run_cli
from tests.helpers.git import commit, live_document, save
from tests.helpers.serve import (
    TOKEN_ENV,
    live_state,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Counts repository discoveries and estate loads (by ref) from here on."""
    seen: dict[str, Any] = {"discover": 0, "loads": []}
    discover = GitRepo.discover.__func__  # type: ignore[attr-defined]
    load = pipeline.load_desired

    def counting_discover(cls: type[GitRepo], path: Path | str = ".") -> GitRepo:
        seen["discover"] += 1
        return discover(cls, path)  # type: ignore[no-any-return]

    def counting_load(*args: Any, **kwargs: Any) -> Any:
        seen["loads"].append("worktree" if kwargs.get("worktree") else kwargs.get("ref", "HEAD"))
        return load(*args, **kwargs)

    monkeypatch.setattr(GitRepo, "discover", classmethod(counting_discover))
    monkeypatch.setattr(pipeline, "load_desired", counting_load)
    return seen


def _reset(seen: dict[str, Any]) -> None:
    seen["discover"], seen["loads"] = 0, []


def test_plan_discovers_once_and_loads_once_per_ref(
    example_repo: Path, tmp_path: Path, counts: dict[str, Any]
) -> None:
    import shutil

    shutil.copytree(REPO_ROOT / "policies", example_repo / "policies")
    shutil.copy2(REPO_ROOT / "specops.yaml", example_repo / "specops.yaml")
    shutil.copy2(REPO_ROOT / "waivers.yaml", example_repo / "waivers.yaml")
    commit(example_repo, {"specs/slos/fraud-scorer.yaml": (example_repo / "specs/slos/fraud-scorer.yaml").read_text()})
    live = save(tmp_path / "live.json", live_document(example_repo))
    _reset(counts)
    base = ["plan", "--repo", str(example_repo), "--live", str(live), "--no-cache"]
    assert run_cli(*base)[0] == 0
    assert (counts["discover"], counts["loads"]) == (1, ["HEAD"])
    _reset(counts)
    assert run_cli(*base, "--base", "HEAD")[0] == 0
    assert (counts["discover"], counts["loads"]) == (1, ["HEAD", "HEAD"])
    _reset(counts)
    # --policy-ref reads policies from git at the ref; specs are still read once.
    assert run_cli(*base, "--policy-ref", "HEAD")[0] == 0
    assert (counts["discover"], counts["loads"]) == (1, ["HEAD"])
    _reset(counts)
    assert run_cli(*base, "--worktree")[0] == 0
    assert (counts["discover"], counts["loads"]) == (1, ["worktree"])


def test_apply_and_status_discover_once_and_load_once(
    estate: Path, target: LocalTarget, tmp_path: Path, counts: dict[str, Any]
) -> None:
    _reset(counts)
    assert run_cli("apply", "--auto-approve", "--repo", str(estate))[0] == 0
    assert (counts["discover"], len(counts["loads"])) == (1, 1)
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", "--repo", str(estate), "--out", str(plan_file))[0] == 0
    _reset(counts)
    assert run_cli("apply", str(plan_file), "--repo", str(estate))[0] == 0
    assert (counts["discover"], len(counts["loads"])) == (1, 1)
    _reset(counts)
    assert run_cli("status", "--repo", str(estate))[0] == 0
    assert (counts["discover"], len(counts["loads"])) == (1, 1)


TARGET_EDGE = """\
apiVersion: specops.dev/v1
kind: Target
metadata: {{name: edge}}
spec:
  url: "{url}"
  environment: development
  auth: {{tokenEnv: SPECOPS_LOCAL_TOKEN}}
"""


def test_apply_writes_exactly_where_the_plan_says(
    estate: Path, target: LocalTarget, tmp_path: Path
) -> None:
    """Two targets and a Dataset nothing uses: the plan places it nowhere, and apply puts it nowhere."""
    with LocalTarget("edge", tmp_path / "edge-state", token_env=TOKEN_ENV) as edge:
        dataset = (estate / "specs/datasets/transactions.yaml").read_text()
        commit(estate, {
            "specs/targets/edge.yaml": TARGET_EDGE.format(url=edge.url),
            "specs/datasets/unused.yaml": re.sub(r"(?m)^  name: transactions$", "  name: unused", dataset),
        })  # fmt: skip
        plan_file = tmp_path / "plan.json"
        code, _, err = run_cli("plan", "--repo", str(estate), "--out", str(plan_file))
        assert code == 0, err
        plan = Plan.from_json(plan_file.read_text())
        where = {c.id: set(c.targets) for c in plan.resource_changes}
        assert where["Dataset/unused"] == set()
        assert where["Target/edge"] == {"edge"}
        assert where["Model/fraud-scorer"] == {"local-cpu"}
        code, _, err = run_cli("apply", str(plan_file), "--repo", str(estate))
        assert code == 0, err
        held = {name: set(live_state(t)["resources"]) for name, t in (("local-cpu", target), ("edge", edge))}
        for change in plan.changes():
            landed = {name for name, ids in held.items() if change.id in ids}
            assert landed == set(change.targets), change.id


def test_a_missing_or_empty_specs_root_is_an_error(example_repo: Path, tmp_path: Path) -> None:
    live = save(tmp_path / "live.json", live_document(example_repo))
    for root in ("spec", "specs/targets/local-cpu.yaml"):
        code, out, err = run_cli("plan", "--repo", str(example_repo), "--live", str(live), "--specs-root", root)
        assert code == 1 and out == ""
        assert f"the specs root {root}/" in err and "HEAD (" in err
        assert ("does not exist" in err) if root == "spec" else ("is a file" in err)
    code, _, err = run_cli("plan", "--repo", str(example_repo), "--live", str(live), "--specs-root", "nope", "--worktree")
    assert code == 1 and "does not exist in the work tree" in err


def test_deleting_everything_a_target_runs_needs_allow_empty(example_repo: Path, tmp_path: Path) -> None:
    live = save(tmp_path / "live.json", live_document(example_repo))
    (example_repo / "specs/other").mkdir()
    commit(example_repo, {"specs/other/t.yaml": TARGET_EDGE.format(url="http://127.0.0.1:9")})
    code, _, err = run_cli("plan", "--repo", str(example_repo), "--live", str(live), "--specs-root", "specs/other")
    assert code == 1
    assert "would delete every resource target local-cpu runs (6)" in err and "--allow-empty" in err
    code, out, _ = run_cli(
        "plan", "--repo", str(example_repo), "--live", str(live), "--specs-root", "specs/other", "--allow-empty"
    )
    assert code == 0 and "6 to delete" in out


def test_plan_at_a_ref_warns_about_uncommitted_specs(example_repo: Path, tmp_path: Path) -> None:
    live = save(tmp_path / "live.json", live_document(example_repo))
    path = example_repo / "specs/slos/fraud-scorer.yaml"
    path.write_text(path.read_text().replace("thresholdMs: 50", "thresholdMs: 60"))
    code, _, err = run_cli("plan", "--repo", str(example_repo), "--live", str(live))
    assert code == 0
    assert "uncommitted changes under specs/ (specs/slos/fraud-scorer.yaml)" in err and "--worktree" in err
    code, _, err = run_cli("plan", "--repo", str(example_repo), "--live", str(live), "--worktree")
    assert code == 0 and "uncommitted" not in err


@pytest.mark.parametrize("fmt", ["sarif", "github", "markdown", "json"])
def test_invalid_specs_show_in_every_format_and_write_no_plan(example_repo: Path, tmp_path: Path, fmt: str) -> None:
    live = save(tmp_path / "live.json", live_document(example_repo))
    path = example_repo / "specs/slos/fraud-scorer.yaml"
    commit(example_repo, {"specs/slos/fraud-scorer.yaml": path.read_text().replace("thresholdMs: 50", "thresholdMs: -5")})
    plan_file = tmp_path / "plan.json"
    code, out, _ = run_cli(
        "plan", "--repo", str(example_repo), "--live", str(live), "--format", fmt, "--out", str(plan_file)
    )
    assert code == 1
    assert not plan_file.exists()
    assert "specs/slos/fraud-scorer.yaml" in out and "thresholdMs" in out
    if fmt == "sarif":
        results = json.loads(out)["runs"][0]["results"]
        assert results and results[0]["level"] == "error" and results[0]["ruleId"] == "SPECOPS-SPEC"
        region = results[0]["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] > 1
    elif fmt == "github":
        assert "::error file=specs/slos/fraud-scorer.yaml,line=" in out and "no plan was made" in out
    elif fmt == "markdown":
        assert "no plan was made" in out
    else:
        assert json.loads(out)["valid"] is False


def test_saved_plans_round_trip_byte_for_byte(example_repo: Path, tmp_path: Path) -> None:
    live = save(tmp_path / "live.json", live_document(example_repo))
    out = tmp_path / "plan.json"
    assert run_cli("plan", "--repo", str(example_repo), "--live", str(live), "--out", str(out))[0] == 0
    text = out.read_text()
    assert Plan.from_json(text).dump_json() == text
