"""The context a policy sees beside the change: commits, their authors, the pull request, the time.

Pull-request data comes from ``--context FILE`` (CI writes it from the
event payload)::

    now: "2026-11-02T10:00:00Z"       # optional; default: the current UTC time
    pull_request:
      number: 42
      author: carol
      approvals: [alice, bob]         # users who approved the current head
      labels: [change-freeze-exception]

Commits and authors are read from git (``base..head`` when the plan has a
base, else the head commit alone).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator

from specops._git import GitError, GitRepo
from specops.policy._files import load_model
from specops.policy._input import plan_document
from specops.spec._common import SpecModel

__all__ = ["ContextFile", "build_context", "load_context", "parse_now"]

MAX_COMMITS = 250


class PullRequest(SpecModel):
    number: Annotated[int, Field(ge=1)] | None = None
    title: str | None = None
    url: str | None = None
    author: str | None = None
    approvals: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    base_ref: str | None = None
    head_ref: str | None = None


class ContextFile(SpecModel):
    now: str | None = Field(default=None, description="Evaluation time, RFC 3339 (UTC).")
    pull_request: PullRequest | None = None

    @field_validator("now")
    @classmethod
    def _rfc3339(cls, value: str | None) -> str | None:
        if value is not None:
            parse_now(value)
        return value


def parse_now(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("expected an RFC 3339 time such as 2026-11-02T10:00:00Z") from None
    if moment.tzinfo is None:
        raise ValueError("the time needs a zone, e.g. 2026-11-02T10:00:00Z")
    return moment.astimezone(dt.UTC)


def format_now(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def load_context(path: Path | None) -> ContextFile:
    if path is None:
        return ContextFile()
    model, _ = load_model(path, path.as_posix(), ContextFile, "context file")
    return model


def _commits(repo: GitRepo | Path, head: str | None, base: str | None) -> list[dict[str, Any]]:
    if head is None:
        return []
    if not isinstance(repo, GitRepo):
        try:
            repo = GitRepo.discover(repo)
        except GitError:
            return []
    return repo.commits(head, base, MAX_COMMITS)


def build_context(
    plan: Any, repo: GitRepo | Path, context: ContextFile, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The ``input.context`` document: the same for every decision of one plan (its document, or a ``Plan``)."""
    doc = plan_document(plan)
    moment = parse_now(context.now) if context.now else (now or dt.datetime.now(dt.UTC))
    head = doc["desired"]
    base = (doc.get("review") or {}).get("base")
    commits = _commits(repo, head["commit"], base["commit"] if base is not None else None)
    pr = context.pull_request
    return {
        "now": format_now(moment),
        "head": {"ref": head["ref"], "commit": head["commit"], "worktree": head["worktree"]},
        "base": {"ref": base["ref"], "commit": base["commit"]} if base is not None else None,
        "commits": commits,
        "authors": sorted({c["author"] for c in commits}),
        "pull_request": pr.model_dump(mode="json") if pr is not None else None,
    }
