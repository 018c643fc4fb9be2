"""The planner: desired state from git, live state from targets, and the plan between them."""

from __future__ import annotations

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
