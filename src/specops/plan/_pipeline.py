"""The one pipeline every planning command runs: load -> read live -> plan -> policy -> a finished ``Plan``.

``specops plan``, ``apply --auto-approve``, ``status`` and the demo call
``run_pipeline``; nothing else loads the estate for them. The estate is
loaded once per ref that specs are read from (the head, plus the base with
``--base``), and the policies judge that same estate.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from specops import _progress as progress
from specops._project import Project
from specops._version import __version__
from specops.plan._cache import ParseCache
from specops.plan._desired import DesiredState, DesiredStateError, load_desired, review_change
from specops.plan._live import LiveState, read_live
from specops.plan._model import Plan, TargetFingerprint
from specops.plan._planner import Planned, nodes_from_estate, plan_changes

__all__ = ["PlanRequest", "PlanResult", "paused_gc", "read_desired", "run_pipeline"]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic GC while an estate loads: it builds ~10 objects per spec field.

    Those objects are acyclic and live until the plan is made, yet every
    generation-0 collection rescans them: measured on 10,000 specs, the GC was
    60% of a warm plan. Reference counting still frees everything.

    Re-enabling is where the bill would arrive: the first allocation after
    ``gc.enable()`` collects a generation 0 holding every object made while
    paused (measured: 0.84 s of a 10,000-spec plan). Freezing first moves
    them to the permanent generation; unfreezing moves them to the oldest,
    which is collected only after it grows by a quarter. Neither scans.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()

@dataclass(frozen=True, slots=True)
class PlanRequest:
    """What one plan is asked for (the settings of the repository are the ``Project``'s)."""

    ref: str = "HEAD"
    worktree: bool = False
    base: str | None = None
    live: Path | str | None = None
    """A live-state snapshot file instead of asking the targets."""
    allow_unreachable: bool = False
    allow_empty: bool = False
    """Allow a plan that deletes every resource of a target (Argo CD's ``allowEmpty``)."""
    target: str | None = None
    timeout: float = 10.0
    retry_rolled_back: bool = False
    """Plan a Model version a target rolled back again, with the same spec (``--retry-rolled-back``)."""


@dataclass(frozen=True, slots=True)
class PlanResult:
    plan: Plan
    desired: DesiredState
    """The estate the plan was made from (apply uses it; nothing loads it again)."""
    warnings: tuple[str, ...] = ()


def read_desired(project: Project, *, ref: str = "HEAD", worktree: bool = False, validate: bool = True) -> DesiredState:
    """The desired state at ``ref`` (or in the work tree), through the project's parse cache."""
    cache = ParseCache(project.cache_dir)
    with paused_gc():
        try:
            return load_desired(
                project.repo, cache, ref=ref, worktree=worktree, specs_root=project.specs_root, validate=validate
            )
        finally:
            cache.close()


def run_pipeline(project: Project, request: PlanRequest | None = None) -> PlanResult:
    """Plan the desired state against live state and judge it; the plan records whether it is applyable."""
    request = request or PlanRequest()
    with paused_gc():
        cache = ParseCache(project.cache_dir)
        try:
            desired = load_desired(
                project.repo, cache, ref=request.ref, worktree=request.worktree, specs_root=project.specs_root
            )
            review = None
            base_hashes = None
            if request.base is not None:
                before = load_desired(
                    project.repo, cache, ref=request.base, specs_root=project.specs_root, validate=False
                )
                review = review_change(project.repo, before, desired)
                base_hashes = {rid: s.hash for rid, s in before.estate.specs.items()}
            with progress.task("Reading live state" if request.live is None else "Reading the live-state snapshot"):
                # The cache remembers a snapshot file's running hashes by the digest of its bytes.
                state = read_live(
                    desired.estate,
                    request.live,
                    allow_unreachable=request.allow_unreachable,
                    timeout=request.timeout,
                    memo=cache,
                )
        finally:
            cache.close()
        planned = plan_changes(
            nodes_from_estate(desired.estate), state, base_hashes=base_hashes, target=request.target
        )
        # A Model version a target rolled back stays rolled back (issue 12): blocked, with its reason.
        from specops.watch import rolled_back_blocks

        # Only a change that applies a document can apply a rolled-back version: not the in-sync entries.
        applying = [c for c in planned.changes if c.after is not None]
        planned.blocked += rolled_back_blocks(applying, state, retry=request.retry_rolled_back)
        planned.summary.blocked = len(planned.blocked)
    if not request.allow_empty and request.target is None:
        _refuse_empty(desired, state, planned)
    draft = Plan(
        desired=desired.fingerprint,
        live={
            name: TargetFingerprint(t.revision, t.source, t.reachable, t.url)  # type: ignore[arg-type]
            for name, t in sorted(state.targets.items())
        },
        summary=planned.summary,
        resource_changes=planned.changes,
        waves=planned.waves,
        blocked_deletions=planned.blocked,
        review=review,
        target=request.target,
        specops_version=__version__,
    )
    report = None
    if project.policy is not None:
        from specops.policy import check_plan

        report = check_plan(draft, project.policy, estate=desired.estate, repo=project.repo)
    warnings = () if request.worktree else _uncommitted(project, desired)
    absent: Literal["none_configured", "skipped"] = "skipped" if project.policy is None else "none_configured"
    with paused_gc():  # the plan id writes an object per entry: measured, 3.7 s of GC at 100,000 entries
        plan = draft.finish(report, absent=absent)
    return PlanResult(plan, desired, warnings)


def _refuse_empty(desired: DesiredState, state: LiveState, planned: Planned) -> None:
    """Refuse to plan deleting everything a target runs (or declaring nothing at all)."""
    fp = desired.fingerprint
    where = "the work tree" if fp.worktree else f"{fp.ref} ({(fp.commit or '')[:12]})"
    if not desired.estate.specs:
        raise DesiredStateError(
            f"the specs root {fp.specs_root}/ at {where} declares no resources; "
            "an empty desired state would delete everything live "
            "(fix --specs-root or --ref; to really empty the targets, plan with --allow-empty)"
        )
    if not planned.summary.delete and not planned.blocked:
        return  # nothing is deleted: no target can lose everything
    deleted = {c.id for c in planned.changes if c.action == "delete"} | {b.id for b in planned.blocked}
    for name, target in sorted(state.targets.items()):
        running = set(target.resources)
        if running and running <= deleted:
            raise DesiredStateError(
                f"the plan would delete every resource target {name} runs ({len(running)}): "
                f"the specs at {where} under {fp.specs_root}/ declare nothing for it "
                "(fix --specs-root or --ref; to really empty the target, plan with --allow-empty)"
            )


def _uncommitted(project: Project, desired: DesiredState) -> tuple[str, ...]:
    """A plan at a ref says so when the work tree holds spec changes it does not include."""
    changed = project.repo.uncommitted(project.specs_root)
    if not changed:
        return ()
    shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    return (
        f"the work tree has uncommitted changes under {project.specs_root}/ ({shown}) that this plan "
        f"does not include: it reads {desired.fingerprint.ref}; plan them with --worktree",
    )
