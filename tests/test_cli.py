"""The command line: validate, schema and doctor, in-process and as a real subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from specops import __version__, load_estate
from specops._cli import main
from specops._onnx import cuda_device_count
from specops._twins import PURE_FORCED
from specops.spec import KINDS, json_schema

HEX64 = re.compile(r"[0-9a-f]{64}")
IDS = [
    "Target/local-cpu",
    "Dataset/transactions",
    "Guardrail/feature-ranges",
    "Model/fraud-scorer",
    "Prompt/fraud-case-summary",
    "SLO/fraud-scorer",
]


def specops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "specops", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "SPECOPS_LOG_DIR": str(cwd / ".specops-log")},
    )


# -- validate --------------------------------------------------------------------------


def test_validate_prints_the_inventory(
    example_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(example_repo)
    assert main(["validate", "specs/"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert lines[0].split() == ["KIND", "NAME", "VERSION", "SOURCE", "HASH"]
    rows = [line.split() for line in lines[1:-1]]
    assert [f"{row[0]}/{row[1]}" for row in rows] == IDS
    assert [row[2] for row in rows] == ["-", "2026-10", "-", "1.0.0", "1.2.0", "-"]
    assert rows[0][3] == "specs/targets/local-cpu.yaml:3"
    assert rows[3][3] == "specs/models/fraud-scorer.yaml:2"
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{12}", row[4])
    assert lines[-1] == "Valid: 6 resources in 6 files."


def test_validate_default_path_is_specs(
    example_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(example_repo)
    assert main(["validate", "--verify-artifacts"]) == 0
    assert capsys.readouterr().out.endswith("Valid: 6 resources in 6 files.\n")


def test_validate_json(
    example_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(example_repo)
    assert main(["validate", "specs", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert report["errors"] == []
    assert report["warnings"] == []
    resources = report["resources"]
    assert [r["id"] for r in resources] == IDS
    assert [r["kind"] for r in resources] == list(KINDS)
    estate = load_estate([example_repo / "specs"])
    for row in resources:
        assert HEX64.fullmatch(row["hash"])
        assert row["id"] == f"{row['kind']}/{row['name']}"
        assert row["hash"] == estate.specs[row["id"]].hash
        assert row["path"].startswith("specs/")
        assert row["line"] >= 1
    assert resources[3]["version"] == "1.0.0"
    assert resources[0]["version"] is None


def test_validate_reports_warnings_and_still_passes(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt = example_repo / "specs/prompts/fraud-case-summary.yaml"
    prompt.write_text(
        prompt.read_text().replace("in at most {{ max_sentences }} sentences", "briefly")
    )
    assert main(["validate", str(example_repo / "specs")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("specs/prompts/fraud-case-summary.yaml:")
    assert (
        "warning: spec.variables[2].name: variable 'max_sentences' is declared"
        in out.splitlines()[0]
    )
    assert out.endswith("Valid: 6 resources in 6 files.\n")

    assert main(["validate", str(example_repo / "specs"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert [w["code"] for w in report["warnings"]] == ["unused_variable"]


def test_validate_reports_errors_and_exits_1(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = example_repo / "specs/models/fraud-scorer.yaml"
    model.write_text(model.read_text().replace("targets: [local-cpu]", "targets: [local-gpu]"))
    assert main(["validate", str(example_repo / "specs")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "specs/models/fraud-scorer.yaml:28:13: error: spec.targets[0]: Target/local-gpu does not "
        "exist (did you mean 'local-cpu'?)",
        "Found 1 error in 1 file.",
    ]


def test_validate_verify_artifacts_catches_a_changed_file(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = example_repo / "specs/data/transactions-2026-10.csv"
    csv.write_bytes(csv.read_bytes().replace(b"\n", b"\r\n"))
    assert main(["validate", str(example_repo / "specs")]) == 0
    capsys.readouterr()
    assert (
        main(["validate", str(example_repo / "specs"), "--verify-artifacts", "--format", "json"])
        == 1
    )
    report = json.loads(capsys.readouterr().out)
    assert [(e["path"], e["field"], e["code"]) for e in report["errors"]] == [
        ("specs/datasets/transactions.yaml", "spec.artifact.sha256", "artifact_checksum")
    ]


def test_validate_a_path_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing-here"
    assert main(["validate", str(missing)]) == 1
    out = capsys.readouterr().out.splitlines()
    # The position of a path that is not there is genuinely unknown: 0:0.
    assert out == [
        f"{missing.as_posix()}:0:0: error: no such file or directory",
        "Found 1 error in 1 file.",
    ]


def test_validate_an_empty_directory(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "specs").mkdir()
    assert main(["validate", str(repo / "specs")]) == 0
    assert capsys.readouterr().out == "Valid: 0 resources in 0 files.\n"


def test_validate_skips_hidden_directories_and_other_files(
    repo: Path, write: Callable[[str, str | bytes], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    target = "apiVersion: specops.dev/v1\nkind: Target\nmetadata:\n  name: edge\nspec:\n  url: http://h:1\n  environment: staging\n"
    write("specs/edge.yml", target)
    write("specs/.drafts/broken.yaml", "not: [valid\n")
    write("specs/README.md", "# not a spec\n")
    assert main(["validate", str(repo / "specs")]) == 0
    assert capsys.readouterr().out.endswith("Valid: 1 resource in 1 file.\n")


def test_validate_as_a_subprocess(example_repo: Path) -> None:
    result = specops("validate", "specs/", "--verify-artifacts", cwd=example_repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.endswith("Valid: 6 resources in 6 files.\n")
    assert result.stderr == ""


def test_invalid_specs_as_a_subprocess_have_no_traceback(example_repo: Path) -> None:
    target = example_repo / "specs/targets/local-cpu.yaml"
    target.write_bytes(target.read_bytes().replace(b"owner: ml-platform", b"owner: \xff"))
    result = specops("validate", "specs", cwd=example_repo)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    located = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("specs/targets/local-cpu.yaml:")
    ]
    assert located == [
        "specs/targets/local-cpu.yaml:8:10: error: file is not valid UTF-8 (byte 0xff) (save the file as UTF-8)"
    ]


# -- schema --------------------------------------------------------------------------------


def test_schema_of_a_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "Model"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json_schema("Model")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://specops.dev/schemas/v1/model.json"
    assert schema["title"] == "Model"
    assert {"apiVersion", "kind", "metadata", "spec"} <= set(schema["properties"])
    assert set(schema["required"]) >= {"apiVersion", "kind", "metadata", "spec"}
    assert schema["additionalProperties"] is False


def test_schema_of_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert [v["$ref"] for v in schema["oneOf"]] == [f"#/$defs/{kind}" for kind in KINDS]
    assert set(KINDS) <= set(schema["$defs"])


def test_schema_of_an_unknown_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "Modle"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "error: unknown kind 'Modle' (did you mean 'Model'?)\n"


def test_schema_of_an_unknown_kind_as_a_subprocess(tmp_path: Path) -> None:
    result = specops("schema", "Modle", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["error: unknown kind 'Modle' (did you mean 'Model'?)"]
    assert "Traceback" not in result.stderr


def test_schema_out_writes_every_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "schemas"
    assert main(["schema", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"Wrote 7 schema(s) to {out}\n"
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted([f"{kind.lower()}.json" for kind in KINDS] + ["all.json"])
    assert len(files) == 7
    for kind in KINDS:
        assert json.loads((out / f"{kind.lower()}.json").read_text()) == json_schema(kind)
    assert json.loads((out / "all.json").read_text()) == json_schema()


def test_schema_out_of_one_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "SLO", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"Wrote 1 schema(s) to {tmp_path}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["slo.json"]


# -- doctor --------------------------------------------------------------------------------


def test_doctor_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["specops"] == __version__
    assert report["ok"] is True
    assert report["problems"] == []
    core = report["core"]
    assert core["compiled"] is (not PURE_FORCED)
    assert core["implementation"] == ("python" if PURE_FORCED else "cython")
    if PURE_FORCED:
        assert "SPECOPS_PURE_PYTHON" in core["load_error"]
    else:
        assert core["load_error"] is None
    for module in ("hashing", "planner", "yaml"):
        assert core["modules"][module]["compiled"] is (not PURE_FORCED), module
    ort = report["onnxruntime"]
    assert "CPUExecutionProvider" in ort["usable_providers"]
    assert ort["cuda_devices"] == cuda_device_count()
    if cuda_device_count() == 0:
        assert "CUDAExecutionProvider" not in ort["usable_providers"]
        assert "TensorrtExecutionProvider" not in ort["usable_providers"]
    assert set(ort["usable_providers"]) <= set(ort["available_providers"])
    assert ort["session_probe"]["ok"] is True
    assert "CPUExecutionProvider" in ort["session_probe"]["providers"]
    assert report["rego"]["ok"] is True
    assert report["rego"]["error"] is None
    assert report["yaml"]["c_parser"] is True
    from importlib.util import find_spec

    assert report["ray"]["installed"] is (find_spec("ray") is not None)


def test_doctor_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"specops      {__version__} (Python ")
    core_line = next(line for line in out.splitlines() if line.startswith("core "))
    assert ("pure Python" in core_line) is PURE_FORCED
    assert "CPUExecutionProvider" in out
    assert any(line.startswith("ray          ") for line in out.splitlines())
    assert "problem:" not in out


def test_doctor_as_a_subprocess(tmp_path: Path) -> None:
    result = specops("doctor", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["core"]["compiled"] is (not PURE_FORCED)


# -- plumbing ------------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"specops {__version__}\n"


def test_usage_errors_exit_1_without_a_traceback(tmp_path: Path) -> None:
    # Exit 2 means "changes present" (--detailed-exitcode); a usage error is an error (issue 11, item 9).
    for args in ([], ["frobnicate"], ["validate", "--format", "yaml"], ["plan", "--detailed-exitcode", "--nope"]):
        result = specops(*args, cwd=tmp_path)
        assert result.returncode == 1, args
        assert "usage: specops" in result.stderr
        assert "Traceback" not in result.stderr


def test_an_internal_bug_exits_3_and_names_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import specops._cli as cli

    def broken(args: object, out: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "cmd_doctor", broken)
    monkeypatch.setenv("SPECOPS_LOG_DIR", str(tmp_path / "log"))
    assert main(["doctor"]) == 3
    err = capsys.readouterr().err
    assert f"this is a bug; details in {tmp_path / 'log' / 'specops.log'}" in err
    assert "RuntimeError: a bug" in (tmp_path / "log" / "specops.log").read_text()
