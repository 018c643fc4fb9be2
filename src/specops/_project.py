"""``Project``: every setting a command needs, resolved once from flags, environment and ``specops.yaml``.

A command builds one ``Project`` and passes it down; nothing below it
discovers the repository again or reads the environment again. Environment
variables read here (documented in the README):

- ``SPECOPS_CACHE_DIR``: the parse cache (default: ``specops-cache`` in the git dir)
- ``SPECOPS_JOURNAL``: the apply journal (default: ``specops/journal.jsonl`` in the git dir)
- ``SPECOPS_LOG_DIR``: where an internal error's traceback goes (default: ``$TMPDIR/specops``)

Policy settings: the flags (``PolicyOptions``) here; ``specops.yaml`` (its
``policy`` section) is read by the policy step, from the work tree or, with
``--policy-ref``, from git at that ref.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from specops._git import GitRepo
from specops.policy._check import PolicyOptions

__all__ = ["Project", "default_log_dir"]


def default_log_dir() -> Path:
    """``$SPECOPS_LOG_DIR``, else ``specops`` in the temporary directory."""
    return Path(os.environ.get("SPECOPS_LOG_DIR") or Path(tempfile.gettempdir()) / "specops")


@dataclass(frozen=True, slots=True)
class Project:
    """One repository's settings for one command."""

    repo: GitRepo
    specs_root: str = "specs"
    cache_dir: Path | None = None
    """The parse cache; ``None`` parses every file in memory."""
    journal: Path | None = None
    policy: PolicyOptions | None = None
    """``None``: no policy evaluation (``--no-policy``)."""

    @classmethod
    def discover(
        cls,
        path: Path | str = ".",
        *,
        specs_root: str = "specs",
        cache: bool | Path = True,
        journal: Path | str | None = None,
        policy: PolicyOptions | None = None,
    ) -> Project:
        """Find the repository holding ``path`` (once) and resolve the rest from it and the environment."""
        repo = GitRepo.discover(path)
        return cls.of(repo, specs_root=specs_root, cache=cache, journal=journal, policy=policy)

    @classmethod
    def of(
        cls,
        repo: GitRepo,
        *,
        specs_root: str = "specs",
        cache: bool | Path = True,
        journal: Path | str | None = None,
        policy: PolicyOptions | None = None,
    ) -> Project:
        if cache is True:
            override = os.environ.get("SPECOPS_CACHE_DIR")
            cache_dir: Path | None = Path(override) if override else repo.git_dir / "specops-cache"
        else:
            cache_dir = cache if isinstance(cache, Path) else None
        if journal is None:
            override = os.environ.get("SPECOPS_JOURNAL")
            journal = Path(override) if override else repo.git_dir / "specops" / "journal.jsonl"
        return cls(repo, specs_root.strip("/") or ".", cache_dir, Path(journal), policy)

    @property
    def root(self) -> Path:
        """The work tree's top directory."""
        return self.repo.workdir
