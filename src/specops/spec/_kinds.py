"""The registry of spec kinds, in dependency order."""

from __future__ import annotations

from specops.spec._common import Resource
from specops.spec._dataset import Dataset
from specops.spec._guardrail import Guardrail
from specops.spec._model import Model
from specops.spec._prompt import Prompt
from specops.spec._slo import SLO
from specops.spec._target import Target

__all__ = ["KINDS", "KIND_ORDER"]

KINDS: dict[str, type[Resource]] = {
    cls.KIND: cls for cls in (Target, Dataset, Guardrail, Model, Prompt, SLO)
}
"""Kind name -> class, in the order a planner applies them (deletes reverse it)."""

KIND_ORDER: dict[str, int] = {kind: i for i, kind in enumerate(KINDS)}
