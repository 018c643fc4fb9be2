"""Watching what was shipped: error budgets, burn rates and drift, from the target's observations.

The names load on first use (``specops._lazy``): the command line registers ``slo rules``
from ``_rules_cli`` and must not pay for numpy to do it.
"""

from __future__ import annotations

import typing

from specops._lazy import exports as _exports
from specops._lazy import homes as _homes

if typing.TYPE_CHECKING:
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

_HOMES = {
    **_homes("specops.watch._burn", ("BurnPair", "PairResult", "WindowCounts", "budget_of", "budget_remaining", "burn_rate", "evaluate_pair", "pairs", "threshold_key", "window_counts")),
    **_homes("specops.watch._drift", ("Current", "DriftResult", "Reference", "drift", "ks_pvalue")),
}  # fmt: skip
__getattr__, __dir__ = _exports(__name__, __all__, _HOMES)
