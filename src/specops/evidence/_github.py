"""Who approved a merge: the pull request behind a commit on main, and its reviews, from GitHub's REST API.

The apply workflow runs on a push to main, where the event carries no pull
request; ``specops audit pr-context`` asks the API which merged pull
request produced the commit (``GET /repos/{repo}/commits/{sha}/pulls``)
and who approved its final head (``GET /repos/{repo}/pulls/{n}/reviews``:
each reviewer's latest decisive review on that head counts), and writes
the ``--context`` file the plan's policies read. So the plan record in the
evidence says who approved what was applied. Reads ``GITHUB_API_URL``,
``GITHUB_REPOSITORY``, ``GITHUB_SHA`` and the token from ``GITHUB_TOKEN``
(the job needs ``pull-requests: read``); the token is never written.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from specops._errors import SpecOpsError

__all__ = ["pull_request_context"]

_PAGES = 10


def _get(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    next_url: str | None = url
    for _ in range(_PAGES):
        if next_url is None:
            break
        try:
            response = client.get(next_url)
        except httpx.HTTPError as exc:
            raise SpecOpsError(f"GitHub API unreachable at {next_url}: {exc}") from exc
        if response.status_code in (401, 403):
            raise SpecOpsError(f"GitHub API refused {next_url} ({response.status_code}): the job needs `pull-requests: read`")
        if response.status_code >= 400:
            raise SpecOpsError(f"GitHub API answered {response.status_code} for {next_url}")
        data = response.json()
        if not isinstance(data, list):
            raise SpecOpsError(f"GitHub API answered {next_url} with something other than a list")
        out.extend(d for d in data if isinstance(d, dict))
        next_url = response.links.get("next", {}).get("url")
    return out


def pull_request_context(
    sha: str | None = None,
    repository: str | None = None,
    api_url: str | None = None,
    token: str | None = None,
    timeout: float = 20.0,
) -> dict[str, Any]:
    """The context document for ``sha``: ``{"pull_request": {...}}``, or ``{}`` when no merged pull request has it."""
    sha = sha or os.environ.get("GITHUB_SHA")
    repository = repository or os.environ.get("GITHUB_REPOSITORY")
    api_url = (api_url or os.environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")
    token = token if token is not None else os.environ.get("GITHUB_TOKEN")
    if not sha or not repository:
        raise SpecOpsError("pr-context needs GITHUB_SHA and GITHUB_REPOSITORY (set on GitHub runners), or --sha and --repository")
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with httpx.Client(headers=headers, timeout=timeout) as client:
        pulls = _get(client, f"{api_url}/repos/{repository}/commits/{sha}/pulls")
        merged = [p for p in pulls if p.get("merged_at")]
        pr = next((p for p in merged if p.get("merge_commit_sha") == sha), merged[0] if merged else None)
        if pr is None:
            return {}
        reviews = _get(client, f"{api_url}/repos/{repository}/pulls/{pr['number']}/reviews?per_page=100")
    head = (pr.get("head") or {}).get("sha")
    latest: dict[str, str] = {}
    for review in reviews:  # oldest first: a later decisive review replaces an earlier one
        user = (review.get("user") or {}).get("login")
        state = review.get("state")
        if user and state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED") and review.get("commit_id") == head:
            latest[user] = state
    author = (pr.get("user") or {}).get("login")
    approvals = sorted(u for u, s in latest.items() if s == "APPROVED" and u != author)
    return {
        "pull_request": {
            "number": pr.get("number"),
            "title": pr.get("title"),
            "url": pr.get("html_url"),
            "author": author,
            "approvals": approvals,
            "labels": [label.get("name") for label in pr.get("labels") or [] if isinstance(label, dict)],
            "base_ref": (pr.get("base") or {}).get("ref"),
            "head_ref": (pr.get("head") or {}).get("ref"),
        }
    }
