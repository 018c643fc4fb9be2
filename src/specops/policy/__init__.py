"""Policy as code: Rego policies judge every plan; waivers, approvals and reports.

Policies judge the plan *document* plus the estate it was made from, so
this package imports nothing from ``specops.plan``; the plan holds only the
result type (``PolicyReport``).
"""

from __future__ import annotations

import typing

from specops._lazy import exports as _exports
from specops._lazy import homes as _homes

if typing.TYPE_CHECKING:
    from specops.policy._bundle import PolicyLoadError, load_bundle
    from specops.policy._check import PolicyOptions, check_plan
    from specops.policy._config import load_config
    from specops.policy._engine import EmbeddedEngine, PolicyEngine, PolicyEngineError
    from specops.policy._evaluate import DecisionCache, evaluate_plan
    from specops.policy._model import Decision, PolicyReport, PolicyResult, PolicyRule
    from specops.policy._opa import OpaEngine
    from specops.policy._report import render_github, render_sarif
    from specops.policy._testing import run_tests
    from specops.policy._waivers import load_waivers

__all__ = [
    "Decision",
    "DecisionCache",
    "EmbeddedEngine",
    "OpaEngine",
    "PolicyEngine",
    "PolicyEngineError",
    "PolicyLoadError",
    "PolicyOptions",
    "PolicyReport",
    "PolicyResult",
    "PolicyRule",
    "check_plan",
    "evaluate_plan",
    "load_bundle",
    "load_config",
    "load_waivers",
    "render_github",
    "render_sarif",
    "run_tests",
]

_HOMES = {
    **_homes("specops.policy._bundle", ("PolicyLoadError", "load_bundle")),
    **_homes("specops.policy._check", ("PolicyOptions", "check_plan")),
    **_homes("specops.policy._config", ("load_config",)),
    **_homes("specops.policy._engine", ("EmbeddedEngine", "PolicyEngine", "PolicyEngineError")),
    **_homes("specops.policy._evaluate", ("DecisionCache", "evaluate_plan")),
    **_homes("specops.policy._model", ("Decision", "PolicyReport", "PolicyResult", "PolicyRule")),
    **_homes("specops.policy._opa", ("OpaEngine",)),
    **_homes("specops.policy._report", ("render_github", "render_sarif")),
    **_homes("specops.policy._testing", ("run_tests",)),
    **_homes("specops.policy._waivers", ("load_waivers",)),
}  # fmt: skip
__getattr__, __dir__ = _exports(__name__, __all__, _HOMES)
