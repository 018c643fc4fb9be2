"""Whether a saved plan may still be applied: policy, desired state and live state.

A plan is a promise about two moving things. Desired state: the commit and
tree (or, for a work-tree plan, the content fingerprint) it was made from
must still be what its ref names. Live state: every target's revision must
still be what the plan saw (checked once the runner holds the targets'
leases, so nothing can move between the check and the change). And a plan
that policy blocked is never applied, whatever else holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from specops._errors import SpecOpsError
from specops.plan._model import plan_id_of

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


def replan_hint(doc: dict[str, Any]) -> str:
    desired = doc.get("desired") or {}
    source = "--worktree" if desired.get("worktree") else f"--ref {desired.get('ref') or 'HEAD'}"
    return f"re-plan with `specops plan {source} --out PLAN_FILE` and apply the new plan"


def load_plan(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanRefusedError(f"cannot read plan {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise PlanRefusedError(f"{path}:{exc.lineno}:{exc.colno}: not a plan (invalid JSON: {exc.msg})") from exc
    if not isinstance(doc, dict) or "plan_id" not in doc or "resource_changes" not in doc:
        raise PlanRefusedError(f"{path} is not a plan (save one with `specops plan --out {path}`)")
    if plan_id_of(doc) != doc["plan_id"]:
        raise PlanRefusedError(
            f"{path} was modified after it was made (its plan_id does not match its content); "
            + replan_hint(doc)
        )
    if doc.get("format_version") != 1:
        raise PlanRefusedError(
            f"{path}: plan format_version {doc.get('format_version')!r} is not supported "
            "(this SpecOps applies version 1; re-plan with this version)"
        )
    return doc


def _policy_blocks(doc: dict[str, Any]) -> list[str]:
    policy = doc.get("policy")
    if not isinstance(policy, dict):
        return []
    blocked = policy.get("blocked")
    if not blocked and policy.get("allowed", True) is not False:
        return []
    reasons: list[str] = []
    for key in ("results", "denials", "deny", "violations"):
        for item in policy.get(key) or []:
            if not isinstance(item, dict):
                reasons.append(str(item))
                continue
            status = item.get("status")
            if status is not None and status not in ("denied", "pending_approval"):
                continue  # warned, approved or waived: not blocking
            if status is None and item.get("outcome", "deny") not in ("deny", "approval"):
                continue
            where = item.get("resource") or "plan"
            text = item.get("message") or item.get("rule") or "denied"
            rule = f" [{item['rule']}]" if item.get("rule") else ""
            if status == "pending_approval" and item.get("approvers"):
                text = f"{text} (needs approval by {', '.join(item['approvers'])})"
            reasons.append(f"{where}: {text}{rule}")
    if isinstance(blocked, list):
        reasons.extend(str(b) for b in blocked)
    return reasons or ["the plan's policy section marks it blocked"]


def check_policy(doc: dict[str, Any]) -> None:
    reasons = _policy_blocks(doc)
    if reasons:
        shown = "; ".join(reasons[:5]) + (f"; and {len(reasons) - 5} more" if len(reasons) > 5 else "")
        raise PlanRefusedError(
            f"plan {str(doc.get('plan_id'))[:12]} is blocked by policy: {shown} "
            "(fix the change, or add a reviewed waiver / the required approvals, then re-plan)"
        )
    if (doc.get("summary") or {}).get("unknown"):
        raise PlanRefusedError(
            "the plan has changes of unknown effect (a target was unreachable when it was made); "
            "make the target reachable and " + replan_hint(doc)
        )
    rolled_back = [b for b in doc.get("blocked_deletions") or [] if b.get("reason") == "rolled_back"]
    if rolled_back:
        raise PlanRefusedError("; ".join(str(b.get("message")) for b in rolled_back))
    if (doc.get("summary") or {}).get("blocked"):
        ids = ", ".join(b.get("id", "?") for b in doc.get("blocked_deletions") or [])
        raise PlanRefusedError(
            f"the plan would delete or replace protected resources ({ids}); "
            "set metadata.protected: false in a reviewed change first, then re-plan"
        )


def check_desired(doc: dict[str, Any], repo: Path) -> None:
    """Refuse a plan whose desired state moved: its ref names another commit or tree now."""
    from specops._git import GitRepo
    from specops.plan import load_desired_state

    desired = doc.get("desired") or {}
    if desired.get("worktree"):
        now = load_desired_state(repo, worktree=True, specs_root=desired.get("specs_root", "specs"))
        if now.fingerprint.content != desired.get("content"):
            raise PlanRefusedError(
                "desired state moved since the plan was made: the specs in the work tree changed "
                f"(content {str(desired.get('content'))[:12]} -> {now.fingerprint.content[:12]}); "
                + replan_hint(doc)
            )
        return
    ref = desired.get("ref") or "HEAD"
    snapshot = GitRepo.discover(repo).resolve(ref)
    if snapshot.commit != desired.get("commit") or snapshot.tree != desired.get("tree"):
        what = "commit" if snapshot.commit != desired.get("commit") else "tree"
        raise PlanRefusedError(
            f"desired state moved since the plan was made: {ref} is at {what} "
            f"{(snapshot.commit if what == 'commit' else snapshot.tree)[:12]}, the plan was made at "
            f"{str(desired.get(what))[:12]}; " + replan_hint(doc)
        )


def check_live(doc: dict[str, Any], revisions: dict[str, str | None]) -> None:
    """Refuse a plan when a target's revision differs from the one it saw."""
    moved = []
    for name, fingerprint in sorted((doc.get("live") or {}).items()):
        if name not in revisions:
            continue
        planned = fingerprint.get("revision")
        if planned != revisions[name]:
            moved.append(f"target {name} is at revision {revisions[name]}, the plan saw {planned}")
    if moved:
        raise PlanRefusedError(
            "live state moved since the plan was made: " + "; ".join(moved) + "; " + replan_hint(doc)
        )
