"""Watch: SLO burn rates, drift, alerts and automatic rollback of what was shipped."""

from __future__ import annotations

from specops.watch._loop import WatchOptions, watch_once
from specops.watch._rollback import rollback_note, rolled_back_blocks

__all__ = ["WatchOptions", "rollback_note", "rolled_back_blocks", "watch_once"]
