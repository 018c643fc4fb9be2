"""SpecOps: GitOps and policy-as-code for AI operations.

The public names load on first use (PEP 562, ``specops._lazy``): the command
line imports this package before every subcommand, and ``specops --version``
must not pay for pydantic, the spec kinds or the compiled core.
"""

from __future__ import annotations

import typing

from specops._lazy import exports as _exports
from specops._lazy import homes as _homes
from specops._version import __version__

if typing.TYPE_CHECKING:
    from specops._core import COMPILED, canonical_bytes, canonical_hash
    from specops._errors import Diagnostic, SpecError, SpecOpsError
    from specops.plan import Plan
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

_HOMES = {
    **_homes("specops._core", ("COMPILED", "canonical_bytes", "canonical_hash")),
    **_homes("specops._errors", ("Diagnostic", "SpecError", "SpecOpsError")),
    **_homes("specops._version", ("__version__",)),
    **_homes("specops.plan", ("Plan",)),
    **_homes(
        "specops.spec",
        ("KINDS", "SLO", "Dataset", "Estate", "Guardrail", "LoadedSpec", "Model", "Prompt",
         "Resource", "Target", "json_schema", "load_estate"),
    ),
}  # fmt: skip
__getattr__, __dir__ = _exports(__name__, __all__, _HOMES)
