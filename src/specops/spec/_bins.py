"""Histogram sizes of a Dataset's reference profile, in a module light enough for the command line."""

from __future__ import annotations

__all__ = ["DEFAULT_BINS", "MAX_BINS"]

MAX_BINS = 50
DEFAULT_BINS = 50
