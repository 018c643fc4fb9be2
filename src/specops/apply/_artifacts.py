"""Where the runner gets bytes it must ship: model artifacts and dataset rows.

Repository paths are read from the git tree of the plan's commit (never the
checkout, which may hold anything), work-tree plans from disk, ``file://``
uris from the local file system. Other schemes (``s3://`` and friends) are
the target's to fetch: the runner only checks the target has the bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from specops._errors import SpecOpsError
from specops._git import GitError, GitRepo
from specops.plan import DesiredFingerprint

__all__ = ["ArtifactError", "read_artifact"]


class ArtifactError(SpecOpsError):
    """An artifact could not be read, or its bytes do not match its sha256."""


def _from_tree(repo: GitRepo, commit: str, path: str) -> bytes:
    try:
        return repo.read_path(commit, path)
    except GitError as exc:
        raise ArtifactError(f"{path} does not exist at commit {commit[:12]} (commit the artifact)") from exc


def read_artifact(repo: GitRepo, desired: DesiredFingerprint, artifact: dict[str, Any], owner: str) -> bytes:
    """The bytes of ``artifact`` (``{uri, sha256}``) as the plan's desired state names them."""
    uri = str(artifact["uri"])
    parts = urlsplit(uri)
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ArtifactError(f"{owner}: cannot read artifact {uri}: {exc.strerror}") from exc
    elif "://" in uri:
        raise ArtifactError(
            f"{owner}: artifact {uri} is not on the target and this runner uploads only repository "
            "paths and file:// uris (stage it on the target, or use a repository path)"
        )
    elif desired.worktree or not desired.commit:
        try:
            data = (repo.workdir / uri).read_bytes()
        except OSError as exc:
            raise ArtifactError(f"{owner}: cannot read artifact {uri}: {exc.strerror}") from exc
    else:
        data = _from_tree(repo, desired.commit, uri)
    digest = hashlib.sha256(data).hexdigest()
    if digest != artifact["sha256"]:
        raise ArtifactError(
            f"{owner}: artifact {uri} has sha256 {digest}, the spec says {artifact['sha256']} "
            "(rebuild the artifact or fix spec.artifact.sha256)"
        )
    return data
