"""The package version: the one source ``pyproject.toml`` reads (``tool.setuptools.dynamic``).

A literal, not ``importlib.metadata``: that import alone costs more than the
rest of ``specops --version``.
"""

from __future__ import annotations

__version__ = "0.1.0"
