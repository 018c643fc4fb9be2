"""``specops watch``: every SLO of every model on every reachable target, judged and acted on.

One tick, per target (targets are independent: one unreachable or busy
target never stops the others):

1. read live state; unreachable: "no data" for its models and a
   ``TargetUnreachable`` alert (kept in the watcher's local file, since the
   target cannot keep it), never a rollback;
2. take the target's *watch* lease; held by another watcher: stand by (its
   holder evaluates, notifies and acts; this one takes over at expiry, with
   the alert state it reads from the target);
3. an apply in progress (the *apply* lease is held): defer; the canary's
   analysis judges the new version, watch judges what is fully promoted;
4. read the alert state the target keeps, and close any watch action a
   killed watcher left open in the journal (by reading live state);
5. for each desired Model placed there and each of its SLOs, for each
   version that takes live traffic: the budget remaining over the SLO
   window, the burn rate of each window pair (``burnRates``, or the SRE
   workbook's four by default), drift per feature, no traffic;
   and an ``OutOfSync`` alert for a resource the target runs differently
   from git (skipped while an apply runs; a rolled-back model is reported as
   rolled back instead);
6. fold the conditions into the alert state (``_alerts``), act (a page burn
   alert with ``onBreach: rollback``: ``_rollback``; a drift alert with
   ``onDrift.retrain``: the retraining trigger, once per firing), send what
   is due (``_notify``), and write the state back under the lease.

The report of a tick (``--format json`` of ``specops watch`` and of
``specops slo status``; ``slo status --format html`` renders it) is::

    {"format_version": 1, "at": "2026-12-01T10:00:00Z", "watcher": "watch@host:pid",
     "desired": {"ref": "HEAD", "commit": "..."},
     "targets": {"local-cpu": {"reachable": true, "role": "active" | "standby" | "deferred" |
                               "read-only" | "unreachable", "detail": "...", "error": null}},
     "slos": [{"slo": "fraud-scorer", "model": "fraud-scorer", "target": "local-cpu",
               "version": "1.1.0", "weight": 100, "window_s": 2592000,
               "objectives": [{"objective": "errorRate <= 0.001", "type": "errorRate",
                               "budget": 0.001, "budget_remaining": 0.42 | null,
                               "budget_window": {"seconds", "requests", "bad"},
                               "burn_rates": [{"long_s": 3600, "short_s": 300, "factor": 14.4,
                                               "severity": "page", "long": 2.1 | null,
                                               "short": 0.3 | null, "long_requests": 812,
                                               "short_requests": 60, "firing": false | null}]}],
               "drift": [{"objective": "drift psi > 0.2", "method": "psi", "threshold": 0.2,
                          "window_s": 3600, "firing": true | false | null,
                          "features": [{"feature": "amount", "value": 0.41, "samples": 812,
                                        "drifted": true, "reference": {"edges", "counts"},
                                        "current": {"counts", "underflow", "overflow"}, ...}]}],
               "no_traffic": false}],
     "alerts": [{"key", "alertname", "status", "labels", "annotations", "firing_since",
                 "resolved_at", "target", "evidence"}],
     "actions": [{"action": "rollback" | "retrain", "target", "model", "version", "outcome", ...}],
     "notifications": {"sent": 3, "failed": 0, "errors": []}}

``firing: null`` and ``budget_remaining: null`` mean no data (too few requests in a window).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specops._errors import SpecOpsError
from specops._git import GitRepo
from specops.apply._journal import Journal
from specops.spec import SLO, Model, Target, duration_seconds
from specops.spec._slo import budget_of
from specops.targets import AdminError, LeaseHeldError, TargetDownError, driver_for
from specops.watch._alerts import RESEND_S, AlertBook, Condition, iso
from specops.watch._burn import (
    DEFAULT_MIN_REQUESTS,
    BurnPair,
    WindowCounts,
    budget_remaining,
    evaluate_pair,
    pairs,
    window_counts,
)
from specops.watch._notify import Notifier, parse_channel
from specops.watch._rollback import (
    find_candidate,
    propose_revert,
    rollback_on_target,
    rolled_back_record,
)

__all__ = ["WatchOptions", "holder_name", "release_leases", "run_watch", "watch_once"]

REPORT_FORMAT_VERSION = 1
DEFAULT_DRIFT_WINDOW_S = 3600


def holder_name() -> str:
    return f"watch@{socket.gethostname()}:{os.getpid()}"


@dataclass(slots=True)
class WatchOptions:
    repo: Path = Path(".")
    ref: str = "HEAD"
    specs_root: str = "specs"
    journal: Path | None = None
    holder: str = field(default_factory=holder_name)
    lease_ttl_s: float = 90.0
    resend_s: float = RESEND_S
    timeout: float = 10.0
    act: bool = True  # False: `slo status`, read-only (no lease, no notifications, no actions)
    min_requests: int = DEFAULT_MIN_REQUESTS
    say: Callable[[str], None] = lambda _line: None
    clock: Callable[[], float] = time.time


# -- the SLO math on the target's observations (``_burn``) ----------------------------------------


def _burn_pairs(slo: SLO) -> list[BurnPair]:
    return pairs(slo.spec.burn_rates(), duration_seconds(slo.spec.window))


def _objective_name(objective: Any) -> str:
    if objective.type == "errorRate":
        return f"errorRate <= {objective.max:g}"
    if objective.type == "availability":
        return f"availability >= {objective.target:g}"
    return f"latency p{objective.percentile:g} <= {objective.threshold_ms:g}ms"


def _counts(objective: Any, window: dict[str, Any] | None) -> WindowCounts | None:
    """Bad and total requests of one observation window; None when the target cannot tell."""
    if not window:
        return WindowCounts(0, 0)
    try:
        return window_counts(objective, window)
    except KeyError:
        return None  # no counter for this latency threshold (the SLO is not applied there yet)


# -- one tick -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Desired:
    commit: str | None
    targets: dict[str, Target]
    models: dict[str, Any]  # name -> LoadedSpec
    slos: dict[str, list[SLO]]  # model -> SLOs
    datasets: dict[str, Any]  # name -> Dataset
    estate: Any


def _load_desired(options: WatchOptions) -> _Desired:
    from specops.plan import load_desired_state

    desired = load_desired_state(options.repo, ref=options.ref, specs_root=options.specs_root)
    estate = desired.estate
    slos: dict[str, list[SLO]] = {}
    for spec in estate.of_kind("SLO"):
        slo = spec.resource
        assert isinstance(slo, SLO)
        slos.setdefault(slo.spec.model, []).append(slo)
    return _Desired(
        commit=desired.fingerprint.commit,
        targets={s.resource.name: s.resource for s in estate.of_kind("Target") if isinstance(s.resource, Target)},
        models={s.resource.name: s for s in estate.of_kind("Model")},
        slos=slos,
        datasets={s.resource.name: s.resource for s in estate.of_kind("Dataset")},
        estate=estate,
    )


class _Tick:
    def __init__(self, options: WatchOptions) -> None:
        self.o = options
        self.now = options.clock()
        self.desired = _load_desired(options)
        self.journal = Journal(options.journal) if options.journal is not None else None
        self.notifier = Notifier(options.holder, lambda: iso(self.o.clock()), timeout=options.timeout, say=options.say)
        self.report: dict[str, Any] = {
            "format_version": REPORT_FORMAT_VERSION,
            "at": iso(self.now),
            "watcher": options.holder,
            "desired": {"ref": options.ref, "commit": self.desired.commit},
            "targets": {},
            "slos": [],
            "alerts": [],
            "actions": [],
            "notifications": {"sent": 0, "failed": 0, "errors": []},
        }
        self.sent = 0

    def run(self) -> dict[str, Any]:
        local = self._local_book()
        unreachable: list[Condition] = []
        try:
            for name, target in sorted(self.desired.targets.items()):
                condition = self._target(name, target)
                if condition is not None:
                    unreachable.append(condition)
            if self.o.act:
                reachable = [n for n, t in self.report["targets"].items() if t["reachable"]]
                conditions = unreachable + [self._unreachable_condition(n, "", ok=True) for n in reachable]
                local.reconcile(conditions, set(self.desired.targets), self.now)
                self._notify(local)
                local.prune(self.now)
                self._save_local(local)
            self.report["alerts"].extend(self._alert_rows(local, only_firing=True))
        finally:
            self.notifier.close()
        if self.o.act:
            self._seal()
        self.report["notifications"]["errors"] = self.notifier.errors
        self.report["notifications"]["failed"] = len(self.notifier.errors)
        self.report["notifications"]["sent"] = self.sent
        return self.report

    # -- the watcher's local alert state (for what a target cannot keep) -------------------

    def _local_path(self) -> Path | None:
        return self.o.journal.parent / "watch-local.json" if self.o.journal is not None else None

    def _local_book(self) -> AlertBook:
        path = self._local_path()
        if path is None or not path.is_file():
            return AlertBook()
        try:
            return AlertBook(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return AlertBook()

    def _save_local(self, book: AlertBook) -> None:
        path = self._local_path()
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(book.to_json()), encoding="utf-8")
        tmp.replace(path)

    def _channels_for(self, target: str) -> list[str]:
        channels: list[str] = []
        for name, spec in self.desired.models.items():
            if target in spec.resource.spec.targets:
                for slo in self.desired.slos.get(name, []):
                    channels += [c for c in slo.spec.alerting.notify if c not in channels]
        return channels or ["log"]

    def _unreachable_condition(self, name: str, error: str, *, ok: bool = False) -> Condition:
        return Condition(
            key=f"TargetUnreachable|{name}", alertname="TargetUnreachable",
            labels={"target": name, "severity": "ticket"},
            summary=f"target {name} is unreachable: no data for its SLOs",
            description=error or f"target {name} answers again",
            firing=not ok, channels=self._channels_for(name), scope=name,
        )  # fmt: skip

    # -- one target ---------------------------------------------------------------------------

    def _target(self, name: str, target: Target) -> Condition | None:
        row: dict[str, Any] = {"reachable": True, "role": "read-only", "detail": "", "error": None, "url": target.spec.url}
        self.report["targets"][name] = row
        try:
            driver = driver_for(target, timeout=self.o.timeout)
        except SpecOpsError as exc:  # a target kind this SpecOps has no driver for
            row.update(reachable=False, role="unreachable", error=str(exc))
            return self._unreachable_condition(name, str(exc))
        try:
            try:
                state = driver.live_state()
            except TargetDownError as exc:
                row.update(reachable=False, role="unreachable", error=str(exc))
                self._no_data_rows(name)
                self.o.say(f"target {name}: unreachable: no data ({exc})")
                return self._unreachable_condition(name, str(exc))
            self._evaluate_target(driver, name, state, row)
            return None
        except AdminError as exc:
            row.update(error=str(exc))
            self.o.say(f"target {name}: {exc}")
            return None
        finally:
            driver.close()

    def _no_data_rows(self, name: str) -> None:
        for model, spec in sorted(self.desired.models.items()):
            if name in spec.resource.spec.targets:
                for slo in self.desired.slos.get(model, []):
                    self.report["slos"].append({"slo": slo.name, "model": model, "target": name, "version": None, "no_data": "target unreachable"})

    def _evaluate_target(self, driver: Any, name: str, state: dict[str, Any], row: dict[str, Any]) -> None:
        apply_lease = driver.lease_info("apply")
        applying = apply_lease.get("holder")
        if self.o.act:
            try:
                driver.acquire(self.o.holder, self.o.lease_ttl_s, kind="watch")
            except LeaseHeldError as exc:
                row.update(role="standby", detail=f"watch lease held by {exc.holder} until {exc.expires_at}")
                self.o.say(f"target {name}: standing by ({row['detail']})")
                return
            row["role"] = "active"
        book = AlertBook(driver.watch_state().get("state"))
        if applying and applying != self.o.holder:
            row.update(role="deferred" if self.o.act else row["role"], detail=f"apply in progress ({applying})")
            self.o.say(f"target {name}: apply in progress by {applying}: deferring")
            self.report["alerts"].extend(self._alert_rows(book, only_firing=True))
            return
        if self.o.act:
            state = driver.live_state()  # as it is now that this watcher holds the target
            self._recover(driver, name, state)
        conditions: list[Condition] = []
        for model_name, spec in sorted(self.desired.models.items()):
            model = spec.resource
            assert isinstance(model, Model)
            if name not in model.spec.targets:
                continue
            entry = (state.get("resources") or {}).get(f"Model/{model_name}")
            if not isinstance(entry, dict):
                continue  # not applied there yet: OutOfSync says so
            conditions += self._evaluate_model(driver, name, model, entry)
        conditions += self._out_of_sync(name, state)
        if driver.lease_info("apply").get("holder") not in (None, self.o.holder):
            # An apply started meanwhile: what differs from git now is its work, not drift.
            for c in conditions:
                if c.alertname == "OutOfSync":
                    c.firing = None  # no data: keep what was known
        if not self.o.act:
            self.report["alerts"].extend(self._alert_rows(book, only_firing=True))
            return
        changed = book.reconcile(conditions, {name}, self.now)
        self._journal_alerts(book, changed)
        self._act(driver, name, book)
        self._notify(book)
        book.prune(self.now)
        driver.put_watch_state(book.to_json(), holder=self.o.holder)
        self.report["alerts"].extend(self._alert_rows(book, only_firing=False, changed_since=self.now))

    # -- evaluation ------------------------------------------------------------------------------

    def _evaluate_model(self, driver: Any, target: str, model: Model, entry: dict[str, Any]) -> list[Condition]:
        slos = self.desired.slos.get(model.name, [])
        if not slos:
            return []
        status = entry.get("status") or {}
        traffic = {str(v): int(w) for v, w in (status.get("traffic") or {}).items()}
        serving = sorted(v for v, w in traffic.items() if w > 0)
        windows: set[int] = set()
        drift_windows: set[int] = set()
        for slo in slos:
            for pair in _burn_pairs(slo):
                windows |= {pair.long_s, pair.short_s}
            for objective in slo.spec.objectives:
                if objective.type == "drift":
                    drift_windows.add(_drift_window(objective))
        # Feature counts only where drift reads them: a fifth of the bytes for 8 features.
        observations = driver.observations(model.name, sorted(windows | drift_windows), features_s=sorted(drift_windows))
        conditions: list[Condition] = []
        for slo in slos:
            channels = list(slo.spec.alerting.notify) or ["log"]
            for version in serving:
                live = ((observations.get("versions") or {}).get(version) or {}).get("live") or {}
                row = {"slo": slo.name, "model": model.name, "target": target, "version": version,
                       "weight": traffic[version], "window_s": int(duration_seconds(slo.spec.window)),
                       "objectives": [], "drift": [], "no_traffic": False}  # fmt: skip
                self.report["slos"].append(row)
                labels = {"slo": slo.name, "model": model.name, "version": version, "target": target}
                conditions += self._burn_conditions(slo, live, labels, channels, row)
                conditions += self._drift_conditions(slo, model, live, labels, channels, row)
                conditions.append(self._no_traffic(slo, live, labels, channels, row))
        return conditions

    def _burn_conditions(
        self, slo: SLO, live: dict[str, Any], labels: dict[str, str], channels: list[str], row: dict[str, Any]
    ) -> list[Condition]:
        windows = live.get("windows") or {}
        out: list[Condition] = []
        for objective in slo.spec.budgeted():
            name, budget = _objective_name(objective), budget_of(objective)
            whole = live.get("budget_window") or {}
            whole_counts = _counts(objective, whole)
            remaining = budget_remaining(whole_counts, budget) if whole_counts is not None else None
            orow: dict[str, Any] = {
                "objective": name, "type": objective.type, "budget": budget, "budget_remaining": remaining,
                "budget_window": {"seconds": whole.get("seconds"), "requests": whole_counts.total if whole_counts else 0,
                                  "bad": whole_counts.bad if whole_counts else None},
                "burn_rates": [],
            }  # fmt: skip
            row["objectives"].append(orow)
            for pair in _burn_pairs(slo):
                long_c = _counts(objective, windows.get(str(pair.long_s)))
                short_c = _counts(objective, windows.get(str(pair.short_s)))
                if long_c is None or short_c is None:
                    long_rate = short_rate = None
                    long_n = short_n = 0
                else:
                    result = evaluate_pair(pair, long_c, short_c, budget, min_requests=self.o.min_requests)
                    long_rate, short_rate, long_n, short_n = result.long_rate, result.short_rate, long_c.total, short_c.total
                firing = None if long_rate is None or short_rate is None else (long_rate > pair.factor and short_rate > pair.factor)
                factor, severity, long_s, short_s = pair.factor, pair.severity, pair.long_s, pair.short_s
                orow["burn_rates"].append({
                    "windows": pair.name, "long_s": long_s, "short_s": short_s, "factor": factor, "severity": severity,
                    "long": long_rate, "short": short_rate, "long_requests": long_n, "short_requests": short_n,
                    "firing": firing,
                })  # fmt: skip
                pair_name = pair.name
                rates = (
                    f"burn rate {long_rate:.1f}x over {_dur(long_s)} and {short_rate:.1f}x over {_dur(short_s)}"
                    if long_rate is not None and short_rate is not None else "no data"
                )  # fmt: skip
                out.append(Condition(
                    key=f"SLOBurnRate|{labels['target']}|{labels['model']}|{labels['version']}|{slo.name}|{name}|{pair_name}",
                    alertname="SLOBurnRate",
                    labels={**labels, "severity": severity, "objective": name, "windows": pair_name},
                    summary=f"{labels['model']} {labels['version']} on {labels['target']} burns its {name} budget "
                            f"({rates}, factor {factor:g})",
                    description=f"SLO {slo.name}: {name}; {rates}; alert when both windows exceed {factor:g}x "
                                f"the budget ({budget:g}); {severity}",
                    firing=firing, channels=channels, scope=labels["target"],
                    evidence={"objective": name, "budget": budget, "factor": factor, "severity": severity,
                              "long": {"seconds": long_s, "burn_rate": long_rate, "requests": long_n},
                              "short": {"seconds": short_s, "burn_rate": short_rate, "requests": short_n},
                              "on_breach": slo.spec.on_breach.action},
                ))  # fmt: skip
        return out

    def _drift_conditions(
        self, slo: SLO, model: Model, live: dict[str, Any], labels: dict[str, str], channels: list[str], row: dict[str, Any]
    ) -> list[Condition]:
        from specops.watch._evaluate import drift_features

        out: list[Condition] = []
        lineage = model.spec.trained_on
        dataset = self.desired.datasets.get(lineage.dataset) if lineage is not None else None
        for objective in slo.spec.objectives:
            if objective.type != "drift":
                continue
            window_s = _drift_window(objective)
            window = (live.get("windows") or {}).get(str(window_s)) or {}
            features = drift_features(objective, model, dataset, window)
            drifted = [f for f in features if f.get("drifted")]
            judged = [f for f in features if f.get("value") is not None]
            firing = bool(drifted) if judged else None
            name = f"drift {objective.method} > {objective.threshold:g}"
            row["drift"].append({"objective": name, "method": objective.method, "threshold": objective.threshold,
                                 "window_s": window_s, "firing": firing, "features": features})  # fmt: skip
            names = ", ".join(f"{f['feature']} {f['value']:.3g}" for f in drifted)
            out.append(Condition(
                key=f"SLODrift|{labels['target']}|{labels['model']}|{labels['version']}|{slo.name}|{name}",
                alertname="SLODrift",
                labels={**labels, "severity": "ticket", "objective": name, "windows": _dur(window_s)},
                summary=f"input drift on {labels['model']} {labels['version']} ({labels['target']}): "
                        f"{names or 'none'}",
                description=f"SLO {slo.name}: {objective.method} over {_dur(window_s)} above {objective.threshold:g} "
                            f"on {len(drifted)} of {len(features)} features: {names or 'none'}",
                firing=firing, channels=channels, scope=labels["target"],
                evidence={"method": objective.method, "threshold": objective.threshold, "window_s": window_s,
                          "features": [{k: v for k, v in f.items() if k not in ("reference", "current")} for f in drifted],
                          "dataset": {"name": lineage.dataset, "version": lineage.version} if lineage else None},
            ))  # fmt: skip
        return out

    def _no_traffic(self, slo: SLO, live: dict[str, Any], labels: dict[str, str], channels: list[str], row: dict[str, Any]) -> Condition:
        window_s = min((p.long_s for p in _burn_pairs(slo)), default=DEFAULT_DRIFT_WINDOW_S)
        window = (live.get("windows") or {}).get(str(window_s))
        requests = int(window.get("requests", 0)) if window else 0
        row["no_traffic"] = requests == 0
        return Condition(
            key=f"SLONoTraffic|{labels['target']}|{labels['model']}|{labels['version']}|{slo.name}",
            alertname="SLONoTraffic", labels={**labels, "severity": "ticket", "objective": "traffic", "windows": _dur(window_s)},
            summary=f"{labels['model']} {labels['version']} on {labels['target']} served no requests in {_dur(window_s)}",
            description=f"SLO {slo.name} cannot be judged without traffic (no data is never a pass)",
            firing=requests == 0, channels=channels, scope=labels["target"],
        )  # fmt: skip

    def _out_of_sync(self, target: str, state: dict[str, Any]) -> list[Condition]:
        from specops.plan import placement

        places = placement(self.desired.estate)
        resources = state.get("resources") or {}
        channels = self._channels_for(target)
        out: list[Condition] = []
        desired_ids = set()
        for spec in self.desired.estate:
            if target not in places.get(spec.id, ()):
                continue
            desired_ids.add(spec.id)
            have = resources.get(spec.id)
            why = ""
            if not isinstance(have, dict):
                why = "not on the target"
            elif have.get("hash") != spec.hash:
                version = getattr(spec.resource.spec, "version", None)
                if spec.id.startswith("Model/") and rolled_back_record(have.get("status") or {}, version, spec.hash):
                    why = ""  # rolled back on purpose; status and the plan say so
                else:
                    why = "git has another spec than the target runs (a merge nobody applied, or a change behind SpecOps' back)"
            out.append(self._sync_condition(target, spec.id, why, channels))
        for rid in sorted(set(resources) - desired_ids):
            out.append(self._sync_condition(target, rid, "on the target but not in git", channels))
        return out

    def _sync_condition(self, target: str, rid: str, why: str, channels: list[str]) -> Condition:
        return Condition(
            key=f"OutOfSync|{target}|{rid}", alertname="OutOfSync",
            labels={"target": target, "resource": rid, "severity": "ticket"},
            summary=f"{rid} on {target} is out of sync with git" if why else f"{rid} on {target} is in sync",
            description=why or "in sync again", firing=bool(why), channels=channels, scope=target,
        )  # fmt: skip

    # -- acting ------------------------------------------------------------------------------------

    def _act(self, driver: Any, target: str, book: AlertBook) -> None:
        for _key, record in sorted(book.firing().items()):
            actions = record.setdefault("actions", {})
            page = record["alertname"] == "SLOBurnRate" and record["labels"].get("severity") == "page"
            wanted = (record.get("evidence") or {}).get("on_breach") == "rollback"
            if page and wanted and not (actions.get("rollback") or {}).get("done"):
                actions["rollback"] = self._rollback(driver, target, record)
            if record["alertname"] == "SLODrift" and not (actions.get("retrain") or {}).get("sent"):
                result = self._retrain(record)
                if result is not None:
                    actions["retrain"] = result

    def _rollback(self, driver: Any, target: str, record: dict[str, Any]) -> dict[str, Any]:
        labels = record["labels"]
        model, version = labels["model"], labels["version"]
        ev = record.get("evidence") or {}
        reason = (
            f"{ev.get('objective')}: burn rate {_fmt(ev['long']['burn_rate'])}x over {_dur(ev['long']['seconds'])} "
            f"and {_fmt(ev['short']['burn_rate'])}x over {_dur(ev['short']['seconds'])} "
            f"(page at {ev.get('factor'):g}x; SLO {labels['slo']})"
        )
        state = driver.live_state()
        candidate, why = find_candidate(state, model, version)
        result: dict[str, Any] = {"action": "rollback", "target": target, "model": model, "version": version}
        if candidate is None:
            already = rolled_back_record((state.get("resources", {}).get(f"Model/{model}") or {}).get("status") or {}, version, None)
            result.update(outcome="already rolled back" if already else "not possible", reason=why, done=bool(already))
            if not already:  # (already: another page alert of this tick, or an earlier tick, did it)
                self.o.say(f"  {model} {version} on {target}: page alert, no rollback: {why}")
                self.report["actions"].append(result)
            return result
        if self.journal is None:
            raise SpecOpsError("watch needs a journal to act (pass --journal or run it in the repository)")
        self.o.say(f"  {model} {version} on {target}: rolling back to {candidate.good} ({reason})")
        try:
            outcome = rollback_on_target(
                driver, candidate, reason, holder=self.o.holder, journal=self.journal,
                identity={"commit": self.desired.commit}, lease_ttl_s=self.o.lease_ttl_s,
            )  # fmt: skip
        except AdminError as exc:  # tried again next tick, while the alert fires
            outcome = {"outcome": "failed", "reason": str(exc)}
            self.o.say(f"  rollback of {model} {version} on {target} failed: {exc} (tried again next tick)")
        result.update(outcome)
        result["done"] = outcome["outcome"] in ("rolled_back", "skipped")
        if outcome["outcome"] == "rolled_back":
            spec = self.desired.models.get(model)
            message = (
                f"Revert Model/{model} to {candidate.good}: {version} rolled back on {target} by specops watch\n\n"
                f"{reason}.\n\nSpecOps shifted {target}'s traffic back to {candidate.good}; merge this to make "
                f"git say so, or fix {version} with a new spec.\n"
            )
            revert = propose_revert(
                self.o.repo, self.o.ref, spec.path if spec is not None else "", model, version, candidate.good,
                candidate.good_hash, message, self.o.say,
            )  # fmt: skip
            result["revert"] = revert
            self.journal.append(
                "revert.proposed", apply_id=outcome["apply_id"], plan_id=None, commit=self.desired.commit,
                holder=self.o.holder, target=target, resource=f"Model/{model}",
                outcome="proposed" if revert["commit"] else "failed", detail=revert,
            )  # fmt: skip
            self.journal.append("apply.done", apply_id=outcome["apply_id"], plan_id=None, commit=self.desired.commit,
                                holder=self.o.holder, outcome="rolled_back", detail={"by": "watch"})  # fmt: skip
            record["annotations"]["description"] += (
                f"; rolled back to {candidate.good} on {target}" + (f", revert proposed on branch {revert['branch']}" if revert["commit"] else "")
            )
        self.report["actions"].append(result)
        return result

    def _retrain(self, record: dict[str, Any]) -> dict[str, Any] | None:
        labels = record["labels"]
        slo = next((s for s in self.desired.slos.get(labels["model"], []) if s.name == labels["slo"]), None)
        on_drift = getattr(slo.spec, "on_drift", None) if slo is not None else None
        retrain = getattr(on_drift, "retrain", None)
        if retrain is None:
            return None
        ev = record.get("evidence") or {}
        payload = {
            "format_version": 1, "event": "drift", "model": labels["model"], "version": labels["version"],
            "target": labels["target"], "slo": labels["slo"], "dataset": ev.get("dataset"),
            "features": ev.get("features") or [], "fired_at": record.get("firing_since"),
        }  # fmt: skip
        ok = self.notifier.retrain(str(retrain.url), getattr(retrain, "token_env", None), payload)
        result = {"action": "retrain", "target": labels["target"], "model": labels["model"], "version": labels["version"],
                  "outcome": "sent" if ok else "failed", "sent": ok, "at": iso(self.now),
                  "features": [f.get("feature") for f in payload["features"]]}  # fmt: skip
        self.report["actions"].append(result)
        return result

    def _recover(self, driver: Any, target: str, state: dict[str, Any]) -> None:
        """Close watch actions a killed watcher left open on this target (the switch is atomic)."""
        if self.journal is None:
            return
        for open_apply in self.journal.open_applies():
            if not open_apply.holder.startswith("watch@"):
                continue
            changes = [e for e in open_apply.unfinished_changes() if e.get("target") == target]
            if not changes and any(e.get("target") not in (None, target) for e in open_apply.entries):
                continue
            ids = {"apply_id": open_apply.apply_id, "plan_id": None, "commit": open_apply.entries[0].get("commit"),
                   "holder": open_apply.holder}  # fmt: skip
            for entry in changes:
                detail = entry.get("detail") or {}
                live = (state.get("resources") or {}).get(str(entry.get("resource"))) or {}
                done = live.get("hash") == detail.get("after_hash") and rolled_back_record(
                    live.get("status") or {}, detail.get("from"), None) is not None  # fmt: skip
                outcome = "completed" if done else "not_applied"
                self.journal.append("recovery", **ids, target=target, resource=entry.get("resource"), outcome=outcome,
                                    detail={"by": self.o.holder})  # fmt: skip
                self.o.say(f"  recovered an interrupted watch rollback of {entry.get('resource')} on {target}: {outcome}")
            self.journal.append("apply.recovered", **ids, outcome="recovered", detail={"by": self.o.holder})

    # -- the record ------------------------------------------------------------------------------

    def _journal_alerts(self, book: AlertBook, changed: list[str]) -> None:
        """An SLO or drift alert that fired (or resolved) while a version served goes to the journal,
        and from there into the evidence, attached to the change that put that version there."""
        if self.journal is None:
            return
        for key in changed:
            record = book.alerts.get(key) or {}
            labels = record.get("labels") or {}
            if not labels.get("model") or not labels.get("version"):
                continue  # target-wide alerts (OutOfSync, unreachable) belong to no version
            evidence = record.get("evidence") or {}
            value = (evidence.get("long") or {}).get("burn_rate") if "long" in evidence else evidence.get("features")
            self.journal.append(
                "alert.fired" if record.get("status") == "firing" else "alert.resolved",
                apply_id=None, plan_id=None, commit=self.desired.commit, target=labels.get("target"),
                resource=f"Model/{labels['model']}", outcome=str(record.get("status")),
                detail={
                    "alertname": record.get("alertname"), "version": labels.get("version"), "slo": labels.get("slo"),
                    "objective": labels.get("objective") or evidence.get("method"), "value": value,
                    "threshold": evidence.get("factor", evidence.get("threshold")),
                    "summary": (record.get("annotations") or {}).get("summary"), "by": self.o.holder,
                },
            )  # fmt: skip

    def _seal(self) -> None:
        """Seal what this tick journaled into the repository's evidence (pushed where configured);
        a failure warns, the tick's work stands."""
        if self.journal is None:
            return
        from specops.evidence import seal
        from specops.evidence._config import load_evidence_config

        try:
            repo = GitRepo.discover(self.o.repo)
            seal(repo, self.journal.path, push=True, remote=load_evidence_config(repo.workdir).remote)
        except SpecOpsError as exc:
            self.o.say(f"warning: evidence not sealed ({exc}); run `specops audit seal`")

    # -- notifying ---------------------------------------------------------------------------------

    def _notify(self, book: AlertBook) -> None:
        by_channel: dict[str, list[Any]] = {}
        for event in book.due(self.now, self.o.resend_s):
            by_channel.setdefault(event.channel, []).append(event)
        for text, events in sorted(by_channel.items()):
            try:
                channel = parse_channel(text)
            except ValueError as exc:
                self.notifier.errors.append(str(exc))
                continue
            if self.notifier.send(channel, [e.alert for e in events]):
                for event in events:
                    book.sent(event.key, text, self.now)
                self.sent += len(events)

    def _alert_rows(self, book: AlertBook, *, only_firing: bool, changed_since: float | None = None) -> list[dict[str, Any]]:
        rows = []
        for key, record in sorted(book.alerts.items()):
            if record.get("status") != "firing" and (only_firing or (record.get("resolved_ts") or 0) < (changed_since or 0)):
                continue
            rows.append({
                "key": key, "alertname": record.get("alertname"), "status": record.get("status"),
                "labels": record.get("labels"), "annotations": record.get("annotations"),
                "firing_since": record.get("firing_since"), "resolved_at": record.get("resolved_at"),
                "target": record.get("scope"), "evidence": record.get("evidence"), "actions": record.get("actions") or {},
            })  # fmt: skip
        return rows


def _drift_window(objective: Any) -> int:
    window = getattr(objective, "window", None)
    return int(duration_seconds(window)) if window else DEFAULT_DRIFT_WINDOW_S


def _dur(seconds: float) -> str:
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _fmt(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "?"


def watch_once(options: WatchOptions) -> dict[str, Any]:
    """One tick over every target; the report (module docstring)."""
    return _Tick(options).run()


def run_watch(
    options: WatchOptions,
    interval_s: float,
    on_report: Callable[[dict[str, Any]], None],
    stop: threading.Event | None = None,
) -> None:
    """Tick every ``interval_s`` until interrupted (or ``stop`` is set); the watch leases are
    renewed every tick and released on the way out, so a restarted watcher takes over at once."""
    stop = stop or threading.Event()
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                on_report(watch_once(options))
            except SpecOpsError as exc:
                options.say(f"watch tick failed: {exc} (next tick in {interval_s:g}s)")
            stop.wait(max(0.0, interval_s - (time.monotonic() - started)))
    finally:
        release_leases(options)


def release_leases(options: WatchOptions) -> None:
    """Give back the watch lease on every target (``watch --once`` does after its tick: the next
    run, another process, must not stand by for a lease nobody renews)."""
    with contextlib.suppress(SpecOpsError):
        desired = _load_desired(options)
        for target in desired.targets.values():
            with contextlib.suppress(SpecOpsError):
                driver = driver_for(target, timeout=options.timeout)
                try:
                    driver.release(options.holder, kind="watch")
                finally:
                    driver.close()
