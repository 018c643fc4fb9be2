"""``specops init``: the files of a new SpecOps repository.

What it writes: ``specops.yaml`` (the built-in policy library plus the
repository's own ``policies/``), ``waivers.yaml``, one commented example of
every kind under ``specs/`` (with their model and data files), the JSON
Schemas the specs' editor modelines point at (``schemas/``), an example
policy with its test, ``.gitignore`` and the plan and apply workflows.

An existing file is kept (and reported) unless ``force``: ``init`` in a
repository that has some of these only adds what is missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from specops._errors import SpecOpsError
from specops.init._examples import example_files
from specops.init._workflows import workflow_files
from specops.policy._library import BUILTIN_LIBRARY

__all__ = ["InitResult", "init_project"]

CONFIG = f"""\
# SpecOps project configuration. Its presence also marks the repository root.
policy:
  # Rego policies: {BUILTIN_LIBRARY} is the library that ships with SpecOps (rules SO-*,
  # upgraded with SpecOps; `specops policy test {BUILTIN_LIBRARY}` runs its tests),
  # policies/ holds this repository's own rules.
  paths:
    - {BUILTIN_LIBRARY}
    - policies
  # embedded (in process) or opa (a central OPA server: pip install 'specops[opa]').
  engine: embedded
  # opa: {{url: "http://opa.internal:8181", tokenEnv: OPA_TOKEN, push: true}}
  # A decision slower than this denies the plan (fail closed).
  timeout: 5s
  # Data documents: data.project.<key> in Rego.
  data:
    # Approvals by any member of a team satisfy an approval that names the team
    # (a resource's metadata.owner); members are GitHub logins.
    teams:
      ml-platform: []
    # No production change while one of these is in force (RFC 3339, UTC).
    freeze_windows: []
    # - {{name: year-end, start: "2026-12-20T00:00:00Z", end: "2027-01-04T00:00:00Z"}}
  # Roll a new rule out as a warning before it denies: {{RULE-ID: warn | deny | off}}.
  enforcement: {{}}
  waivers: waivers.yaml
"""

WAIVERS = """\
# Exceptions to policy rules, reviewed like any other change. A waiver in
# force turns a matching result into "waived" (still reported); one past its
# expiry date is an error until it is renewed or deleted.
waivers: []
# - rule: SO-MODEL-003                # rule id (glob allowed: SO-MODEL-*)
#   resource: Model/churn-scorer      # Kind/name glob
#   owner: ml-platform
#   justification: the SLO is being written (TICKET-123)
#   expires: 2027-01-31               # last day in force (UTC)
"""

POLICY = """\
# An example of a repository's own rule. The METADATA block names it (custom.id
# is what waivers and `enforcement` refer to); deny, warn or approval decide.
# `specops policy test` runs owner_test.rego next to it.
# METADATA
# title: Every resource names its owner
# description: >-
#   metadata.owner says who answers for a resource; the approval rules and the
#   alerts go to that team.
# custom:
#   id: ORG-OWNER-001
#   severity: low
package org.policies.owner

import rego.v1

warn contains {"msg": msg, "field": "metadata.owner"} if {
	input.change.action != "delete"
	not input.resource.metadata.owner
	msg := sprintf("%s has no metadata.owner", [input.change.id])
}
"""

POLICY_TEST = """\
package org.policies.owner_test

import rego.v1

change(doc) := {
	"scope": "resource",
	"change": {"id": "Model/m", "kind": "Model", "name": "m", "action": "create", "before": null, "after": doc},
	"resource": doc,
	"related": {},
	"context": {"now": "2026-01-01T00:00:00Z"},
}

test_owner_present_passes if {
	count(data.org.policies.owner.warn) == 0 with input as change({"kind": "Model", "metadata": {"name": "m", "owner": "ml-platform"}})
}

test_owner_missing_warns if {
	some result in data.org.policies.owner.warn with input as change({"kind": "Model", "metadata": {"name": "m"}})
	result.field == "metadata.owner"
}
"""

GITIGNORE = """\
# specops: parse cache and local serving state
.specops-cache/
.serve/
"""


@dataclass(slots=True)
class InitResult:
    root: Path
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"root": str(self.root), "written": self.written, "kept": self.kept}


def _schemas() -> dict[str, str]:
    from specops.spec import KINDS, json_schema

    files = {f"schemas/{kind.lower()}.json": json.dumps(json_schema(kind), indent=2) + "\n" for kind in KINDS}
    files["schemas/all.json"] = json.dumps(json_schema(), indent=2) + "\n"
    return files


def project_files(requirement: str) -> dict[str, bytes]:
    """Repository-relative path -> content of a new project."""
    files: dict[str, bytes] = {
        "specops.yaml": CONFIG.encode(),
        "waivers.yaml": WAIVERS.encode(),
        "policies/owner.rego": POLICY.encode(),
        "policies/owner_test.rego": POLICY_TEST.encode(),
        ".gitignore": GITIGNORE.encode(),
    }
    files.update(example_files())
    files.update({path: text.encode() for path, text in _schemas().items()})
    files.update({path: text.encode() for path, text in workflow_files(requirement).items()})
    return files


def init_project(directory: Path, requirement: str, *, force: bool = False) -> InitResult:
    """Write a new project's files under ``directory`` (created if missing)."""
    files = project_files(requirement)
    if directory.exists() and not directory.is_dir():
        raise SpecOpsError(f"{directory} exists and is not a directory")
    result = InitResult(directory)
    for relative, content in sorted(files.items()):
        path = directory / relative
        if path.exists() and not force:
            result.kept.append(relative)
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        except OSError as exc:
            raise SpecOpsError(f"cannot write {path}: {exc.strerror or exc}") from None
        result.written.append(relative)
    return result
