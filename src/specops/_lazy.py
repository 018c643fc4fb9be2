"""Public names that load on first use (PEP 562), so ``specops --version`` imports almost nothing.

A package lists each public name's home module; ``exports`` returns the
package's ``__getattr__`` and ``__dir__``. The package imports the same names
under ``TYPE_CHECKING`` so type checkers see real types. This is for public
API only, never to break an import cycle.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any


def homes(module: str, names: Iterable[str]) -> dict[str, str]:
    """``{name: module}`` for names that live in one module."""
    return dict.fromkeys(names, module)


def exports(
    package: str, public: list[str], home: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: each name in ``home`` imports its module once."""
    missing = set(public) - set(home)
    if missing:  # a name in __all__ that nothing provides is a bug in the package, found at import
        raise ImportError(f"{package}: no home module for {sorted(missing)}")
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # the next lookup is a plain global
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(public))

    return __getattr__, __dir__
