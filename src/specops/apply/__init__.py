"""Apply: runners that roll plans out safely, ``specops status``, and the demo.

The runner changes targets only through their drivers (``specops.targets``),
under their leases (``_leases``), in the plan's waves, journaling every step
(``_journal``); models roll out direct or as canaries judged against their
SLO (``_rollout``, ``_analysis``) and roll back by themselves; an
interrupted apply is made consistent by the next one (``_recover``).
"""

from __future__ import annotations

import typing

from specops._lazy import exports as _exports
from specops._lazy import homes as _homes

if typing.TYPE_CHECKING:
    from specops.apply._analysis import Verdict, VersionWindow, judge, quantile, window
    from specops.apply._checks import (
        PlanRefusedError,
        check_desired,
        check_live,
        check_policy,
        load_plan,
    )
    from specops.apply._cli import add_apply_parsers, cmd_apply, cmd_demo, cmd_status
    from specops.apply._client import (
        AdminError,
        LeaseHeldError,
        RevisionConflictError,
        TargetDownError,
    )
    from specops.apply._journal import Journal, OpenApply
    from specops.apply._local import LocalTarget, free_port
    from specops.apply._rollout import RolloutFailedError
    from specops.apply._runner import ApplyOptions, ApplyResult, apply_plan
    from specops.apply._status import (
        ResourceStatus,
        StatusReport,
        collect_status,
        render_status_text,
    )
    from specops.apply._traffic import TrafficCounts, TrafficGenerator, rows_from_csv

__all__ = [
    "AdminError",
    "ApplyOptions",
    "ApplyResult",
    "Journal",
    "LeaseHeldError",
    "LocalTarget",
    "OpenApply",
    "PlanRefusedError",
    "ResourceStatus",
    "RevisionConflictError",
    "RolloutFailedError",
    "StatusReport",
    "TargetDownError",
    "TrafficCounts",
    "TrafficGenerator",
    "Verdict",
    "VersionWindow",
    "add_apply_parsers",
    "apply_plan",
    "check_desired",
    "check_live",
    "check_policy",
    "cmd_apply",
    "cmd_demo",
    "cmd_status",
    "collect_status",
    "free_port",
    "judge",
    "load_plan",
    "quantile",
    "render_status_text",
    "rows_from_csv",
    "window",
]

_HOMES = {
    **_homes("specops.apply._analysis", ("Verdict", "VersionWindow", "judge", "quantile", "window")),
    **_homes("specops.apply._checks", ("PlanRefusedError", "check_desired", "check_live", "check_policy", "load_plan")),
    **_homes("specops.apply._cli", ("add_apply_parsers", "cmd_apply", "cmd_demo", "cmd_status")),
    **_homes("specops.apply._client", ("AdminError", "LeaseHeldError", "RevisionConflictError", "TargetDownError")),
    **_homes("specops.apply._journal", ("Journal", "OpenApply")),
    **_homes("specops.apply._local", ("LocalTarget", "free_port")),
    **_homes("specops.apply._rollout", ("RolloutFailedError",)),
    **_homes("specops.apply._runner", ("ApplyOptions", "ApplyResult", "apply_plan")),
    **_homes("specops.apply._status", ("ResourceStatus", "StatusReport", "collect_status", "render_status_text")),
    **_homes("specops.apply._traffic", ("TrafficCounts", "TrafficGenerator", "rows_from_csv")),
}  # fmt: skip
__getattr__, __dir__ = _exports(__name__, __all__, _HOMES)
