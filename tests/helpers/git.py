"""Real git repositories for tests: commit files (pinned author), and the live state a target would report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pygit2

from specops.plan import load_desired_state

AUTHOR = pygit2.Signature("SpecOps Test", "test@specops.invalid", 1_700_000_000, 0)


def commit(repo: Path, files: dict[str, str | None], message: str = "change") -> str:
    """Write (or, for ``None``, delete) files in the work tree and commit them all; returns the commit id."""
    for relative, content in files.items():
        path = repo / relative
        if content is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
    git = pygit2.Repository(str(repo))
    git.index.add_all()
    git.index.write()
    tree = git.index.write_tree()
    parents = [] if git.head_is_unborn else [git.head.target]
    return str(git.create_commit("HEAD", AUTHOR, AUTHOR, message, tree, parents))


def edit(repo: Path, relative: str, old: str, new: str) -> str:
    text = (repo / relative).read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {relative}"
    return commit(repo, {relative: text.replace(old, new)}, f"edit {relative}")


def live_document(
    repo: Path, target: str = "local-cpu", revision: str = "1", *, ref: str = "HEAD", **patch: Any
) -> dict[str, Any]:
    """The live state a target would report after applying the desired state at ``ref``."""
    desired = load_desired_state(repo, ref=ref, cache_dir=False)
    resources = {
        spec.id: {
            "hash": spec.hash,
            "spec": spec.resource.canonical(),
            "status": {"ready": True},
        }
        for spec in desired.estate
    }
    doc: dict[str, Any] = {
        "format_version": 1,
        "target": target,
        "revision": revision,
        "resources": resources,
    }
    doc.update(patch)
    return doc


def estate_of(repo: Path, ref: str = "HEAD") -> Any:
    """The estate at ``ref`` (what the pipeline hands the policies beside the plan)."""
    return load_desired_state(repo, ref=ref, cache_dir=False).estate


def save(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


TARGET = """\
apiVersion: specops.dev/v1
kind: Target
metadata: {{name: {name}}}
spec: {{url: "http://127.0.0.1:{port}", environment: development}}
"""
