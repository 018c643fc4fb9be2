"""The spec language: the kinds people declare their AI estate in, and how they load."""

from __future__ import annotations

import typing

from specops._lazy import exports as _exports
from specops._lazy import homes as _homes

if typing.TYPE_CHECKING:
    from specops.spec._common import (
        API_VERSION,
        ArtifactRef,
        Metadata,
        Ref,
        Resource,
        duration_seconds,
    )
    from specops.spec._dataset import Dataset
    from specops.spec._guardrail import Guardrail
    from specops.spec._kinds import KIND_ORDER, KINDS
    from specops.spec._load import Estate, LoadedSpec, discover, find_root, load_estate, parse_bytes
    from specops.spec._model import Model
    from specops.spec._prompt import Prompt, template_variables
    from specops.spec._schema import json_schema
    from specops.spec._slo import SLO
    from specops.spec._target import Target

__all__ = [
    "API_VERSION",
    "KINDS",
    "KIND_ORDER",
    "SLO",
    "ArtifactRef",
    "Dataset",
    "Estate",
    "Guardrail",
    "LoadedSpec",
    "Metadata",
    "Model",
    "Prompt",
    "Ref",
    "Resource",
    "Target",
    "discover",
    "duration_seconds",
    "find_root",
    "json_schema",
    "load_estate",
    "parse_bytes",
    "template_variables",
]

_HOMES = {
    **_homes("specops.spec._common", ("API_VERSION", "ArtifactRef", "Metadata", "Ref", "Resource", "duration_seconds")),
    **_homes("specops.spec._dataset", ("Dataset",)),
    **_homes("specops.spec._guardrail", ("Guardrail",)),
    **_homes("specops.spec._kinds", ("KIND_ORDER", "KINDS")),
    **_homes("specops.spec._load", ("Estate", "LoadedSpec", "discover", "find_root", "load_estate", "parse_bytes")),
    **_homes("specops.spec._model", ("Model",)),
    **_homes("specops.spec._prompt", ("Prompt", "template_variables")),
    **_homes("specops.spec._schema", ("json_schema",)),
    **_homes("specops.spec._slo", ("SLO",)),
    **_homes("specops.spec._target", ("Target",)),
}  # fmt: skip
__getattr__, __dir__ = _exports(__name__, __all__, _HOMES)
