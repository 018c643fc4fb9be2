"""SARIF as GitHub code scanning reads it: rules with help and a ``security`` tag (without it GitHub
ignores security-severity), and locations inside the repository even for the built-in library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sarif_pydantic import Sarif

from specops.policy._model import PolicyReport, PolicyResult, PolicyRule
from specops.policy._report import github_annotations, sarif_log
from tests.helpers.git import commit
from tests.test_policy import make_direct, plan_cli


@pytest.fixture
def project(example_repo: Path, tmp_path: Path) -> Path:
    """The example estate judged by the library SpecOps ships, named in specops.yaml, not copied."""
    commit(example_repo, {"specops.yaml": "policy:\n  paths:\n    - builtin:specops\n"}, "policies")
    (tmp_path / "live.json").write_text(json.dumps({"format_version": 1, "targets": []}), encoding="utf-8")
    (tmp_path / "context.yaml").write_text('now: "2026-11-02T10:00:00Z"\n', encoding="utf-8")
    return example_repo


def test_sarif_rules_carry_help_and_the_security_tag(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_direct(project)
    code, out, _ = plan_cli(project, "--format", "sarif", capsys=capsys)
    assert code == 1
    data = json.loads(out)
    Sarif.model_validate(data)
    rules = data["runs"][0]["tool"]["driver"]["rules"]
    assert len(rules) == 12
    for rule in rules:
        props = rule["properties"]
        assert "security" in props["tags"], rule["id"]
        assert float(props["security-severity"]) > 0
        assert rule["id"] in rule["help"]["markdown"] and "waivers.yaml" in rule["help"]["markdown"]
        assert rule["fullDescription"]["text"] in rule["help"]["text"]
    canary = next(r for r in rules if r["id"] == "SO-MODEL-002")
    assert canary["properties"]["source"].startswith("builtin:specops/model_canary.rego:")
    assert "severity high" in canary["help"]["text"].lower()
    [result] = data["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "specs/models/fraud-scorer.yaml"


def test_a_result_without_a_spec_points_into_the_repository_not_at_the_builtin_library() -> None:
    rule = PolicyRule("SO-CHANGE-002", "No production changes during a freeze window", "high", "Freeze.",
                      "specops.policies.freeze_window", "builtin:specops/freeze_window.rego", 9)  # fmt: skip
    plan_wide = PolicyResult(rule.id, rule.title, rule.severity, rule.description, "deny", "denied", "frozen",
                             policy_path=rule.path, policy_line=9)  # fmt: skip
    own = PolicyResult("ORG-1", "Own", "low", "Own.", "deny", "denied", "own",
                       policy_path="policies/own.rego", policy_line=4)  # fmt: skip
    report = PolicyReport("embedded", "h", "2026-11-02T10:00:00Z", rules=[rule], results=[plan_wide, own]).finish()
    data = sarif_log(report, fallback="specops.yaml").model_dump(mode="json", by_alias=True, exclude_none=True)
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in data["runs"][0]["results"]]
    assert sorted(uris) == ["policies/own.rego", "specops.yaml"]
    annotations = github_annotations(report, fallback="specops.yaml")
    assert sorted(a.split("file=")[1].split(",")[0] for a in annotations) == ["policies/own.rego", "specops.yaml"]
