"""``specops init``: scaffold a SpecOps repository (config, policies, example specs, workflows).

The names load on first use: registering ``specops init`` on the command line must not
import the scaffold (``specops --version`` pays for every registrar).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from specops._lazy import exports

if TYPE_CHECKING:
    from specops.init._scaffold import InitResult, init_project
    from specops.init._workflows import default_requirement, derive_workflow

__all__ = ["InitResult", "default_requirement", "derive_workflow", "init_project"]

__getattr__, __dir__ = exports(
    __name__,
    __all__,
    {
        "InitResult": "specops.init._scaffold",
        "init_project": "specops.init._scaffold",
        "default_requirement": "specops.init._workflows",
        "derive_workflow": "specops.init._workflows",
    },
)
