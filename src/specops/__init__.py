"""SpecOps: GitOps and policy-as-code for AI operations."""

from __future__ import annotations

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
