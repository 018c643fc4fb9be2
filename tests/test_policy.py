"""Policies on every plan: real Rego (regorus), real git repositories, the built-in library."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sarif_pydantic import Sarif

from specops._cli import main
from specops._errors import SpecError
from specops._git import GitRepo
from specops.plan import make_plan
from specops.policy._bundle import PolicyLoadError, load_bundle
from specops.policy._check import PolicyOptions, check_plan
from specops.policy._engine import EmbeddedEngine
from specops.policy._evaluate import DecisionCache
from tests.helpers.git import commit, edit, estate_of

REPO_ROOT = Path(__file__).resolve().parent.parent
POLICIES = REPO_ROOT / "policies"
MODEL = "specs/models/fraud-scorer.yaml"
PROMPT = "specs/prompts/fraud-case-summary.yaml"
NOW = "2026-11-02T10:00:00Z"
EMPTY_LIVE = {"format_version": 1, "targets": []}


@pytest.fixture
def project(example_repo: Path, tmp_path: Path) -> Path:
    """The example estate with the built-in library and a context file fixing the time."""
    shutil.copytree(POLICIES, example_repo / "policies")
    commit(example_repo, {"specops.yaml": "policy:\n  paths: [policies]\n"}, "policies")
    (tmp_path / "live.json").write_text(json.dumps(EMPTY_LIVE), encoding="utf-8")
    (tmp_path / "context.yaml").write_text(f"now: \"{NOW}\"\n", encoding="utf-8")
    return example_repo


def plan_cli(repo: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    tmp = repo.parent
    code = main(
        ["plan", "--repo", str(repo), "--live", str(tmp / "live.json"), "--context", str(tmp / "context.yaml"),
         "--no-cache", *extra]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def make_direct(repo: Path) -> None:
    edit(repo, MODEL, "  rollout:\n    strategy: canary\n    steps: [10, 50, 100]\n", "  rollout:\n    strategy: direct\n")


# -- the example estate ------------------------------------------------------------


def test_example_estate_passes_every_built_in_policy(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = plan_cli(project, "--format", "json", capsys=capsys)
    assert code == 0
    plan = json.loads(out)
    policy = plan["policy"]
    assert policy["blocked"] is False
    assert policy["results"] == []
    assert len(policy["rules"]) == 12
    # one decision per changed resource, and one for the plan as a whole
    assert len(policy["decisions"]) == plan["summary"]["create"] + 1
    assert {d["scope"] for d in policy["decisions"]} == {"resource", "plan"}
    assert all(d["bundle_hash"] == policy["bundle_hash"] for d in policy["decisions"])
    assert policy["evaluated_at"] == NOW


def test_violation_blocks_the_plan_and_points_at_the_field(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_direct(project)
    code, out, _ = plan_cli(project, "--format", "json", capsys=capsys)
    assert code == 1
    policy = json.loads(out)["policy"]
    assert policy["blocked"] is True
    [result] = policy["results"]
    assert result["rule"] == "SO-MODEL-002"
    assert result["status"] == "denied"
    assert result["title"] == "Production models roll out as canaries"
    assert result["severity"] == "high"
    assert result["resource"] == "Model/fraud-scorer"
    assert result["field"] == "spec.rollout.strategy"
    lines = (project / MODEL).read_text().splitlines()
    assert result["path"] == MODEL
    assert lines[result["line"] - 1].strip() == "strategy: direct"
    assert result["policy_path"] == "policies/model_canary.rego"


def test_text_and_markdown_show_the_policy_results(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_direct(project)
    code, out, _ = plan_cli(project, capsys=capsys)
    assert code == 1
    assert f"DENY SO-MODEL-002 {MODEL}:" in out
    assert "Policies: BLOCKED" in out
    code, out, _ = plan_cli(project, "--format", "markdown", capsys=capsys)
    assert code == 1
    assert "| ⛔ deny | SO-MODEL-002 Production models roll out as canaries |" in out


def test_sarif_validates_and_points_at_the_spec_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_direct(project)
    code, out, _ = plan_cli(project, "--format", "sarif", capsys=capsys)
    assert code == 1
    data = json.loads(out)
    log = Sarif.model_validate(data)  # sarif-pydantic's SARIF 2.1.0 object model
    assert log.version == "2.1.0"
    assert data["$schema"].endswith("sarif-2.1.0.json")
    run = data["runs"][0]
    assert run["tool"]["driver"]["name"] == "SpecOps"
    [result] = run["results"]
    assert result["ruleId"] == "SO-MODEL-002"
    assert result["level"] == "error"
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "SO-MODEL-002"
    where = result["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"] == MODEL
    line = (project / MODEL).read_text().splitlines()[where["region"]["startLine"] - 1]
    assert "strategy: direct" in line
    assert where["region"]["startColumn"] == line.index("direct") + 1


def test_github_annotations_sit_on_the_spec_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_direct(project)
    code, out, _ = plan_cli(project, "--format", "github", capsys=capsys)
    assert code == 1
    first = out.splitlines()[0]
    line = next(i for i, t in enumerate((project / MODEL).read_text().splitlines(), 1) if "strategy: direct" in t)
    assert first.startswith(f"::error file={MODEL},line={line},col=")
    assert "title=SO-MODEL-002%3A Production models roll out as canaries::" in first
    assert out.splitlines()[-1].startswith("::notice title=SpecOps policy::policy check blocked")


def test_plan_id_covers_the_policy_section(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_direct(project)
    _, out, _ = plan_cli(project, "--format", "json", capsys=capsys)
    with_policy = json.loads(out)
    _, out, _ = plan_cli(project, "--format", "json", "--no-policy", capsys=capsys)
    without = json.loads(out)
    assert without["policy"] is None
    assert with_policy["plan_id"] != without["plan_id"]
    _, out, _ = plan_cli(project, "--format", "json", capsys=capsys)
    assert json.loads(out)["plan_id"] == with_policy["plan_id"]  # same inputs, same id


# -- waivers ------------------------------------------------------------------------


def waiver(expires: str) -> str:
    return (
        "waivers:\n"
        "  - rule: SO-MODEL-002\n"
        "    resource: Model/fraud-*\n"
        "    owner: risk-ml-lead\n"
        "    justification: canary analysis is being rebuilt (RISK-123)\n"
        f"    expires: {expires}\n"
    )


def test_waiver_in_force_turns_the_denial_into_a_waived_result(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_direct(project)
    commit(project, {"waivers.yaml": waiver("2026-12-31"),
                     "specops.yaml": "policy:\n  paths: [policies]\n  waivers: waivers.yaml\n"})
    code, out, _ = plan_cli(project, "--format", "json", capsys=capsys)
    assert code == 0
    policy = json.loads(out)["policy"]
    [result] = policy["results"]
    assert result["status"] == "waived"
    assert result["waiver"]["owner"] == "risk-ml-lead"
    assert result["waiver"]["path"] == "waivers.yaml"
    assert result["waiver"]["line"] == 2
    assert policy["counts"]["waived"] == 1
    code, out, _ = plan_cli(project, "--format", "sarif", capsys=capsys)
    suppression = json.loads(out)["runs"][0]["results"][0]["suppressions"][0]
    assert suppression["kind"] == "external" and "RISK-123" in suppression["justification"]


def test_expired_waiver_is_an_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_direct(project)
    commit(project, {"waivers.yaml": waiver("2026-11-01")})  # the day before NOW
    code, out, _ = plan_cli(project, "--format", "json", "--waivers", str(project / "waivers.yaml"), capsys=capsys)
    assert code == 1
    results = json.loads(out)["policy"]["results"]
    rules = {r["rule"]: r for r in results}
    assert rules["SPECOPS-WAIVER-EXPIRED"]["status"] == "denied"
    assert "expired on 2026-11-01" in rules["SPECOPS-WAIVER-EXPIRED"]["message"]
    assert rules["SPECOPS-WAIVER-EXPIRED"]["line"] == 2
    assert rules["SO-MODEL-002"]["status"] == "denied"  # an expired waiver waives nothing


def test_bad_waiver_file_names_file_line_and_field(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commit(project, {"waivers.yaml": waiver("31/12/2026").replace("owner:", "ownr:")})
    code, _, err = plan_cli(project, "--waivers", str(project / "waivers.yaml"), capsys=capsys)
    assert code == 1
    assert "waivers.yaml:4:5: error: waivers[0].ownr: unknown field 'ownr' (did you mean 'owner'?)" in err
    assert "waivers.yaml:6:14: error: waivers[0].expires: expected a date YYYY-MM-DD" in err


# -- approvals, enforcement, context ---------------------------------------------------


def test_replacing_production_needs_owner_approval_from_the_pull_request(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = "policy:\n  paths: [policies]\n  data:\n    teams: {risk-ml: [alice]}\n"
    commit(project, {"specops.yaml": data})
    from tests.helpers.git import live_document

    doc = live_document(project)
    doc["resources"]["Model/fraud-scorer"]["spec"]["spec"]["signature"]["inputs"][0]["dtype"] = "float64"
    (tmp_path / "live.json").write_text(json.dumps(doc), encoding="utf-8")
    code, out, _ = plan_cli(project, "--format", "json", capsys=capsys)
    plan = json.loads(out)
    changes = {c["id"]: c["actions"] for c in plan["resource_changes"]}
    if changes.get("Model/fraud-scorer") != ["delete", "create"]:
        pytest.fail(f"expected a replace of the model, got {changes}")
    [result] = [r for r in plan["policy"]["results"] if r["rule"] == "SO-CHANGE-001"]
    assert code == 1 and result["status"] == "pending_approval"
    assert result["approvers"] == ["risk-ml"]
    # the author's own approval does not count; a team member's does
    (tmp_path / "context.yaml").write_text(
        f"now: \"{NOW}\"\npull_request: {{number: 7, author: alice, approvals: [alice]}}\n", encoding="utf-8"
    )
    code, out, _ = plan_cli(project, "--format", "json", capsys=capsys)
    assert code == 1
    (tmp_path / "context.yaml").write_text(
        f"now: \"{NOW}\"\npull_request: {{number: 7, author: carol, approvals: [alice], labels: [risk]}}\n",
        encoding="utf-8",
    )
    code, out, _ = plan_cli(project, "--format", "json", capsys=capsys)
    policy = json.loads(out)["policy"]
    [result] = [r for r in policy["results"] if r["rule"] == "SO-CHANGE-001"]
    assert code == 0 and result["status"] == "approved" and result["approved_by"] == ["alice"]
    assert policy["context"]["pull_request"]["labels"] == ["risk"]


def test_enforcement_override_turns_a_deny_into_a_warning(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_direct(project)
    commit(project, {"specops.yaml": "policy:\n  paths: [policies]\n  enforcement: {SO-MODEL-002: warn}\n"})
    code, out, _ = plan_cli(project, "--format", "json", capsys=capsys)
    [result] = json.loads(out)["policy"]["results"]
    assert code == 0
    assert (result["status"], result["enforcement"], result["outcome"]) == ("warned", "warn", "deny")


def test_policy_ref_judges_a_change_by_the_policies_of_its_base(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = GitRepo.discover(project).head_commit()
    assert base is not None
    # One change that breaks SO-MODEL-002, switches that rule off and deletes its policy file.
    make_direct(project)
    commit(
        project,
        {"specops.yaml": "policy:\n  paths: [policies]\n  enforcement: {SO-MODEL-002: 'off'}\n",
         "policies/model_canary.rego": None},
        "relax the canary rule",
    )  # fmt: skip
    code, out, _ = plan_cli(project, "--format", "json", capsys=capsys)
    assert code == 0, "judged by its own (weakened) policies, the change passes"
    assert json.loads(out)["policy"]["blocked"] is False
    assert json.loads(out)["policy"]["source"] is None, "read from the work tree"
    code, out, _ = plan_cli(project, "--format", "json", "--policy-ref", base, capsys=capsys)
    assert code == 1, "judged by the base's policies, it is blocked"
    assert json.loads(out)["policy"]["source"] == {"ref": base, "commit": base}
    [result] = json.loads(out)["policy"]["results"]
    assert (result["rule"], result["status"]) == ("SO-MODEL-002", "denied")
    assert result["policy_path"] == "policies/model_canary.rego"
    assert result["path"] == MODEL, "the spec is still located in the plan's tree"
    assert (project / "specops.yaml").read_text().count("'off'") == 1, "the work tree is untouched"
    code, out, _ = plan_cli(project, "--policy-ref", "HEAD~2", capsys=capsys)  # before both commits
    assert code == 1 and f"[policies from HEAD~2 at {base[:12]}]" in out
    # Paths given with --policy-ref are read from git, so they must be repository-relative.
    code, _, err = plan_cli(project, "--policy-ref", base, "--policies", str(project / "policies"), capsys=capsys)
    assert code == 1 and "must be relative to the repository root" in err
    code, _, err = plan_cli(project, "--policy-ref", "no-such-branch", capsys=capsys)
    assert code == 1 and "no-such-branch" in err


def test_freeze_window_from_project_data_uses_the_context_time(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commit(project, {"specops.yaml": (
        "policy:\n  paths: [policies]\n  data:\n    freeze_windows:\n"
        "      - {name: launch, start: \"2026-11-01T00:00:00Z\", end: \"2026-11-03T00:00:00Z\"}\n"
    )})
    code, out, _ = plan_cli(project, "--format", "json", capsys=capsys)
    results = json.loads(out)["policy"]["results"]
    assert code == 1
    assert {r["rule"] for r in results} == {"SO-CHANGE-002"}
    assert {r["resource"] for r in results} >= {"Model/fraud-scorer", "Dataset/transactions"}


def test_bad_config_and_context_are_located(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commit(project, {"specops.yaml": "policy:\n  engine: rego\n"})
    code, _, err = plan_cli(project, capsys=capsys)
    assert code == 1
    assert "specops.yaml:2:11: error: policy.engine: 'rego' is not one of 'embedded' or 'opa'" in err
    commit(project, {"specops.yaml": "policy:\n  paths: [policies]\n"})
    (tmp_path / "context.yaml").write_text("now: yesterday\npull_request: {approvals: alice}\n", encoding="utf-8")
    code, _, err = plan_cli(project, capsys=capsys)
    assert code == 1
    assert "context.yaml:1:6: error: now: expected an RFC 3339 time" in err
    assert "context.yaml:2:28: error: pullRequest.approvals:" in err or "pull_request.approvals" in err


# -- loading: located errors, builtins ------------------------------------------------


def write_policy(directory: Path, name: str, body: str, rule_id: str = "T-001") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(
        f"# METADATA\n# title: Test rule\n# custom:\n#   id: {rule_id}\n#   severity: low\n"
        f"package test.{name.removesuffix('.rego')}\n\nimport rego.v1\n\n{body}\n",
        encoding="utf-8",
    )
    return path


def test_syntax_error_reports_file_line_and_column(tmp_path: Path) -> None:
    write_policy(tmp_path / "p", "broken.rego", 'deny contains msg if {\n\tmsg := \n}')
    bundle = load_bundle([tmp_path / "p"], root=tmp_path)
    with pytest.raises(PolicyLoadError) as info:
        EmbeddedEngine(bundle)
    [d] = info.value.diagnostics
    assert (d.path, d.line, d.column) == ("p/broken.rego", 11, 9)  # the end of `msg := `
    assert d.format().startswith("p/broken.rego:11:9: error:")


def test_missing_builtin_fails_at_load_not_at_evaluation(tmp_path: Path) -> None:
    # regorus alone would only notice when a plan reaches the call; the bundle must refuse it up front.
    write_policy(tmp_path / "p", "nope.rego", 'deny contains msg if {\n\tinput.never\n\tmsg := crypto.x509.parse_and_verify_certificates("x")\n}')
    bundle = load_bundle([tmp_path / "p"], root=tmp_path)
    with pytest.raises(PolicyLoadError) as info:
        EmbeddedEngine(bundle)
    [d] = info.value.diagnostics
    assert (d.path, d.line) == ("p/nope.rego", 12)
    assert "crypto.x509.parse_and_verify_certificates" in d.message


def test_nondeterministic_builtins_are_refused(tmp_path: Path) -> None:
    write_policy(tmp_path / "p", "net.rego", 'deny contains msg if {\n\tr := http.send({"url": "http://x", "method": "get"})\n\tmsg := "x"\n}')
    with pytest.raises(PolicyLoadError) as info:
        load_bundle([tmp_path / "p"], root=tmp_path)
    [d] = info.value.diagnostics
    assert (d.line, d.column) == (11, 7)
    assert "http.send is not allowed" in d.message


def test_policy_without_metadata_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bare.rego").write_text("package bare\nimport rego.v1\ndeny contains \"x\" if input.a\n")
    with pytest.raises(PolicyLoadError, match="has no METADATA"):
        load_bundle([tmp_path / "bare.rego"], root=tmp_path)


def test_missing_policy_directory_is_an_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = plan_cli(project, "--policies", "nowhere", capsys=capsys)
    assert code == 1 and "policy directory does not exist" in err


# -- fail closed ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('deny contains msg if {\n\tmsg := sprintf("%d", to_number(input.resource.metadata.name))\n}', "policy evaluation failed"),
        ("deny contains 42 if input.change", "unexpected result shape"),
        ('deny contains {"msg": "x", "colour": "red"} if input.change', "unknown keys"),
        ('approval contains "owner please" if input.change', "must name approvers"),
        ('deny := "x"', "expected a set"),
        ('deny := "x" if input.nothing', "returned undefined"),
    ],
    ids=["engine-error", "number", "unknown-key", "approval-without-approvers", "not-a-set", "undefined"],
)
def test_engine_errors_and_bad_shapes_deny(project: Path, body: str, expected: str) -> None:
    write_policy(project / "extra", "bad.rego", body)
    plan = make_plan(project, live=project.parent / "live.json", cache_dir=False)
    report = check_plan(plan, PolicyOptions(policies=["extra"], context=str(project.parent / "context.yaml")),
                        repo_path=project, estate=estate_of(project))
    assert report is not None and report.blocked
    assert any(r.status == "denied" and expected in r.message for r in report.results), report.results


def test_a_slow_decision_denies(project: Path) -> None:
    plan = make_plan(project, live=project.parent / "live.json", cache_dir=False)
    report = check_plan(plan, PolicyOptions(timeout=1e-9, context=str(project.parent / "context.yaml")),
                        repo_path=project, estate=estate_of(project))
    assert report is not None and report.blocked
    assert all(r.rule == "SPECOPS-ENGINE" for r in report.results)
    assert "over the 1e-09s limit" in report.results[0].message


def test_plan_wide_rules_see_every_change(project: Path) -> None:
    write_policy(project / "extra", "wide.rego",
                 'warn contains msg if {\n\tinput.scope == "plan"\n\tmsg := sprintf("%d changes", [count(input.plan.changes)])\n}')
    plan = make_plan(project, live=project.parent / "live.json", cache_dir=False)
    report = check_plan(plan, PolicyOptions(policies=["extra"], context=str(project.parent / "context.yaml")),
                        repo_path=project, estate=estate_of(project))
    assert report is not None and not report.blocked
    [result] = report.results
    assert (result.status, result.message, result.resource) == ("warned", "6 changes", None)
    assert result.path is None and result.policy_path == "extra/wide.rego"


def test_decisions_are_cached_by_bundle_and_input(project: Path) -> None:
    plan = make_plan(project, live=project.parent / "live.json", cache_dir=False)
    cache = DecisionCache()
    options = PolicyOptions(context=str(project.parent / "context.yaml"))
    first = check_plan(plan, options, repo_path=project, estate=estate_of(project), cache=cache)
    assert (cache.hits, cache.misses) == (0, 7)
    second = check_plan(plan, options, repo_path=project, estate=estate_of(project), cache=cache)
    assert (cache.hits, cache.misses) == (7, 7)
    assert first is not None and second is not None
    assert [d.to_json() for d in first.decisions] == [d.to_json() for d in second.decisions]
    assert len({d.id for d in first.decisions}) == 7


def test_input_document_carries_change_related_and_context(project: Path) -> None:
    write_policy(project / "extra", "echo.rego", (
        'warn contains msg if {\n\tinput.change.id == "Model/fraud-scorer"\n'
        '\tmsg := json.marshal([input.change.action, input.change.path, input.change.line, '
        'object.keys(input.related), input.context.commits[0].author, input.plan.summary.create])\n}'
    ))
    plan = make_plan(project, live=project.parent / "live.json", cache_dir=False)
    report = check_plan(plan, PolicyOptions(policies=["extra"], context=str(project.parent / "context.yaml")),
                        repo_path=project, estate=estate_of(project))
    assert report is not None
    [result] = report.results
    action, path, line, related, author, creates = json.loads(result.message)
    assert (action, path, line, author, creates) == ("create", MODEL, 2, "SpecOps Test", 6)
    assert set(related) == {
        "Target/local-cpu", "Dataset/transactions", "Guardrail/feature-ranges",
        "SLO/fraud-scorer", "Prompt/fraud-case-summary",
    }


def test_spec_errors_still_stop_the_plan_first(project: Path) -> None:
    edit(project, PROMPT, "model: fraud-scorer", "model: nothing")
    with pytest.raises(SpecError):
        make_plan(project, live=project.parent / "live.json", cache_dir=False)
