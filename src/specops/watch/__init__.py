"""Watching what was shipped: error budgets, burn rates and drift, from the target's observations;
alerts, rollback on a page burn, and what keeps a rolled-back version rolled back.

The names below load on first use (PEP 562): the planner and ``specops status`` ask this
package whether a version was rolled back on every run, and must not pay for numpy and the
watch loop to hear the answer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOME = {
    **dict.fromkeys(
        ("BurnPair", "PairResult", "WindowCounts", "budget_of", "budget_remaining", "burn_rate",
         "evaluate_pair", "pairs", "threshold_key", "window_counts"), "_burn",
    ),
    **dict.fromkeys(("Current", "DriftResult", "Reference", "drift", "ks_pvalue"), "_drift"),
    **dict.fromkeys(("WatchOptions", "watch_once"), "_loop"),
    **dict.fromkeys(("rollback_note", "rolled_back_blocks"), "_rollback"),
}  # fmt: skip


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'specops.watch' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"specops.watch.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
