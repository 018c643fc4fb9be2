"""Shared parts of the evidence and audit tests (no tests here): reading and tampering with the chain."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pygit2

from specops._git import GitRepo
from specops.evidence import REF, EvidenceStore


def chain_records(repo: Path) -> list[dict[str, Any]]:
    return list(EvidenceStore(GitRepo(pygit2.Repository(str(repo)))).load().records())


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def tamper(repo: Path, edit: Any, *, rewrite: bool = False) -> str:
    """Change the stored segments with ``edit(path, data) -> data | None`` (``None`` leaves it) and commit.

    ``rewrite``: replace the head commit (history rewritten, as `git commit --amend` would);
    otherwise a new commit on top. Returns the path edited.
    """
    git = pygit2.Repository(str(repo))
    adapter = GitRepo(git)
    head = adapter.ref_target(REF)
    assert head is not None
    edited = ""
    for path, blob in adapter.files_at(head, "records"):
        new = edit(path, adapter.read_blob(blob))
        if new is not None:
            parent = head
            if rewrite:
                commit = git[head].peel(pygit2.Commit)
                parent = str(commit.parents[0].id) if commit.parents else None
                # the rewritten commit replaces the head: move the ref back first
                git.references.create(REF, pygit2.Oid(hex=parent), force=True) if parent else None
                tree = commit.tree
                index = pygit2.Index()
                index.read_tree(tree)
                index.add(pygit2.IndexEntry(path, git.create_blob(new), pygit2.enums.FileMode.BLOB))
                oid = git.create_commit(None, commit.author, commit.committer, commit.message,
                                        index.write_tree(git), [pygit2.Oid(hex=parent)] if parent else [])  # fmt: skip
                git.references.create(REF, oid, force=True)
            else:
                adapter.commit_on_ref(REF, parent, {path: new}, "hand edit")
            edited = path
            break
    assert edited, "nothing edited"
    return edited
