"""Watching what was shipped: error budgets, burn rates and drift, from the target's observations."""

from __future__ import annotations

from specops.watch._burn import (
    BurnPair,
    PairResult,
    WindowCounts,
    budget_of,
    budget_remaining,
    burn_rate,
    evaluate_pair,
    pairs,
    threshold_key,
    window_counts,
)
from specops.watch._drift import Current, DriftResult, Reference, drift, ks_pvalue

__all__ = [
    "BurnPair",
    "Current",
    "DriftResult",
    "PairResult",
    "Reference",
    "WindowCounts",
    "budget_of",
    "budget_remaining",
    "burn_rate",
    "drift",
    "evaluate_pair",
    "ks_pvalue",
    "pairs",
    "threshold_key",
    "window_counts",
]
