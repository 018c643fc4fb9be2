"""``specops policy test``: the built-in library passes; a broken test fails with exit 1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.etree import ElementTree

import pytest

from specops._cli import main

POLICIES = Path(__file__).resolve().parent.parent / "policies"


def test_built_in_library_passes_its_tests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test", str(POLICIES), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["failed"] == 0
    assert report["passed"] >= 30
    assert all(t["seconds"] >= 0 for t in report["tests"])
    # every built-in policy package is exercised by some test file
    tested = {t["package"].removesuffix("_test") for t in report["tests"]}
    assert tested == {f"specops.policies.{n}" for n in ("change", "data", "model", "prompt", "target")}


def test_broken_policy_test_fails_with_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(POLICIES, tmp_path / "policies")
    test = tmp_path / "policies" / "target_test.rego"
    test.write_text(test.read_text().replace("count(data.specops.policies.target_gpu_provider.deny) == 0 with input as target({\"environment\": \"development\"})",
                                             "count(data.specops.policies.target_gpu_provider.deny) == 1 with input as target({\"environment\": \"development\"})"))
    assert main(["policy", "test", str(tmp_path / "policies")]) == 1
    out = capsys.readouterr().out
    assert "FAIL specops.policies.target_test.test_cpu_target_passes" in out
    assert "1 failed" in out
    assert main(["policy", "test", str(tmp_path / "policies"), "--format", "junit"]) == 1
    root = ElementTree.fromstring(capsys.readouterr().out.split("\n", 1)[1])
    assert root.get("failures") == "1"
    failed = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["test_cpu_target_passes"]


def test_test_that_errors_is_a_failure_and_broken_policy_is_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p_test.rego").write_text(
        "package p_test\nimport rego.v1\ntest_boom if { to_number(\"x\") == 1 }\ntest_ok if { true }\n"
    )
    assert main(["policy", "test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "ERROR p_test.test_boom" in out and "PASS p_test.test_ok" in out
    (tmp_path / "q.rego").write_text("package q\nimport rego.v1\nx := {\n")
    assert main(["policy", "test", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "q.rego:4:1: error:" in err or "q.rego:3:" in err


def test_no_tests_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test", str(tmp_path)]) == 1
    assert "no test_* rules" in capsys.readouterr().err


def test_policy_package_exports_resolve() -> None:
    import specops.policy as policy

    for name in policy.__all__:
        assert getattr(policy, name) is not None, name
    with pytest.raises(AttributeError):
        _ = policy.nothing_here
