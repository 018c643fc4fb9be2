"""``specops init``: a new repository that validates, tests its policies and plans; the workflows it
writes are valid for GitHub and install SpecOps by the pinned requirement."""

from __future__ import annotations

import argparse
import io
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest
from ruamel.yaml import YAML

from specops._cli import main
from specops._version import __version__
from specops.init import derive_workflow, init_project
from specops.init._cli import add_init_parser
from specops.policy._library import BUILTIN_LIBRARY
from tests.helpers.git import commit, live_document, save

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """``specops init`` in an empty directory, then ``git init`` and a first commit."""
    root = tmp_path / "ml-estate"
    root.mkdir()
    monkeypatch.chdir(root)
    code, out, _ = run("init", capsys=capsys)
    assert code == 0, out
    pygit2.init_repository(str(root), initial_head="main")
    commit(root, {}, "SpecOps project")
    return root


def test_init_gives_a_repository_that_validates_tests_and_plans(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run("validate", "--verify-artifacts", capsys=capsys)
    assert code == 0, out + err
    assert "Valid: 6 resources in 6 files." in out
    kinds = {line.split()[0] for line in out.splitlines()[1:-1]}
    assert kinds == {"Target", "Dataset", "Guardrail", "Model", "Prompt", "SLO"}

    code, out, err = run("policy", "test", "--format", "json", capsys=capsys)
    assert code == 0, out + err
    tests = json.loads(out)["tests"]
    paths = {t["path"].split("/")[0] for t in tests}
    assert paths == {BUILTIN_LIBRARY, "policies"}, "the shipped library and the repository's own tests"
    assert all(t["status"] == "pass" for t in tests)

    empty = save(tmp_path / "empty.json", {"format_version": 1, "targets": []})
    code, out, err = run("plan", "--live", str(empty), "--format", "json", capsys=capsys)
    assert code == 0, out + err
    plan = json.loads(out)
    assert sorted(c["id"] for c in plan["resource_changes"]) == sorted(
        ["Target/local", "Dataset/customers", "Guardrail/churn-inputs", "Model/churn-scorer",
         "Prompt/churn-outreach", "SLO/churn-scorer"]
    )  # fmt: skip
    assert plan["policy"]["blocked"] is False
    rule_paths = {r["path"] for r in plan["policy"]["rules"]}
    assert "policies/owner.rego" in rule_paths
    assert any(p.startswith(f"{BUILTIN_LIBRARY}/") for p in rule_paths)


def test_specs_carry_modelines_that_resolve_to_the_written_schemas(project: Path) -> None:
    specs = sorted((project / "specs").rglob("*.yaml"))
    assert len(specs) == 6
    for spec in specs:
        first = spec.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), spec
        schema = (spec.parent / first.split("=", 1)[1]).resolve()
        kind = YAML(typ="safe").load(spec.read_text())["kind"]
        assert schema == (project / "schemas" / f"{kind.lower()}.json").resolve()
        assert json.loads(schema.read_text())["title"], schema


def test_the_builtin_library_judges_a_pull_request_with_policy_ref(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--policy-ref exports the repository's policies from git; the built-in library comes with SpecOps."""
    base = str(pygit2.Repository(str(project)).head.target)
    model = project / "specs/models/churn-scorer.yaml"
    # A new artifact under the same version: the built-in SO-MODEL-005 denies it.
    text = model.read_text()
    old = next(line for line in text.splitlines() if "sha256:" in line).split()[-1]
    commit(project, {"specs/models/churn-scorer.yaml": text.replace(old, "ab" * 32)}, "swap artifact")
    live = save(tmp_path / "live.json", live_document(project, target="local", ref=base))
    code, out, err = run("plan", "--base", base, "--policy-ref", base, "--live", str(live), "--format", "json",
                         capsys=capsys)  # fmt: skip
    assert code == 1, out + err
    report = json.loads(out)["policy"]
    assert report["source"]["commit"] == base
    assert [r["rule"] for r in report["results"] if r["status"] == "denied"] == ["SO-MODEL-005"]


def test_init_keeps_existing_files_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "specops.yaml").write_text("policy: {paths: [mine]}\n")
    code, out, _ = run("init", str(tmp_path), capsys=capsys)
    assert code == 0
    assert "kept  specops.yaml (exists; --force overwrites)" in out
    assert (tmp_path / "specops.yaml").read_text() == "policy: {paths: [mine]}\n"
    again = init_project(tmp_path, "specops==9.9")
    assert again.written == [] and "waivers.yaml" in again.kept
    forced = init_project(tmp_path, "specops==9.9", force=True)
    assert "specops.yaml" in forced.written
    assert BUILTIN_LIBRARY in (tmp_path / "specops.yaml").read_text()
    assert "specops==9.9" in (tmp_path / ".github/workflows/specops-plan.yml").read_text()


def _install_line(workflow: Path) -> str:
    data = YAML(typ="safe").load(workflow.read_text())
    steps = [s for job in data["jobs"].values() for s in job["steps"] if s.get("name") == "install specops"]
    assert len(steps) == 1
    return str(steps[0]["run"])


@pytest.mark.parametrize(
    "requirement",
    [
        f"specops=={__version__}",
        "./wheels/specops-0.1.0-cp311-cp311-linux_x86_64.whl",
        "git+https://github.com/example/specops@v0.1.0",
        "specops[opa] @ git+https://github.com/example/specops@v0.1.0",
    ],
)
def test_workflows_install_the_requirement_and_pass_githubs_schema(tmp_path: Path, requirement: str) -> None:
    result = init_project(tmp_path, requirement)
    workflows = [tmp_path / ".github/workflows/specops-plan.yml", tmp_path / ".github/workflows/specops-apply.yml"]
    assert {str(w.relative_to(tmp_path)) for w in workflows} <= set(result.written)
    check = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, workflows)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    for workflow in workflows:
        line = _install_line(workflow)
        assert shlex.split(line) == ["python", "-m", "pip", "install", requirement]
        own = (REPO_ROOT / ".github/workflows" / workflow.name).read_text().splitlines()
        new = workflow.read_text().splitlines()
        # Derived from SpecOps' own: the same lines, less those about SpecOps' repository, one install line.
        dropped = [x for x in own if x.lstrip().startswith("# SpecOps' own repository:")]
        assert dropped and not any("SpecOps' own repository" in x for x in new)
        assert len(new) == len(own) - len(dropped)
        changed = [(a, b) for a, b in zip([x for x in own if x not in dropped], new, strict=True) if a != b]
        assert changed == [("        run: python -m pip install .", f"        run: {line}")]


def test_a_bad_requirement_is_refused_with_examples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run("init", str(tmp_path), "--requirement=--index-url=http://evil", capsys=capsys)
    assert code == 1
    assert "is not a requirement pip installs" in err and "git+https://" in err
    assert not (tmp_path / "specops.yaml").exists()
    with pytest.raises(Exception, match="expected 1"):
        derive_workflow("name: x\n", "specops")


def test_init_json_lists_what_it_wrote(tmp_path: Path) -> None:
    out = io.StringIO()
    parser = argparse.ArgumentParser()
    add_init_parser(parser.add_subparsers())
    args = parser.parse_args(["init", str(tmp_path), "--format", "json"])
    assert args.func(args, out) == 0
    report = json.loads(out.getvalue())
    assert report["kept"] == []
    assert {"specops.yaml", "waivers.yaml", "policies/owner.rego", "schemas/model.json",
            "specs/artifacts/churn-scorer-1.0.0.onnx"} <= set(report["written"])  # fmt: skip
    assert all((tmp_path / p).is_file() for p in report["written"])


def test_the_example_estate_applies_to_a_real_target_and_answers(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only valid: the example model and its guardrail serve, as `specops init` promises."""
    import httpx

    from specops.apply import LocalTarget

    monkeypatch.setenv("SPECOPS_LOCAL_TOKEN", "init-test-token-" + "0123456789ab")
    with LocalTarget("local", tmp_path / "target-state", token_env="SPECOPS_LOCAL_TOKEN") as target:
        target_spec = project / "specs/targets/local.yaml"
        commit(project, {"specs/targets/local.yaml": target_spec.read_text().replace(
            "http://127.0.0.1:8480", target.url)}, "point at the test target")  # fmt: skip
        code = main(["apply", "--auto-approve", "--format", "json"])
        assert code == 0
        rows = [[3.0, 80.0, 4.0], [50.0, 20.0, 0.0]]
        body = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [2, 3], "data": rows}]}
        answer = httpx.post(f"{target.url}/v2/models/churn-scorer/infer", json=body, timeout=30).json()
        probabilities = answer["outputs"][0]["data"]
        assert answer["model_version"] == "1.0.0"
        assert probabilities[1] > 0.5 > probabilities[3], "many tickets churn, long tenure stays"
        assert abs(probabilities[0] + probabilities[1] - 1) < 1e-6
        # The guardrail holds the training data's contract: a tenure of 500 months is refused.
        refused = httpx.post(f"{target.url}/v2/models/churn-scorer/infer", timeout=30, json={
            "inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 3], "data": [[500.0, 20.0, 0.0]]}]})  # fmt: skip
        assert refused.status_code >= 400 and "churn-inputs" in refused.text
