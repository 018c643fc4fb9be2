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
from specops.watch._loop import WatchOptions, watch_once
from specops.watch._rollback import rollback_note, rolled_back_blocks

__all__ = [
    "BurnPair",
    "Current",
    "DriftResult",
    "PairResult",
    "Reference",
    "WatchOptions",
    "WindowCounts",
    "budget_of",
    "budget_remaining",
    "burn_rate",
    "drift",
    "evaluate_pair",
    "ks_pvalue",
    "pairs",
    "rollback_note",
    "rolled_back_blocks",
    "threshold_key",
    "watch_once",
    "window_counts",
]
