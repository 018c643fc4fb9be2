"""``onBreach: rollback``: shift a breaching target back, record it, propose the revert in git.

When a page alert fires for the version a target fully serves, SpecOps rolled
it out (the live entry records its spec) and the version that served 100%
before is still loaded there (weight 0, kept for exactly this), watch:

1. takes the target's *apply* lease (an apply in progress wins: watch waits);
2. journals the action like an apply (``apply.start``/``change.start`` with
   ``holder: watch@host:pid``), so a watcher killed mid-action leaves an open
   entry that ``specops apply``'s recovery, or the next watch, closes by
   reading live state: the switch is one atomic call, it happened or not;
3. ``PUT /admin/v1/models/{name}/traffic`` with ``{previous: 100, bad: 0}`` and
   ``"rollback": {"version", "reason", "by": "watch", "branch"}``: the target
   records the version as rolled back (hash, time, reason) in its live state,
   which every runner on every machine reads, and makes the previous spec the
   applied one again;
4. proposes the revert: a branch ``specops/rollback/<model>-<version>`` with
   one commit that restores the previous Model spec file (found in the file's
   git history by version and hash; its artifact file too when the head lost
   it), the message naming the objective, the burn rate and the windows;
   pushed to ``origin`` when the repository has one.

Each step is idempotent (a rolled-back version is not rolled back twice, an
existing branch is reused), so a retry after a crash finishes the job.

A rolled-back version stays rolled back: ``rolled_back_blocks`` is the
planner's check (a plan that would apply a version with the very spec hash
that was rolled back is blocked, with the reason and time, unless the plan
is made with ``--retry-rolled-back``), and ``rollback_note`` is what
``specops status`` says about it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specops._errors import SpecOpsError
from specops._git import GitError, GitRepo
from specops.apply._journal import Journal
from specops.targets import AdminError, LeaseHeldError, MutationUncertainError

__all__ = [
    "RollbackCandidate",
    "find_candidate",
    "propose_revert",
    "revert_branch",
    "rollback_note",
    "rollback_on_target",
    "rolled_back_blocks",
]

AUTHOR = ("SpecOps Watch", "watch@specops.invalid")


def revert_branch(model: str, version: str) -> str:
    return f"specops/rollback/{model}-{version}"


@dataclass(slots=True)
class RollbackCandidate:
    model: str
    bad: str  # the version serving 100% now, the one that breaches
    good: str  # the version that served before it, still loaded with weight 0
    bad_hash: str
    good_hash: str
    revision: str | None
    entry: dict[str, Any] = field(default_factory=dict)


def find_candidate(state: dict[str, Any], model: str, version: str) -> tuple[RollbackCandidate | None, str]:
    """Whether ``version`` of ``model`` can be rolled back on this target; the reason when not."""
    entry = (state.get("resources") or {}).get(f"Model/{model}")
    if not isinstance(entry, dict):
        return None, f"Model/{model} is not on the target"
    status = entry.get("status") or {}
    traffic = {str(k): int(v) for k, v in (status.get("traffic") or {}).items()}
    versions = status.get("versions") or {}
    if (status.get("rolled_back") or {}).get(version):
        return None, f"{version} is already rolled back"
    if traffic.get(version) != 100:
        return None, f"{version} does not serve 100% (traffic {traffic}): a rollout is under way or done"
    if status.get("version") != version or (versions.get(version) or {}).get("hash") != entry.get("hash"):
        return None, f"{version} was not rolled out by SpecOps here (the applied spec is another)"
    previous = [v for v, w in traffic.items() if v != version and w == 0 and (versions.get(v) or {}).get("ready", True)]
    if not previous:
        return None, f"no previous version of {model} is still loaded (nothing to roll back to)"
    good = sorted(previous)[-1]
    return (
        RollbackCandidate(model, version, good, str(entry.get("hash")), str(versions[good].get("hash")),
                          state.get("revision"), entry),
        "",
    )  # fmt: skip


def rollback_on_target(
    driver: Any,
    candidate: RollbackCandidate,
    reason: str,
    *,
    holder: str,
    journal: Journal,
    identity: dict[str, Any],
    lease_ttl_s: float = 60.0,
) -> dict[str, Any]:
    """Steps 1-3 of the module docstring; returns what happened (``outcome`` rolled_back | deferred)."""
    branch = revert_branch(candidate.model, candidate.bad)
    rid = f"Model/{candidate.model}"
    try:
        driver.acquire(holder, lease_ttl_s, kind="apply")
    except LeaseHeldError as exc:
        return {"outcome": "deferred", "reason": f"apply lease held by {exc.holder}"}
    apply_id = identity.get("apply_id") or f"watch-{uuid.uuid4().hex[:12]}"
    ids = {"apply_id": apply_id, "plan_id": None, "commit": identity.get("commit"), "holder": holder}
    try:
        state = driver.live_state()
        fresh, why = find_candidate(state, candidate.model, candidate.bad)
        if fresh is None:
            return {"outcome": "skipped", "reason": why}
        journal.append("apply.start", **ids, outcome="started", detail={"by": "watch", "reason": reason})
        journal.append(
            "change.start", **ids, target=driver.name, resource=rid, action="rollback",
            detail={"from": fresh.bad, "to": fresh.good, "after_hash": fresh.good_hash, "previous": None,
                    "reason": reason, "branch": branch},
        )  # fmt: skip
        try:
            answer = driver.set_traffic(
                candidate.model, {fresh.good: 100, fresh.bad: 0}, None, expected_revision=fresh.revision,
                reason={"version": fresh.bad, "reason": reason, "by": "watch", "branch": branch},
            )  # fmt: skip
        except MutationUncertainError:
            raise  # the switch may have happened: the entry stays open, the next tick reads live state
        except AdminError as exc:
            journal.append("change.failed", **ids, target=driver.name, resource=rid, outcome="failed", detail={"error": str(exc)})
            journal.append("apply.failed", **ids, outcome="failed", detail={"error": str(exc)})
            raise
        detail = {"version": fresh.bad, "to": fresh.good, "how": "traffic routed back (rollback recorded on the target)",
                  "revision": answer.get("revision")}  # fmt: skip
        journal.append("rollback", **ids, target=driver.name, resource=rid, outcome="rolled_back", detail=detail)
        journal.append("change.done", **ids, target=driver.name, resource=rid, outcome="rolled_back", detail=detail)
        return {"outcome": "rolled_back", "apply_id": apply_id, "from": fresh.bad, "to": fresh.good,
                "branch": branch, "revision": answer.get("revision")}  # fmt: skip
    finally:
        with contextlib.suppress(AdminError):
            driver.release(holder, kind="apply")


def _model_in(data: bytes, path: str, model: str) -> tuple[str | None, str | None, str | None]:
    """Version, canonical hash and artifact uri of ``Model/<model>`` in a historic spec file."""
    from specops._core import canonical_hash
    from specops.spec import Model, parse_bytes

    parsed, _ = parse_bytes(data, path)
    for resource, _doc in parsed:
        if isinstance(resource, Model) and resource.name == model:
            return resource.spec.version, canonical_hash(resource.canonical()), resource.spec.artifact.uri
    return None, None, None


def _previous_spec(
    repo: GitRepo, head: str, path: str, model: str, version: str, spec_hash: str | None
) -> tuple[str, bytes, str | None]:
    """The newest version of ``path`` holding ``model`` at ``version``: the one with the target's hash
    first (exactly what served), else the newest with that version."""
    by_version: tuple[str, bytes, str | None] | None = None
    for commit, data in repo.file_history(head, path):
        found, found_hash, uri = _model_in(data, path, model)
        if found != version:
            continue
        if spec_hash is None or found_hash == spec_hash:
            return commit, data, uri
        by_version = by_version or (commit, data, uri)
    if by_version is None:
        raise GitError(f"no commit of {path} holds Model/{model} {version}; revert it by hand")
    return by_version


def propose_revert(
    repo_path: Path | str,
    ref: str,
    model_path: str,
    model: str,
    bad: str,
    good: str,
    good_hash: str | None,
    message: str,
    say: Callable[[str], None] = lambda _line: None,
) -> dict[str, Any]:
    """Step 4: the revert branch, committed (and pushed to ``origin``); never raises for git trouble."""
    branch = revert_branch(model, bad)
    result: dict[str, Any] = {"branch": branch, "commit": None, "pushed": False, "error": None}
    try:
        repo = GitRepo.discover(repo_path)
        existing = repo.branch_commit(branch)
        if existing is None:
            head = repo.resolve(ref).commit
            previous = _previous_spec(repo, head, model_path, model, good, good_hash)
            files = {model_path: previous[1]}
            uri = previous[2]
            if uri and "://" not in uri and not repo.has_path(repo.resolve(head).tree, uri):
                with contextlib.suppress(GitError):
                    files[uri] = repo.read_path(previous[0], uri)  # the artifact the old spec names
            existing = repo.commit_files(branch, head, files, message, *AUTHOR)
            say(f"  revert proposed on branch {branch} ({existing[:12]})")
        result["commit"] = existing
        if repo.has_remote("origin"):
            repo.push("origin", branch)
            result["pushed"] = True
            say(f"  pushed {branch} to origin")
    except SpecOpsError as exc:
        result["error"] = str(exc)
        say(f"  revert not proposed: {exc}")
    return result


# -- a rolled-back version stays rolled back ------------------------------------------


def rolled_back_record(status: dict[str, Any], version: str | None, spec_hash: str | None) -> dict[str, Any] | None:
    """The target's record of ``version`` rolled back with this spec hash (any hash when None)."""
    record = (status.get("rolled_back") or {}).get(version or "")
    if not isinstance(record, dict):
        return None
    if spec_hash is not None and record.get("hash") != spec_hash:
        return None
    return record


def rolled_back_blocks(changes: list[Any], live: Any, *, retry: bool = False) -> list[Any]:
    """The planner's check: ``BlockedChange``s for Model changes that would apply a rolled-back spec.

    ``changes`` are the plan's ``ResourceChange``s, ``live`` its ``LiveState``.
    With ``retry`` (``--retry-rolled-back``) nothing is blocked.
    """
    from specops.plan._model import BlockedChange

    if retry:
        return []
    blocked: list[Any] = []
    for change in changes:
        if change.kind != "Model" or not ({"create", "update"} & set(change.actions)) or change.after is None:
            continue
        version = str((change.after.get("spec") or {}).get("version"))
        for target in change.targets:
            state = live.targets.get(target)
            have = state.resources.get(change.id) if state is not None else None
            record = rolled_back_record(have.status, version, change.after_hash) if have is not None else None
            if record is None:
                continue
            branch = f"; revert proposed on branch {record['branch']}" if record.get("branch") else ""
            blocked.append(
                BlockedChange(
                    change.id, list(change.actions), "rolled_back",
                    f"{change.id} {version} was rolled back on {target} at {record.get('at')} by "
                    f"{record.get('by')}: {record.get('reason')}{branch}; it stays rolled back until its spec "
                    "changes (merge the revert or fix the model), or plan with --retry-rolled-back",
                )
            )
    return blocked


def rollback_note(status: dict[str, Any], desired_version: str | None = None) -> str:
    """``specops status``'s words for a model with rolled-back versions ('' when none)."""
    notes = []
    for version, record in sorted((status.get("rolled_back") or {}).items()):
        if desired_version is not None and version != desired_version:
            continue
        branch = record.get("branch")
        proposed = f"; revert proposed on branch {branch}" if branch else ""
        notes.append(f"{version} rolled back at {record.get('at')}: {record.get('reason')}{proposed}")
    return "; ".join(notes)
