"""Repository files the package carries: the built-in policy library and the workflow templates.

They live at the top of the SpecOps repository (``policies/``,
``.github/workflows/specops-*.yml``), where people and the repository's own
CI read them. The build copies them into the wheel as ``specops/_data/``
(``setup.py``); an editable install has no copy and reads the source tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from specops._errors import SpecOpsError

__all__ = ["bundled_dir"]

Bundled = Literal["policies", "workflows"]

_PACKAGE = Path(__file__).resolve().parent
# Where an editable install (src layout) finds each one in its source tree.
_SOURCE = {"policies": Path("policies"), "workflows": Path(".github/workflows")}


def bundled_dir(name: Bundled) -> Path:
    """The directory of bundled ``name`` files; raises ``SpecOpsError`` when the installation lacks it."""
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    checkout = _PACKAGE.parent.parent  # src/specops -> the repository root
    source = checkout / _SOURCE[name]
    if (checkout / "setup.py").is_file() and source.is_dir():
        return source
    raise SpecOpsError(
        f"this SpecOps installation lacks its bundled {name} (specops/_data/{name}); "
        "reinstall it from a wheel or a source checkout"
    )
