"""Policy paths as a project names them: directories, or ``builtin:specops`` for the shipped library.

``policy.paths`` in ``specops.yaml`` (and ``--policies``, and the arguments of
``specops policy test``) may name ``builtin:specops``: the rule library
SpecOps ships inside its wheel, the same files as ``policies/`` in the
SpecOps repository, at the installed version. A repository then keeps only
its own rules, and upgrades the library by upgrading SpecOps (the workflows
that ``specops init`` writes pin that version). Its files show as
``builtin:specops/<file>`` in results, plans and test reports.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from specops._bundled import bundled_dir
from specops._errors import SpecOpsError

__all__ = ["BUILTIN_LIBRARY", "builtin_display", "is_builtin", "policy_dirs"]

BUILTIN_LIBRARY = "builtin:specops"
_SCHEME = "builtin:"


def is_builtin(entry: str) -> bool:
    """Whether a policy path names a built-in library rather than a directory."""
    return entry.startswith(_SCHEME)


def _library(entry: str) -> Path:
    if entry.rstrip("/") != BUILTIN_LIBRARY:
        raise SpecOpsError(f"unknown built-in policy library {entry!r} (the one SpecOps ships is {BUILTIN_LIBRARY})")
    return bundled_dir("policies")


def policy_dirs(entries: Sequence[str], root: Path) -> list[Path]:
    """Directories (or files) to load, in order: built-in names resolved, relative paths under ``root``."""
    out: list[Path] = []
    for entry in entries:
        if is_builtin(entry):
            out.append(_library(entry))
            continue
        path = Path(entry)
        out.append(path if path.is_absolute() else root / path)
    return out


@functools.cache
def _library_root() -> Path | None:
    try:
        return bundled_dir("policies").resolve()
    except SpecOpsError:
        return None


def builtin_display(path: Path) -> str | None:
    """``builtin:specops/<relative>`` for a file of the built-in library; ``None`` for any other file."""
    library = _library_root()
    if library is None:
        return None
    try:
        relative = path.resolve().relative_to(library)
    except ValueError:
        return None
    return f"{BUILTIN_LIBRARY}/{relative.as_posix()}"
