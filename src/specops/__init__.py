"""SpecOps: GitOps and policy-as-code for AI operations."""

from __future__ import annotations

import typing

from specops._core import COMPILED, canonical_bytes, canonical_hash
from specops._errors import Diagnostic, SpecError, SpecOpsError
from specops._version import __version__
from specops.spec import (
    KINDS,
    SLO,
    Dataset,
    Estate,
    Guardrail,
    LoadedSpec,
    Model,
    Prompt,
    Resource,
    Target,
    json_schema,
    load_estate,
)

if typing.TYPE_CHECKING:
    from specops.plan import Plan

__all__ = [
    "COMPILED",
    "KINDS",
    "SLO",
    "Dataset",
    "Diagnostic",
    "Estate",
    "Guardrail",
    "LoadedSpec",
    "Model",
    "Plan",
    "Prompt",
    "Resource",
    "SpecError",
    "SpecOpsError",
    "Target",
    "__version__",
    "canonical_bytes",
    "canonical_hash",
    "json_schema",
    "load_estate",
]


def __getattr__(name: str) -> typing.Any:
    # ``specops.Plan`` loads the planner on first use, so ``import specops`` stays light for
    # ``specops serve`` processes, and ``import specops.policy`` loads nothing of the planner.
    if name == "Plan":
        from specops.plan import Plan

        return Plan
    raise AttributeError(f"module 'specops' has no attribute {name!r}")
