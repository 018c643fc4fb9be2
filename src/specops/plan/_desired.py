"""Desired state: the estate a git ref (or the work tree) declares, and how a change alters it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from specops._errors import Diagnostic, SpecError, SpecOpsError
from specops._git import FileChange, GitRepo, Snapshot
from specops._plan_core import field_diff
from specops._project import Project
from specops._yaml import format_path
from specops.plan._cache import CacheStats, ParseCache
from specops.plan._json import JsonDump
from specops.spec import Estate
from specops.spec._load import build_estate
from specops.spec._validate import check_estate, check_signatures

__all__ = [
    "DesiredFingerprint",
    "DesiredState",
    "DesiredStateError",
    "ResourceReview",
    "Review",
    "default_cache_dir",
    "load_desired",
    "review_change",
]


@dataclass(frozen=True, slots=True)
class DesiredFingerprint(JsonDump):
    """What the desired state was read from; a saved plan is stale once this moves.

    ``content`` hashes every (path, blob id) pair under the specs root, so it
    also pins an uncommitted work tree, which has no tree id.
    """

    ref: str | None
    commit: str | None
    tree: str | None
    worktree: bool
    specs_root: str
    content: str



@dataclass(slots=True)
class DesiredState:
    estate: Estate
    fingerprint: DesiredFingerprint
    blobs: dict[str, str]
    stats: CacheStats
    snapshot: Snapshot | None = None


class DesiredStateError(SpecOpsError):
    """The desired state is missing or empty: never planned as "nothing is wanted"."""


def default_cache_dir(repo: GitRepo) -> Path:
    """``$SPECOPS_CACHE_DIR`` if set, else inside the git dir (never committed, per clone)."""
    cache_dir = Project.of(repo).cache_dir
    assert cache_dir is not None
    return cache_dir


def _require_root(repo: GitRepo, snapshot: Snapshot | None, specs_root: str) -> None:
    """A specs root that is missing or not a directory is an error naming the ref and the path."""
    if specs_root in ("", "."):
        return
    if snapshot is None:
        where = repo.workdir / specs_root
        if where.is_dir():
            return
        what = "is a file, not a directory of specs" if where.exists() else "does not exist"
        raise DesiredStateError(
            f"the specs root {specs_root}/ {what} in the work tree ({where}); "
            "fix --specs-root, or create it (an empty desired state is never planned)"
        )
    if repo.has_dir(snapshot.tree, specs_root):
        return
    what = "is a file, not a directory of specs" if repo.has_path(snapshot.tree, specs_root) else "does not exist"
    raise DesiredStateError(
        f"the specs root {specs_root}/ {what} at {snapshot.ref} ({snapshot.commit[:12]}); "
        "fix --specs-root or --ref, or commit the specs (an empty desired state is never planned)"
    )


def _content_id(blobs: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for path, blob in blobs:
        digest.update(f"{path}\0{blob}\n".encode())
    return digest.hexdigest()


def load_desired(
    repo: GitRepo,
    cache: ParseCache,
    *,
    ref: str = "HEAD",
    worktree: bool = False,
    specs_root: str = "specs",
    validate: bool = True,
) -> DesiredState:
    """Load and validate the estate at ``ref`` (from git objects) or in the work tree.

    Raises ``SpecError`` for invalid specs unless ``validate`` is false (a
    review's base may predate rules that its head satisfies, or have no specs
    yet); a missing specs root is a ``DesiredStateError`` unless ``validate`` is false.
    """
    specs_root = specs_root.strip("/")
    snapshot: Snapshot | None = None
    if worktree:
        if validate:
            _require_root(repo, None, specs_root)
        files = repo.worktree_blobs(specs_root)
        listing = [(path, blob) for path, blob, _ in files]
        parsed = cache.load(files, repo.read_blob)
        commit = repo.head_commit()
        fingerprint = DesiredFingerprint(None, commit, None, True, specs_root, _content_id(listing))
    else:
        snapshot = repo.resolve(ref)
        if validate:
            _require_root(repo, snapshot, specs_root)
        listing = repo.spec_blobs(snapshot.tree, specs_root)
        parsed = cache.load(((p, b, None) for p, b in listing), repo.read_blob)
        fingerprint = DesiredFingerprint(
            ref, snapshot.commit, snapshot.tree, False, specs_root, _content_id(listing)
        )
    problems: list[Diagnostic] = []
    for _, (_, diagnostics) in parsed:
        problems.extend(diagnostics)
    estate, duplicates = build_estate(repo.workdir, ((p, specs) for p, (specs, _) in parsed), problems)
    problems.extend(duplicates)
    if validate:
        problems.extend(_check(repo, estate, snapshot, cache))
        problems.extend(check_signatures(estate, repo.file_reader(snapshot)))
        errors = [d for d in problems if d.severity == "error"]
        if errors:
            raise SpecError.of(problems)
    estate.warnings = sorted((d for d in problems if d.severity == "warning"), key=Diagnostic.sort_key)
    return DesiredState(estate, fingerprint, dict(listing), cache.stats, snapshot)


def _check(repo: GitRepo, estate: Estate, snapshot: Snapshot | None, cache: ParseCache) -> list[Diagnostic]:
    problems = check_estate(estate, memo=cache)
    if snapshot is None:
        return problems
    # At a ref, an artifact must exist in that ref's tree, whatever the disk holds now.
    kept: list[Diagnostic] = []
    for problem in problems:
        if problem.code == "artifact_missing":
            continue
        kept.append(problem)
    for spec in estate:
        for path, uri, _ in spec.artifacts:
            if "://" in uri or repo.has_path(snapshot.tree, uri):
                continue
            line, column = spec.position((*path, "uri"))
            kept.append(
                Diagnostic(
                    spec.path, line, column,
                    f"artifact {uri} does not exist at {snapshot.ref} ({snapshot.commit[:12]})",
                    field=format_path((*path, "uri")),
                    hint="commit the file, or fix the path (it is relative to the repository root)",
                    code="artifact_missing", resource=spec.id,
                )
            )
    return kept


# -- the pull-request view ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResourceReview(JsonDump):
    """How one resource's desired state changes between base and head."""

    id: str
    status: str  # added | changed | removed
    fields: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)



@dataclass(frozen=True, slots=True)
class Review(JsonDump):
    base: DesiredFingerprint
    head: DesiredFingerprint
    files: list[FileChange]
    resources: list[ResourceReview]



def review_change(repo: GitRepo, base: DesiredState, head: DesiredState) -> Review:
    """Resources added, changed (with field paths) and removed from base to head.

    Driven by git's tree diff: only resources defined in files that changed
    can have changed, so an estate of 100,000 specs with a one-file pull
    request compares one file's resources.
    """
    files: list[FileChange] = []
    if base.snapshot is not None and head.snapshot is not None:
        files = repo.diff(base.snapshot, head.snapshot, head.fingerprint.specs_root)
        touched = {p for f in files for p in (f.old_path, f.new_path) if p}
    else:  # the work tree has no tree id: compare blob listings instead
        touched = {
            p for p in base.blobs.keys() | head.blobs.keys() if base.blobs.get(p) != head.blobs.get(p)
        }
    old = {s.id: s for s in base.estate.specs.values() if s.path in touched}
    new = {s.id: s for s in head.estate.specs.values() if s.path in touched}
    out: list[ResourceReview] = []
    for rid in sorted(old.keys() | new.keys()):
        before = base.estate.specs.get(rid)
        after = head.estate.specs.get(rid)
        if before is None and after is not None:
            out.append(ResourceReview(rid, "added", files=[after.path]))
        elif after is None and before is not None:
            out.append(ResourceReview(rid, "removed", files=[before.path]))
        elif before is not None and after is not None and before.hash != after.hash:
            paths = [
                format_path(p)
                for p, _, _ in field_diff(before.resource.canonical(), after.resource.canonical())
            ]
            out.append(ResourceReview(rid, "changed", paths, sorted({before.path, after.path})))
    return Review(base.fingerprint, head.fingerprint, files, out)
