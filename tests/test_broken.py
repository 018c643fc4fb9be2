"""One broken file per class of bad input: each gives exactly one located error, never a traceback.

``tests/data/broken/`` holds the files; a file over the size limit is generated
here (it is not committed). ``specops validate`` runs as a real subprocess.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

from specops import SpecError, load_estate
from specops._yaml import MAX_FILE_BYTES

BROKEN = Path(__file__).resolve().parent / "data" / "broken"
TOO_LARGE = "too-large.yaml"

# file -> (line, column, what the message says). Every file in BROKEN is listed,
# and every line and column is known: none of these is an unlocatable problem.
EXPECTED: dict[str, tuple[int, int, str]] = {
    "alias-bomb.yaml": (11, 49, f"document expands to more than {100_000} values"),
    "bad-name.yaml": (4, 9, "metadata.name: 'Bad_Name' is not a valid name"),
    "control-character.yaml": (6, 14, "control characters are not allowed"),
    "duplicate-key.yaml": (9, 3, "duplicate key 'environment' (first defined at line 8)"),
    "empty.yaml": (1, 1, "file has no spec documents"),
    "escaping-uri.yaml": (9, 10, "spec.artifact.uri: path escapes the repository"),
    "list-document.yaml": (2, 1, "a spec document must be a mapping, not a list"),
    "merge-key.yaml": (8, 5, "merge keys (<<) are not supported"),
    "missing-field.yaml": (6, 1, "spec.environment: required field is missing"),
    "non-string-key.yaml": (7, 5, "mapping key '2026' is not a string"),
    "non-utf8.yaml": (6, 13, "file is not valid UTF-8 (byte 0xe9)"),
    "scalar-document.yaml": (2, 1, "a spec document must be a mapping"),
    "second-document.yaml": (15, 12, "spec.version: expected a string, got the number 2026"),
    "secret-value.yaml": (7, 17, "value looks like an AWS access key id"),
    "syntax-error.yaml": (7, 5, "invalid YAML: while parsing a flow mapping"),
    "tab-indentation.yaml": (7, 1, "tab character"),
    "too-deep.yaml": (7, 73, "document is nested deeper than 64 levels"),
    "undefined-alias.yaml": (5, 11, "invalid YAML: found undefined alias"),
    "unknown-field.yaml": (9, 3, "spec.regoin: unknown field 'regoin' (did you mean 'region'?)"),
    "unknown-kind.yaml": (2, 7, "kind: unknown kind 'Tagret' (did you mean 'Target'?)"),
    "unsupported-tag.yaml": (6, 10, "unsupported tag !!binary"),
    "wrong-api-version.yaml": (1, 13, "apiVersion: unsupported apiVersion 'specops.dev/v2'"),
    TOO_LARGE: (1, 1, "spec files are limited to 4 MiB"),
}

ERROR_LINE = re.compile(r"^(?P<path>[^:\s]+):(?P<line>\d+):(?P<column>\d+): error: (?P<what>.+)$")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding a copy of the broken files plus a generated huge one."""
    root = tmp_path_factory.mktemp("broken")
    pygit2.init_repository(str(root), initial_head="main")
    shutil.copytree(BROKEN, root / "broken")
    padding = b"# a spec file that grew a data dump\n"
    (root / "broken" / TOO_LARGE).write_bytes(padding * (MAX_FILE_BYTES // len(padding) + 1))
    return root


def validate(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "specops", "validate", "broken", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "SPECOPS_LOG_DIR": str(root / "log")},
    )


@pytest.fixture(scope="module")
def text_run(workdir: Path) -> subprocess.CompletedProcess[str]:
    return validate(workdir)


@pytest.fixture(scope="module")
def json_run(workdir: Path) -> subprocess.CompletedProcess[str]:
    return validate(workdir, "--format", "json")


def test_every_broken_file_is_listed() -> None:
    committed = {p.name for p in BROKEN.iterdir()}
    assert committed == set(EXPECTED) - {TOO_LARGE}
    assert (BROKEN / "empty.yaml").stat().st_size == 0
    assert b"\t" in (BROKEN / "tab-indentation.yaml").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        (BROKEN / "non-utf8.yaml").read_bytes().decode("utf-8")
    assert all(p.stat().st_size < 64 * 1024 for p in BROKEN.iterdir())


def test_generated_file_is_over_the_limit(workdir: Path) -> None:
    assert (workdir / "broken" / TOO_LARGE).stat().st_size > MAX_FILE_BYTES


def test_validate_exits_1_without_a_traceback(text_run: subprocess.CompletedProcess[str]) -> None:
    output = text_run.stdout + text_run.stderr
    assert text_run.returncode == 1, output[-3000:]
    assert "Traceback" not in output
    assert "this is a bug" not in output
    assert text_run.stderr == ""


def test_exactly_one_located_error_line_per_file(
    text_run: subprocess.CompletedProcess[str],
) -> None:
    lines = text_run.stdout.splitlines()
    assert lines[-1] == f"Found {len(EXPECTED)} errors in {len(EXPECTED)} files."
    body = lines[:-1]
    assert len(body) == len(EXPECTED), "\n".join(body)
    seen: dict[str, tuple[int, int, str]] = {}
    for line in body:
        match = ERROR_LINE.match(line)
        assert match, f"not in the form path:line:col: error: ...: {line!r}"
        path = match["path"]
        assert path.startswith("broken/")
        name = path.removeprefix("broken/")
        assert name not in seen, f"two errors for {name}"
        seen[name] = (int(match["line"]), int(match["column"]), match["what"])
    assert set(seen) == set(EXPECTED)
    for name, (line_no, column, what) in seen.items():
        assert line_no > 0, name
        assert column > 0, name
        expected_line, expected_column, fragment = EXPECTED[name]
        assert (line_no, column) == (expected_line, expected_column), name
        assert fragment in what, f"{name}: {what}"


def test_json_lists_the_same_errors(
    text_run: subprocess.CompletedProcess[str], json_run: subprocess.CompletedProcess[str]
) -> None:
    assert json_run.returncode == 1
    assert "Traceback" not in json_run.stdout + json_run.stderr
    report = json.loads(json_run.stdout)
    assert report["valid"] is False
    assert report["warnings"] == []
    errors = report["errors"]
    assert len(errors) == len(EXPECTED)
    for entry in errors:
        assert {"path", "line", "column", "field", "message", "hint"} <= set(entry)
        assert entry["severity"] == "error"
        assert entry["message"]
        assert isinstance(entry["line"], int)
        assert isinstance(entry["column"], int)
    from_json = {(e["path"], e["line"], e["column"]) for e in errors}
    from_text = set()
    for line in text_run.stdout.splitlines()[:-1]:
        match = ERROR_LINE.match(line)
        assert match
        from_text.add((match["path"], int(match["line"]), int(match["column"])))
    assert from_json == from_text
    by_name = {e["path"].removeprefix("broken/"): e for e in errors}
    assert by_name["unknown-field.yaml"]["field"] == "spec.regoin"
    assert by_name["unknown-field.yaml"]["hint"] == "did you mean 'region'?"
    assert by_name["tab-indentation.yaml"]["hint"].endswith("use spaces")
    assert by_name["non-utf8.yaml"]["code"] == "encoding"
    assert by_name[TOO_LARGE]["code"] == "too_large"
    assert by_name["secret-value.yaml"]["resource"] == "Target/secret-value"
    # The secret itself is never repeated in the report.
    assert "AKIA" not in json_run.stdout


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_file_alone_gives_its_one_error(workdir: Path, name: str) -> None:
    with pytest.raises(SpecError) as info:
        load_estate([workdir / "broken" / name])
    assert len(info.value.diagnostics) == 1, [d.format() for d in info.value.diagnostics]
    (diagnostic,) = info.value.diagnostics
    line, column, fragment = EXPECTED[name]
    assert diagnostic.path == f"broken/{name}"
    assert (diagnostic.line, diagnostic.column) == (line, column)
    assert fragment in diagnostic.format()
