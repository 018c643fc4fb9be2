"""Shared fixtures: real git repositories with a pinned author, spec writers, real serving targets.

Helpers that are not fixtures live in ``tests/helpers`` (git, cli, serve, models, plans, memory).
Every test that writes a plan file under its ``tmp_path`` also checks that the
plan reads back and re-dumps byte for byte (``Plan.from_json`` / ``dump_json``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pygit2
import pytest

from specops.apply import LocalTarget
from specops.apply._demo import prepare
from tests.helpers.git import AUTHOR
from tests.helpers.serve import TEST_ANALYSIS, TOKEN_ENV

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SPECS = REPO_ROOT / "specs"

__all__ = ["AUTHOR", "EXAMPLE_SPECS", "REPO_ROOT"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty real git repository (pygit2), its work tree as a path."""
    pygit2.init_repository(str(tmp_path / "repo"), initial_head="main")
    return tmp_path / "repo"


@pytest.fixture
def example_repo(repo: Path) -> Path:
    """A git repository holding a copy of the example estate, committed."""
    shutil.copytree(EXAMPLE_SPECS, repo / "specs")
    git = pygit2.Repository(str(repo))
    git.index.add_all()
    git.index.write()
    tree = git.index.write_tree()
    git.create_commit("HEAD", AUTHOR, AUTHOR, "example estate", tree, [])
    return repo


@pytest.fixture
def write(repo: Path) -> Callable[[str, str | bytes], Path]:
    """Write a file under the repository; text is dedented by the caller."""

    def _write(relative: str, content: str | bytes) -> Path:
        path = repo / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh admin token in ``SPECOPS_LOCAL_TOKEN`` (the example Target's ``auth.tokenEnv``)."""
    value = "test-admin-token-" + os.urandom(6).hex()
    monkeypatch.setenv(TOKEN_ENV, value)
    return value


@pytest.fixture
def target(tmp_path: Path, token: str) -> Iterator[LocalTarget]:
    """A real ``specops serve`` subprocess on a free loopback port."""
    server = LocalTarget("local-cpu", tmp_path / "target-state", token_env=TOKEN_ENV)
    with server:
        yield server


@pytest.fixture
def estate(tmp_path: Path, target: LocalTarget) -> Path:
    """The example estate committed to a real git repository, its Target at ``target``."""
    repo = tmp_path / "estate"
    prepare(REPO_ROOT / "specs", repo, target.url, TEST_ANALYSIS)
    return repo


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``ray`` run once: in the compiled pass, not again in the pure-Python one.

    They start a Ray cluster (about 20 s and 2 GB) and exercise Ray and the
    driver, not the hashing or planning core the second pass exists for.
    """
    if os.environ.get("SPECOPS_PURE_PYTHON") != "1":
        return
    kept = [item for item in items if item.get_closest_marker("ray") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("ray") is not None])
        items[:] = kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Every plan file a test leaves under its ``tmp_path`` re-dumps byte for byte through the model."""
    result = yield
    root = getattr(item, "funcargs", {}).get("tmp_path")
    if isinstance(root, Path):
        _check_plans_round_trip(root)
    return result


def _check_plans_round_trip(root: Path) -> None:
    from specops.plan import Plan, PlanFormatError

    for path in root.rglob("*.json"):
        if not path.is_file() or path.stat().st_size > 50_000_000:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if not text.startswith('{\n  "format_version": 1,\n  "plan_id"'):
            continue  # not a plan specops wrote (tests also write tampered or foreign JSON)
        try:
            again = Plan.from_json(text).dump_json()
        except PlanFormatError:
            continue  # a plan a test edited on purpose; apply's refusal is tested there
        assert again == text, f"{path} does not re-dump byte for byte"
