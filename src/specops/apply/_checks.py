"""Whether a saved plan may still be applied: its recorded verdict, desired state and live state.

A plan is a promise about two moving things. Desired state: the commit and
tree (or, for a work-tree plan, the content fingerprint) it was made from
must still be what its ref names. Live state: every target's revision must
still be what the plan saw (checked once the runner holds the targets'
leases, so nothing can move between the check and the change). Whether the
plan may be applied at all (policy, unknown effects, protected resources)
was decided when it was made: ``Plan.applyable`` and ``Plan.refusals``;
apply enforces that record and never judges the plan again.
"""

from __future__ import annotations

from pathlib import Path

from specops._errors import SpecOpsError
from specops._project import Project
from specops.plan import DesiredState, Plan, PlanFormatError, read_desired

__all__ = [
    "PlanRefusedError",
    "check_desired",
    "check_live",
    "check_policy",
    "load_plan",
    "replan_hint",
]


class PlanRefusedError(SpecOpsError):
    """The plan cannot be applied as it is (blocked, stale or incomplete)."""


def replan_hint(plan: Plan) -> str:
    source = "--worktree" if plan.desired.worktree else f"--ref {plan.desired.ref or 'HEAD'}"
    return f"re-plan with `specops plan {source} --out PLAN_FILE` and apply the new plan"


def load_plan(path: Path) -> Plan:
    """A saved plan, validated by the model that wrote it (``Plan.from_json``)."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise PlanRefusedError(f"cannot read plan {path}: {exc.strerror}") from exc
    try:
        return Plan.from_json(text)
    except PlanFormatError as exc:
        raise PlanRefusedError(f"{path} {exc}") from exc


def check_policy(plan: Plan) -> None:
    """Refuse a plan its own record says is not applyable, with the reasons it recorded."""
    if plan.applyable and not plan.refusals:
        return
    policy = [r.message for r in plan.refusals if r.reason == "policy"]
    if policy or (plan.policy is not None and plan.policy.blocked):
        reasons = policy or ["the plan's policy section marks it blocked"]
        shown = "; ".join(reasons[:5]) + (f"; and {len(reasons) - 5} more" if len(reasons) > 5 else "")
        raise PlanRefusedError(
            f"plan {plan.plan_id[:12]} is blocked by policy: {shown} "
            "(fix the change, or add a reviewed waiver / the required approvals, then re-plan)"
        )
    if any(r.reason == "unknown" for r in plan.refusals):
        raise PlanRefusedError(
            "the plan has changes of unknown effect (a target was unreachable when it was made); "
            "make the target reachable and " + replan_hint(plan)
        )
    rolled_back = [r.message for r in plan.refusals if r.reason == "rolled_back"]
    if rolled_back:
        raise PlanRefusedError("; ".join(rolled_back))
    protected = [r.message for r in plan.refusals if r.reason == "protected"]
    raise PlanRefusedError(
        f"the plan {protected[0] if protected else 'is not applyable'}; "
        "set metadata.protected: false in a reviewed change first, then re-plan"
    )


def check_desired(plan: Plan, project: Project) -> DesiredState:
    """The estate the plan was made from, loaded once; refused when its ref or content moved."""
    fp = plan.desired
    if fp.worktree:
        now = read_desired(project, worktree=True)
        if now.fingerprint.content != fp.content:
            raise PlanRefusedError(
                "desired state moved since the plan was made: the specs in the work tree changed "
                f"(content {fp.content[:12]} -> {now.fingerprint.content[:12]}); " + replan_hint(plan)
            )
        return now
    ref = fp.ref or "HEAD"
    snapshot = project.repo.resolve(ref)
    if snapshot.commit != fp.commit or snapshot.tree != fp.tree:
        what = "commit" if snapshot.commit != fp.commit else "tree"
        planned = fp.commit if what == "commit" else fp.tree
        raise PlanRefusedError(
            f"desired state moved since the plan was made: {ref} is at {what} "
            f"{(snapshot.commit if what == 'commit' else snapshot.tree)[:12]}, the plan was made at "
            f"{str(planned)[:12]}; " + replan_hint(plan)
        )
    return read_desired(project, ref=snapshot.commit)


def check_live(plan: Plan, revisions: dict[str, str | None]) -> None:
    """Refuse a plan when a target's revision differs from the one it saw."""
    moved = []
    for name, fingerprint in sorted(plan.live.items()):
        if name not in revisions:
            continue
        if fingerprint.revision != revisions[name]:
            moved.append(f"target {name} is at revision {revisions[name]}, the plan saw {fingerprint.revision}")
    if moved:
        raise PlanRefusedError(
            "live state moved since the plan was made: " + "; ".join(moved) + "; " + replan_hint(plan)
        )
