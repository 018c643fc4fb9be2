"""Policy as code: Rego policies judge every plan; waivers, approvals and reports.

The names load on first use: ``specops.plan`` imports this package's result
classes, and the evaluator imports the planner, so nothing heavy is
imported here eagerly.
"""

from __future__ import annotations

import importlib
from typing import Any

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

_WHERE = {
    "Decision": "_model",
    "PolicyReport": "_model",
    "PolicyResult": "_model",
    "PolicyRule": "_model",
    "DecisionCache": "_evaluate",
    "evaluate_plan": "_evaluate",
    "EmbeddedEngine": "_engine",
    "PolicyEngine": "_engine",
    "PolicyEngineError": "_engine",
    "OpaEngine": "_opa",
    "PolicyLoadError": "_bundle",
    "load_bundle": "_bundle",
    "PolicyOptions": "_check",
    "check_plan": "_check",
    "load_config": "_config",
    "load_waivers": "_waivers",
    "render_github": "_report",
    "render_sarif": "_report",
    "run_tests": "_testing",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'specops.policy' has no attribute {name!r}")
    return getattr(importlib.import_module(f"specops.policy.{module}"), name)
