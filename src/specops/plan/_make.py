"""``make_plan`` and ``load_desired_state``: shortcuts over the pipeline for scripts and tests."""

from __future__ import annotations

from pathlib import Path

from specops._project import Project
from specops.plan._desired import DesiredState
from specops.plan._model import Plan
from specops.plan._pipeline import PlanRequest, read_desired, run_pipeline

__all__ = ["load_desired_state", "make_plan"]


def load_desired_state(
    repo_path: Path | str = ".",
    *,
    ref: str = "HEAD",
    worktree: bool = False,
    specs_root: str = "specs",
    cache_dir: Path | bool | None = True,
) -> DesiredState:
    """The validated desired state alone (``.stats`` says how many files were parsed)."""
    project = Project.discover(repo_path, specs_root=specs_root, cache=_cache_setting(cache_dir))
    return read_desired(project, ref=ref, worktree=worktree)


def make_plan(
    repo_path: Path | str = ".",
    *,
    ref: str = "HEAD",
    worktree: bool = False,
    base: str | None = None,
    live: Path | str | None = None,
    allow_unreachable: bool = False,
    allow_empty: bool = False,
    target: str | None = None,
    specs_root: str = "specs",
    cache_dir: Path | bool | None = True,
    timeout: float = 10.0,
    retry_rolled_back: bool = False,
) -> Plan:
    """Plan the desired state at ``ref`` (or the work tree) against live state, without policies.

    A shortcut over ``run_pipeline`` for scripts and tests. ``cache_dir=True``
    uses the default parse cache (in the git dir), ``False`` or ``None``
    parses everything in memory.
    """
    project = Project.discover(repo_path, specs_root=specs_root, cache=_cache_setting(cache_dir))
    request = PlanRequest(
        ref=ref, worktree=worktree, base=base, live=live, allow_unreachable=allow_unreachable,
        allow_empty=allow_empty, target=target, timeout=timeout, retry_rolled_back=retry_rolled_back,
    )  # fmt: skip
    return run_pipeline(project, request).plan


def _cache_setting(cache_dir: Path | bool | None) -> bool | Path:
    return cache_dir if isinstance(cache_dir, Path | bool) else False
