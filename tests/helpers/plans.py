"""Small typed plans for the runner's unit tests (real ``Plan`` values, finished as the pipeline does)."""

from __future__ import annotations

from typing import Any

from specops.plan import Plan, Summary
from specops.plan._desired import DesiredFingerprint
from specops.plan._model import TargetFingerprint


def plan_of(
    *,
    ref: str = "HEAD",
    live: dict[str, str | None] | None = None,
    policy: Any = None,
    **fields: Any,
) -> Plan:
    """A finished plan; ``live`` maps target names to the revisions the plan saw."""
    fields.setdefault("summary", Summary())
    fields.setdefault("resource_changes", [])
    fields.setdefault("waves", [])
    plan = Plan(
        desired=DesiredFingerprint(ref, "c0ffee" * 6 + "c0ff", "7ree" * 10, False, "specs", "x"),
        live={name: TargetFingerprint(rev, "http", True, f"http://{name}") for name, rev in (live or {}).items()},
        **fields,
    )
    return plan.finish(policy)
