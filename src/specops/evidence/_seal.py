"""Sealing: the journal's new events become evidence records on the chain.

The journal stays the crash-safe write-ahead log; ``seal`` reads what was
appended to it since the last seal (``head.json`` and each record's
``source`` remember the byte offset and event id per journal) and appends
one record per event. Sealing twice adds nothing. The plan an apply read is
stashed beside the journal before the apply starts (``stash_plan``), so its
policy decisions, waivers and pull-request context are sealed with the
apply's first event even when the process died mid-apply and a later one
seals for it.

A journal is named by the SHA-256 of its first line (an ``apply.start`` with
a random apply id and a timestamp), so two clones, or a CI runner and a
laptop, never mistake each other's offsets.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from specops._errors import SpecOpsError
from specops._git import GitError, GitRepo
from specops.evidence._record import canonical, digest
from specops.evidence._store import EvidenceError, EvidenceStore

__all__ = ["SealResult", "plan_record", "seal", "stash_plan", "stashed_plan"]

_IDENTITY = ("ts", "holder", "commit", "plan_id", "apply_id", "target", "resource", "action", "outcome")


@dataclass(slots=True)
class SealResult:
    sealed: int
    head: str | None
    pushed: bool = False
    push_attempts: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"sealed": self.sealed, "head": self.head, "pushed": self.pushed, "push_attempts": self.push_attempts}


def _plans_dir(journal_path: Path) -> Path:
    return journal_path.parent / (journal_path.stem + ".plans")


def stash_plan(journal_path: Path | None, doc: dict[str, Any]) -> Path | None:
    """Keep the plan an apply is about to read beside its journal, for sealing (write-then-rename)."""
    if journal_path is None:
        return None
    directory = _plans_dir(journal_path)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{doc['plan_id']}.json"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(canonical(doc))
    os.replace(tmp, path)
    return path


def stashed_plan(journal_path: Path, plan_id: str) -> dict[str, Any] | None:
    try:
        data = orjson.loads((_plans_dir(journal_path) / f"{plan_id}.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("plan_id") == plan_id else None


def _spec_of(change: dict[str, Any]) -> dict[str, Any]:
    return ((change.get("after") or change.get("before") or {}).get("spec")) or {}


def _dataset_spec(git: GitRepo, fp: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """A Dataset's spec as the plan saw it: its ``after`` document, else its file at the plan's commit."""
    if change.get("after"):
        return dict((change["after"] or {}).get("spec") or {})
    path = change.get("path")
    if not path:
        return {}
    try:
        if fp.get("worktree"):
            text = (git.workdir / str(path)).read_text(encoding="utf-8")
        elif fp.get("commit"):
            text = git.read_path(str(fp["commit"]), str(path)).decode("utf-8")
        else:
            return {}
        from specops._yaml import load_documents

        documents = load_documents(text, str(path))
    except (OSError, UnicodeDecodeError, SpecOpsError):
        return {}  # lineage is context: a plan whose commit is gone still seals
    for document in documents:
        data = document.data
        if isinstance(data, dict) and data.get("kind") == "Dataset" and (data.get("metadata") or {}).get("name") == change.get("name"):
            return dict(data.get("spec") or {})
    return {}


def _lineage(git: GitRepo, doc: dict[str, Any]) -> dict[str, Any]:
    """What each changed Model was trained on (dataset version and sha256) and each changed Prompt's evaluation gate.

    Read from the plan itself and, for a Dataset the plan did not change, its
    one spec file at the plan's commit (the plan names the file): no second
    load of the estate.
    """
    fp = doc.get("desired") or {}
    changes = {c.get("id"): c for c in doc.get("resource_changes") or []}
    out: dict[str, Any] = {}
    for rid, change in changes.items():
        body = ((change.get("after") or {}).get("spec")) or {}
        if change.get("kind") == "Model" and body.get("trainedOn"):
            trained = body["trainedOn"]
            dataset = changes.get(f"Dataset/{trained.get('dataset')}")
            spec = _dataset_spec(git, fp, dataset) if dataset is not None else {}
            out[str(rid)] = {
                "dataset": trained.get("dataset"),
                "dataset_version": trained.get("version"),
                "dataset_sha256": (spec.get("artifact") or {}).get("sha256"),
            }
        elif change.get("kind") == "Prompt" and body.get("evaluation"):
            out[str(rid)] = {"evaluation": body["evaluation"]}
    return out


def plan_record(doc: dict[str, Any], lineage: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``plan`` record of an applied plan, and one ``policy.decision`` record per decision (OPA decision-log style)."""
    fp = doc.get("desired") or {}
    lineage = lineage or {}
    changes = []
    for change in doc.get("resource_changes") or []:
        if change.get("actions") in (["no-op"], ["unknown"]):
            continue
        spec = _spec_of(change)
        changes.append(
            {
                "id": change["id"],
                "actions": change["actions"],
                "before_hash": change.get("before_hash"),
                "after_hash": change.get("after_hash"),
                "fields": [d["path"] for d in change.get("diffs") or []],
                "version": spec.get("version"),
                "artifact_sha256": (spec.get("artifact") or {}).get("sha256") if change.get("after") else None,
                "targets": change.get("targets") or [],
                "tested": lineage.get(change["id"]),
            }
        )
    policy = doc.get("policy")
    decisions: list[dict[str, Any]] = []
    summary: dict[str, Any] | None = None
    if policy is not None:
        source = policy.get("source") or {}
        bundle_commit = source.get("commit") or fp.get("commit")
        summary = {
            "engine": policy.get("engine"),
            "bundle_digest": policy.get("bundle_hash"),
            "bundle_commit": bundle_commit,
            "bundle_ref": source.get("ref"),
            "blocked": policy.get("blocked"),
            "counts": policy.get("counts"),
            "rules": [r["id"] for r in policy.get("rules") or []],
            "results": [
                {k: r.get(k) for k in ("rule", "resource", "outcome", "status", "message", "approvers",
                                       "approved_by", "waiver", "decision_id")}
                for r in policy.get("results") or []
            ],
            "context": policy.get("context") or {},
        }
        for decision in policy.get("decisions") or []:
            decisions.append(
                {
                    "type": "policy.decision",
                    "decision_id": decision.get("id"),
                    "scope": decision.get("scope"),
                    "resource": decision.get("resource"),
                    "bundle_digest": decision.get("bundle_hash"),
                    "bundle_commit": bundle_commit,
                    "input_digest": decision.get("input_hash"),
                    "result": decision.get("result"),
                    "error": decision.get("error"),
                    "decided_at": decision.get("time"),
                }
            )
    record = {
        "type": "plan",
        "desired": {k: fp.get(k) for k in ("ref", "commit", "tree", "worktree", "specs_root", "content")},
        "changes": changes,
        "policy": summary,
    }
    return record, decisions


def _trim(event: dict[str, Any]) -> dict[str, Any]:
    """What a record keeps of a journal event: its identity and detail, without the previous spec's body."""
    detail = dict(event.get("detail") or {})
    previous = detail.get("previous")
    if isinstance(previous, dict):
        status = previous.get("status") or {}
        detail["previous"] = {
            "hash": previous.get("hash"),
            "version": (previous.get("spec") or {}).get("spec", {}).get("version") or status.get("version"),
            "traffic": status.get("traffic"),
        }
    if "targets" in detail and isinstance(detail["targets"], dict):
        detail["targets"] = {name: {"url": t.get("url"), "tokenEnv": t.get("token_env")} for name, t in detail["targets"].items()}
    from specops.plan._model import mask

    out = {k: event[k] for k in _IDENTITY if event.get(k) is not None}
    out["type"] = str(event.get("event"))
    for key, value in event.items():
        if key not in _IDENTITY and key not in ("event", "detail"):
            out.setdefault(key, value)
    out["detail"] = mask(detail)
    return out


def _journal_id(path: Path) -> str | None:
    """The SHA-256 of the journal's first complete line (``None`` while it has none)."""
    try:
        with path.open("rb") as handle:
            first = handle.readline()
    except FileNotFoundError:
        return None
    return digest(first)[:32] if first.endswith(b"\n") else None


def _read_journal(path: Path, offset: int) -> list[tuple[int, bytes]]:
    """The journal's complete lines from ``offset`` on, each with the offset just after it."""
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    lines: list[tuple[int, bytes]] = []
    at = offset
    for line in data.split(b"\n")[:-1]:  # the piece after the last newline is a torn or unfinished write
        at += len(line) + 1
        if line.strip():
            lines.append((at, line))
    return lines


def _bodies(
    git: GitRepo, journal_path: Path, journal_id: str, lines: list[tuple[int, bytes]]
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    bodies: list[dict[str, Any]] = []
    mark: dict[str, Any] | None = None
    for end, line in lines:
        event_id = digest(line)[:32]
        mark = {"offset": end, "event": event_id}
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a torn write of a killed process: the journal skips it too
        if not isinstance(event, dict) or "event" not in event:
            continue
        source = {"journal": journal_id, "offset": end, "event": event_id}
        identity = {k: event[k] for k in ("ts", "holder", "commit", "plan_id", "apply_id") if event.get(k) is not None}
        if event["event"] == "apply.start" and event.get("plan_id"):
            doc = stashed_plan(journal_path, str(event["plan_id"]))
            if doc is not None:
                plan, decisions = plan_record(doc, _lineage(git, doc))
                bodies.append({**plan, **identity, "id": f"{event_id}/plan", "source": source})
                for n, decision in enumerate(decisions):
                    bodies.append({**decision, **identity, "id": f"{event_id}/decision/{n}", "source": source})
        bodies.append({**_trim(event), "id": event_id, "source": source})
    return bodies, mark


def seal(
    repo: Path | str | GitRepo,
    journal_path: Path,
    *,
    push: bool = False,
    remote: str = "origin",
    say: Callable[[str], None] | None = None,
) -> SealResult:
    """Append the journal's unsealed events to the repository's evidence chain; with ``push``, share it.

    Idempotent. ``push`` fetches the remote's chain first (re-linking any
    local-only records onto it) and pushes without force, re-linking and
    retrying when another writer got there first; without a configured
    ``remote`` it only seals locally. An unreachable remote never costs a
    record: they are sealed locally, ``EvidenceError`` says they were not
    pushed, and the next seal pushes them. Called at the end of every apply
    and by the watch loop after its actions.
    """
    git = repo if isinstance(repo, GitRepo) else GitRepo.discover(repo)
    store = EvidenceStore(git)
    sharing = push and git.has_remote(remote)
    unshared: GitError | None = None
    with store.lock():
        if sharing:
            try:
                store.pull(remote)
            except GitError as exc:
                unshared = exc
        head = store.read_head(store.head_commit())
        journal_id = _journal_id(journal_path)
        sealed = 0
        if journal_id is not None:
            mark = (head.get("journals") or {}).get(journal_id) or {}
            lines = _read_journal(journal_path, int(mark.get("offset", 0)))
            bodies, last = _bodies(git, journal_path, journal_id, lines)
            if bodies and last is not None:
                message = f"evidence: sealed {len(bodies)} record(s) from journal {journal_id[:12]} by {_who()}"
                sealed = len(store.append(bodies, message, journals={journal_id: last}))
        result = SealResult(sealed, store.head_commit())
        if unshared is not None:
            raise EvidenceError(f"{sealed} record(s) sealed locally but not pushed ({unshared}); the next seal pushes them")
        if sharing:
            try:
                result.push_attempts = store.push(remote)
            except GitError as exc:
                raise EvidenceError(f"evidence sealed locally but not pushed: {exc}") from exc
            result.pushed = True
            result.head = store.head_commit()
    if say is not None:
        where = f", pushed to {remote}" if result.pushed else ""
        say(f"Evidence: {result.sealed} record(s) sealed on refs/specops/evidence{where}.")
    return result


def _who() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
