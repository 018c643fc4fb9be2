"""``specops init``: scaffold a SpecOps repository (config, policies, example specs, workflows)."""

from __future__ import annotations

from specops.init._scaffold import InitResult, init_project
from specops.init._workflows import default_requirement, derive_workflow

__all__ = ["InitResult", "default_requirement", "derive_workflow", "init_project"]
