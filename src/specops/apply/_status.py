"""``specops status``: is each resource what git says (sync), and is it well (health)?

Like Argo CD: *sync* compares the desired spec's hash with what the target
recorded applying and what it really runs (``Synced`` / ``OutOfSync``);
*health* reads the target's own status: ``Healthy``, ``Progressing`` (a
canary or shadow is under way), ``Degraded`` (not ready, or serving a
version that failed to load), ``Missing`` (desired but absent) or
``Unknown`` (the target cannot be reached). Models also show the version
and traffic split each target really serves and the providers it really got.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specops._core import canonical_hash
from specops._errors import SpecOpsError
from specops._project import Project

__all__ = ["ResourceStatus", "StatusReport", "collect_status", "render_status_text"]


@dataclass(slots=True)
class ResourceStatus:
    id: str
    target: str
    sync: str
    health: str
    desired_hash: str | None = None
    live_hash: str | None = None
    version: str | None = None
    traffic: dict[str, int] = field(default_factory=dict)
    shadow: str | None = None
    providers: list[str] = field(default_factory=list)
    message: str = ""
    # The last apply of this resource on this target, from the evidence record
    # (refs/specops/evidence: it outlives the runner that applied).
    last_apply: dict[str, Any] | None = None
    replicas: dict[str, int] = field(default_factory=dict)  # running replicas per version (targets that scale)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "sync": self.sync,
            "health": self.health,
            "desired_hash": self.desired_hash,
            "live_hash": self.live_hash,
            "version": self.version,
            "traffic": self.traffic,
            "shadow": self.shadow,
            "providers": self.providers,
            "message": self.message,
            "last_apply": self.last_apply,
            "replicas": self.replicas,
        }


@dataclass(slots=True)
class StatusReport:
    desired: dict[str, Any]
    targets: dict[str, dict[str, Any]]
    resources: list[ResourceStatus]

    @property
    def in_sync(self) -> bool:
        return all(r.sync == "Synced" and r.health == "Healthy" for r in self.resources)

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for r in self.resources:
            counts[r.sync] = counts.get(r.sync, 0) + 1
            counts[r.health] = counts.get(r.health, 0) + 1
        return {
            "desired": self.desired,
            "targets": self.targets,
            "summary": counts,
            "resources": [r.to_json() for r in self.resources],
        }


def _model_health(status: dict[str, Any]) -> tuple[str, str]:
    traffic = {str(k): int(v) for k, v in (status.get("traffic") or {}).items()}
    versions = status.get("versions") or {}
    serving = [v for v, w in traffic.items() if w > 0]
    for version in serving:
        if not (versions.get(version) or {}).get("ready", status.get("ready", True)):
            return "Degraded", f"version {version} takes traffic but is not ready"
    if status.get("ready") is False:
        return "Degraded", "not ready"
    if status.get("shadow") or len(serving) > 1:
        return "Progressing", "rollout under way (traffic split or shadow)"
    if traffic and status.get("version") is not None and traffic.get(str(status["version"])) != 100:
        return "Degraded", f"applied {status['version']} but {', '.join(serving)} serves"
    return "Healthy", ""


_WORSE = ("Missing", "Degraded", "Progressing")


def _health(rid: str, entry: dict[str, Any]) -> tuple[str, str]:
    status = entry.get("status") or {}
    if rid.startswith("Model/"):
        health, message = _model_health(status)
        # A target that runs replicas (ray-serve) reports their health too: the worse one counts.
        reported = status.get("health")
        if reported in _WORSE and (health == "Healthy" or _WORSE.index(reported) < _WORSE.index(health)):
            return str(reported), message or f"the target reports its replicas {reported}"
        return health, message
    if status.get("ready") is False:
        return "Degraded", str(status.get("message") or "not ready")
    return "Healthy", ""


def collect_status(
    repo: Path | str | Project = ".",
    *,
    ref: str = "HEAD",
    worktree: bool = False,
    specs_root: str = "specs",
    timeout: float = 10.0,
) -> StatusReport:
    """Desired state at ``ref`` against every target's live state, on the targets the planner places it."""
    from specops.plan import placement, read_desired, read_live

    project = repo if isinstance(repo, Project) else Project.discover(repo, specs_root=specs_root)
    desired = read_desired(project, ref=ref, worktree=worktree)
    live = read_live(desired.estate, None, allow_unreachable=True, timeout=timeout)
    places = placement(desired.estate)
    targets = {
        name: {"reachable": t.reachable, "revision": t.revision, "url": t.url, "error": t.error}
        for name, t in sorted(live.targets.items())
    }
    rows: list[ResourceStatus] = []
    for spec in desired.estate:
        for target in sorted(places.get(spec.id, ())):
            state = live.targets.get(target)
            row = ResourceStatus(spec.id, target, "OutOfSync", "Unknown", desired_hash=spec.hash)
            if state is None or not state.reachable:
                row.message = f"target {target} unreachable" + (f": {state.error}" if state and state.error else "")
                row.sync = "Unknown"
                rows.append(row)
                continue
            have = state.resources.get(spec.id)
            if have is None:
                row.health, row.message = "Missing", "not on the target (apply the plan)"
                rows.append(row)
                continue
            _fill(row, have.hash, have.spec, have.status)
            if spec.id.startswith("Model/"):  # a version watch or analysis rolled back (issue 12)
                from specops.watch import rollback_note

                note = rollback_note(have.status, getattr(getattr(spec.resource, "spec", None), "version", None))
                row.message = note or row.message
            if have.hash == spec.hash and have.running_hash == spec.hash:
                row.sync = "Synced"
            elif have.running_hash != have.hash:
                row.message = row.message or "drifted: the target runs something other than what was applied"
            else:
                row.message = row.message or "git has a different spec (plan and apply it)"
            rows.append(row)
    desired_ids = set(desired.estate.specs)
    for name, state in sorted(live.targets.items()):
        for rid, have in sorted(state.resources.items()):
            if rid not in desired_ids:
                row = ResourceStatus(rid, name, "OutOfSync", "Unknown")
                _fill(row, have.hash, have.spec, have.status)
                row.message = "not in git any more (the next apply deletes it)"
                rows.append(row)
    last = _last_applies(project)
    for row in rows:
        row.last_apply = last.get((row.id, row.target))
    return StatusReport(desired.fingerprint.to_json(), targets, rows)


def _last_applies(project: Project) -> dict[tuple[str, str], dict[str, Any]]:
    """The last recorded apply per (resource, target): outcome, by what, version, when, commit.

    Read from the evidence chain, not the local journal, so a status on any clone
    tells the story of an apply a CI runner made (``git fetch origin
    refs/specops/evidence:refs/specops/evidence`` brings it). No evidence yet: nothing.
    """
    from specops.evidence._cli import evidence_records, history_entries

    try:
        commit, records, _ = evidence_records(project.repo)
        if commit is None:
            return {}
        entries = history_entries(records)
    except SpecOpsError:
        return {}
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:  # oldest first: the last one wins
        last[(str(entry["resource"]), str(entry["target"]))] = {
            k: entry.get(k) for k in ("when", "version", "outcome", "outcome_by", "commit", "plan_id")
        }
    return last


def _fill(row: ResourceStatus, hash_: str, spec: dict[str, Any] | None, status: dict[str, Any]) -> None:
    row.live_hash = hash_
    row.health, row.message = _health(row.id, {"status": status})
    if spec is not None and canonical_hash(spec) != hash_:
        row.health = "Degraded" if row.health == "Healthy" else row.health
    row.version = str(status["version"]) if status.get("version") is not None else None
    # What really serves: loaded versions with weight 0 are kept for rollback, not serving.
    row.traffic = {str(k): int(v) for k, v in (status.get("traffic") or {}).items() if int(v) > 0}
    row.shadow = status.get("shadow")
    row.providers = [str(p) for p in status.get("providers") or []]
    replicas = status.get("replicas")
    if isinstance(replicas, dict):
        row.replicas = {str(v): int(n) for v, n in replicas.items()}


def _last_text(last: dict[str, Any] | None) -> str:
    if not last:
        return "-"
    version = f"{last['version']} " if last.get("version") else ""
    by = f" by {last['outcome_by']}" if last.get("outcome_by") else ""
    return f"{version}{last.get('outcome') or '?'}{by} ({str(last.get('when') or '')[:16]})"


def render_status_text(report: StatusReport) -> str:
    lines = []
    for name, target in report.targets.items():
        where = target["url"] or "-"
        state = f"revision {target['revision']}" if target["reachable"] else f"UNREACHABLE ({target['error']})"
        lines.append(f"target {name} {where}: {state}")
    scaled = any(r.replicas for r in report.resources)
    head = ("RESOURCE", "TARGET", "SYNC", "HEALTH", "VERSION", "TRAFFIC", "PROVIDERS", "LAST APPLY", "MESSAGE")
    table: list[tuple[str, ...]] = [(*head[:6], "REPLICAS", *head[6:]) if scaled else head]
    for r in report.resources:
        traffic = ", ".join(f"{v}={w}%" for v, w in sorted(r.traffic.items())) or "-"
        if r.shadow:
            traffic += f" (shadow {r.shadow})"
        row: tuple[str, ...] = (r.id, r.target, r.sync, r.health, r.version or "-", traffic)
        if scaled:
            row += (", ".join(f"{v}={n}" for v, n in sorted(r.replicas.items())) or "-",)
        table.append((*row, ",".join(r.providers) or "-", _last_text(r.last_apply), r.message))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    synced = sum(r.sync == "Synced" for r in report.resources)
    healthy = sum(r.health == "Healthy" for r in report.resources)
    lines.append(f"{synced}/{len(report.resources)} synced, {healthy}/{len(report.resources)} healthy.")
    return "\n".join(lines) + "\n"
