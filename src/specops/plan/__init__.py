"""The planner: desired state from git, live state from targets, and the plan between them."""

from __future__ import annotations

import typing

from specops._lazy import exports as _exports
from specops._lazy import homes as _homes

if typing.TYPE_CHECKING:
    from specops.plan._cache import CacheStats, ParseCache
    from specops.plan._cli import add_plan_parser, cmd_plan
    from specops.plan._desired import (
        DesiredFingerprint,
        DesiredState,
        DesiredStateError,
        ResourceReview,
        Review,
    )
    from specops.plan._live import (
        LIVE_FORMAT_VERSION,
        LiveState,
        LiveStateError,
        TargetUnreachableError,
        live_state_schema,
        read_live,
        read_snapshot,
    )
    from specops.plan._make import load_desired_state, make_plan
    from specops.plan._model import (
        PLAN_FORMAT_VERSION,
        BlockedChange,
        FieldChange,
        Plan,
        PlanFormatError,
        Refusal,
        ResourceChange,
        Summary,
        plan_schema,
    )
    from specops.plan._pipeline import PlanRequest, PlanResult, read_desired, run_pipeline
    from specops.plan._planner import IMMUTABLE_FIELDS, DependencyCycleError, PlanError, placement
    from specops.plan._render import render_json, render_markdown, render_text, summary_line

__all__ = [
    "IMMUTABLE_FIELDS",
    "LIVE_FORMAT_VERSION",
    "PLAN_FORMAT_VERSION",
    "BlockedChange",
    "CacheStats",
    "DependencyCycleError",
    "DesiredFingerprint",
    "DesiredState",
    "DesiredStateError",
    "FieldChange",
    "LiveState",
    "LiveStateError",
    "ParseCache",
    "Plan",
    "PlanError",
    "PlanFormatError",
    "PlanRequest",
    "PlanResult",
    "Refusal",
    "ResourceChange",
    "ResourceReview",
    "Review",
    "Summary",
    "TargetUnreachableError",
    "add_plan_parser",
    "cmd_plan",
    "live_state_schema",
    "load_desired_state",
    "make_plan",
    "placement",
    "plan_schema",
    "read_desired",
    "read_live",
    "read_snapshot",
    "render_json",
    "render_markdown",
    "render_text",
    "run_pipeline",
    "summary_line",
]

_HOMES = {
    **_homes("specops.plan._cache", ("CacheStats", "ParseCache")),
    **_homes("specops.plan._cli", ("add_plan_parser", "cmd_plan")),
    **_homes("specops.plan._desired", ("DesiredFingerprint", "DesiredState", "DesiredStateError", "ResourceReview", "Review")),
    **_homes("specops.plan._live", ("LIVE_FORMAT_VERSION", "LiveState", "LiveStateError", "TargetUnreachableError", "live_state_schema", "read_live", "read_snapshot")),
    **_homes("specops.plan._make", ("load_desired_state", "make_plan")),
    **_homes("specops.plan._model", ("PLAN_FORMAT_VERSION", "BlockedChange", "FieldChange", "Plan", "PlanFormatError", "Refusal", "ResourceChange", "Summary", "plan_schema")),
    **_homes("specops.plan._pipeline", ("PlanRequest", "PlanResult", "read_desired", "run_pipeline")),
    **_homes("specops.plan._planner", ("IMMUTABLE_FIELDS", "DependencyCycleError", "PlanError", "placement")),
    **_homes("specops.plan._render", ("render_json", "render_markdown", "render_text", "summary_line")),
}  # fmt: skip
__getattr__, __dir__ = _exports(__name__, __all__, _HOMES)
