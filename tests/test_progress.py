"""Progress shows on a terminal and nowhere else: a cold plan under a pseudo-terminal (pty) draws
it on stderr; the same command piped writes nothing to stderr; stdout is the same either way."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from specops import _progress as progress
from tests.helpers.git import commit, save

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(example_repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    commit(example_repo, {"specops.yaml": "policy:\n  paths:\n    - builtin:specops\n"}, "policies")
    return example_repo, save(tmp_path / "empty.json", {"format_version": 1, "targets": []})


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SPECOPS_NO_PROGRESS", "NO_COLOR")}
    return {**env, "TERM": "xterm-256color", "COLUMNS": "120", **extra}


def _plan_args(repo: Path, live: Path) -> list[str]:
    return [sys.executable, "-m", "specops", "plan", "--repo", str(repo), "--live", str(live), "--no-cache"]


def run_in_pty(argv: list[str], env: dict[str, str]) -> tuple[int, bytes, bytes]:
    """Run with stderr on a pseudo-terminal; returns (exit code, stdout, what the terminal received)."""
    master, slave = pty.openpty()
    received = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the last holder of the terminal's other end closed it
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    stdout, _ = proc.communicate(timeout=180)
    reader.join(timeout=30)
    os.close(master)
    return proc.returncode, stdout, bytes(received)


def test_a_cold_plan_shows_progress_on_a_terminal_and_none_piped(project: tuple[Path, Path]) -> None:
    repo, live = project
    code, stdout, terminal = run_in_pty(_plan_args(repo, live), _env())
    assert code == 0, terminal.decode(errors="replace")
    assert b"Parsing specs" in terminal and b"Evaluating policies" in terminal
    assert b"\x1b[" in terminal, "drawn with terminal control sequences"

    piped = subprocess.run(_plan_args(repo, live), capture_output=True, env=_env(), check=False, timeout=180)
    assert piped.returncode == 0
    assert piped.stderr == b""
    assert piped.stdout == stdout, "progress never touches stdout"


def test_the_terminal_can_opt_out(project: tuple[Path, Path]) -> None:
    repo, live = project
    code, _, terminal = run_in_pty(_plan_args(repo, live), _env(SPECOPS_NO_PROGRESS="1"))
    assert code == 0
    assert b"Evaluating policies" not in terminal
    code, _, terminal = run_in_pty(_plan_args(repo, live), _env(TERM="dumb"))
    assert code == 0
    assert b"Evaluating policies" not in terminal


def test_tasks_are_no_ops_unless_enabled_on_a_terminal(tmp_path: Path) -> None:
    with (tmp_path / "log").open("w") as not_a_terminal:
        assert progress.enable(not_a_terminal) is False
    assert not progress.enabled()
    with progress.task("anything", total=3) as task:
        task.advance()
        task.update(completed=2, detail="x")
    assert (tmp_path / "log").read_text() == ""


def test_a_canary_shows_requests_against_those_needed_and_the_time_left(
    estate: Path, target: object, token: str
) -> None:
    from tests.helpers.cli import run_cli
    from tests.helpers.serve import commit_version

    assert run_cli("apply", "--auto-approve", "--repo", str(estate))[0] == 0
    commit_version(estate, "1.1.0")
    argv = [sys.executable, "-m", "specops", "apply", "--auto-approve", "--repo", str(estate), "--traffic", "250"]
    code, stdout, terminal = run_in_pty(argv, _env())
    assert code == 0, stdout.decode() + terminal.decode(errors="replace")
    for step in (b"canary at 10%", b"canary at 50%", b"canary at 100%"):
        assert step in terminal, step
    assert b"/50" in terminal, "requests received against the 50 needed"
    assert b"s to the deadline" in terminal
    assert b"\x1b[" not in stdout, "stdout stays plain"
