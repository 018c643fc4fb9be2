"""Recovering what an interrupted apply (killed runner, restarted target) left behind.

The journal says which changes started and never finished; live state says
where each one stands. Every single-call change (a non-Model resource, a
direct rollout, a delete) is atomic on the target, so it either happened or
not: recovery only records which. A canary that never finished is rolled
back: its candidate was not judged all the way, so the previous version,
whose spec the journal holds, gets 100% of traffic again (one that already
serves 100% of traffic with its spec recorded is kept as completed).
Nothing stays half-routed, and the next plan proposes the rollout again.

Recovery is idempotent: it judges live state, not what an earlier recovery
wrote, so a recovering apply killed in turn leaves the interrupted apply
open and the next one recovers it again (a rollback already made is then
found ``not_applied``: the previous version serves at 100%).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from specops.apply._client import AdminError
from specops.apply._journal import Journal, OpenApply, kill_point
from specops.apply._rollout import TargetSession, rollback_model, serving_version

__all__ = ["recover"]


def _half_routed(status: dict[str, Any], version: str | None) -> bool:
    traffic = status.get("traffic") or {}
    return bool(status.get("shadow")) or traffic.get(version) != 100


def recover(
    open_applies: list[OpenApply],
    sessions: dict[str, TargetSession],
    journal: Journal,
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Make every unfinished change of ``open_applies`` consistent; one record per change."""
    records: list[dict[str, Any]] = []
    for open_apply in open_applies:
        start = open_apply.entries[0]
        identity = {k: start.get(k) for k in ("apply_id", "plan_id", "commit", "holder")}
        say(f"recovering interrupted apply {open_apply.apply_id} (by {open_apply.holder})")
        kill_point("recovery.started")
        for entry in open_apply.unfinished_changes():
            target, rid = str(entry.get("target")), str(entry.get("resource"))
            session = sessions.get(target)
            if session is None:
                continue  # not reachable now; it stays open for a later apply
            detail = entry.get("detail") or {}
            previous = detail.get("previous") or None
            live = session.entry(rid)
            status = (live or {}).get("status") or {}
            record = {"apply_id": open_apply.apply_id, "target": target, "resource": rid, "changed": False}
            after_version = str(status.get("version")) if status.get("version") is not None else None
            done = live is not None and live.get("hash") == detail.get("after_hash")
            if rid.startswith("Model/") and previous is not None and live is not None:
                back_to = serving_version(previous.get("status") or {})
                if done and not _half_routed(status, after_version):
                    record["outcome"] = "completed"
                elif live.get("hash") == previous.get("hash") and not _half_routed(status, back_to):
                    record["outcome"] = "not_applied"
                else:
                    try:
                        rollback_model(session, rid, previous, str(back_to), lambda *a, **k: None)
                        kill_point("recovery.rolled_back")
                        record["outcome"], record["changed"] = "rolled_back", True
                    except AdminError as exc:
                        record["outcome"] = f"rollback_failed: {exc}"
                        journal.append("recovery", **identity, target=target, resource=rid, outcome="failed", detail=record)
                        raise
                    session.refresh()
            else:
                deleted = entry.get("action") == "delete" and live is None
                record["outcome"] = "completed" if done or deleted else "not_applied"
            journal.append("recovery", **identity, target=target, resource=rid, outcome=record["outcome"], detail=record)
            say(f"  {rid} on {target}: {record['outcome']}")
            records.append(record)
        journal.append("apply.recovered", **identity, outcome="recovered", detail={"changes": len(records)})
    return records
