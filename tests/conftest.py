"""Shared fixtures: real git repositories with a pinned author, and spec writers."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SPECS = REPO_ROOT / "specs"

AUTHOR = pygit2.Signature("SpecOps Test", "test@specops.invalid", 1_700_000_000, 0)


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
