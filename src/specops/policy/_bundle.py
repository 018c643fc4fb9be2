"""A policy bundle: the Rego files of the policy directories, their annotations, and one hash.

A *policy package* is a package that defines ``deny``, ``warn`` or
``approval``; its ``# METADATA`` block (the package's, or the one above its
first outcome rule) names the rule: ``custom.id``, ``title``,
``description`` and ``custom.severity``. Files ending in ``_test.rego`` hold
unit tests and are only loaded by ``specops policy test``.

Builtins that make a decision depend on more than its input are refused at
load: ``http.send`` (regorus returns undefined for it, so a rule using it
silently stops firing), ``time.now_ns`` (use ``input.context.now``), random
numbers and uuids. Decisions are cached and audited by input hash, which
only works if the input is everything a decision depends on.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from specops._errors import Diagnostic, SpecError
from specops._yaml import load_documents
from specops.policy._library import builtin_display
from specops.policy._model import PolicyRule

__all__ = [
    "OUTCOME_RULES",
    "Bundle",
    "PolicyFile",
    "PolicyLoadError",
    "load_bundle",
]

OUTCOME_RULES = ("deny", "warn", "approval")
SEVERITIES = ("critical", "high", "medium", "low", "info")

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_OUTCOME_HEAD = re.compile(r"^(deny|warn|approval)\b(?=\s*(contains|if|\{|\[|:=|=))")
_RULE_HEAD = re.compile(r"^([A-Za-z_]\w*)")
_FORBIDDEN = {
    "http.send": "policies must decide from their input alone; put what you need in data or the context",
    "time.now_ns": "use input.context.now (the plan's evaluation time) so decisions can be cached and replayed",
    "rand.intn": "a decision must be reproducible",
    "uuid.rfc4122": "a decision must be reproducible",
    "net.lookup_ip_addr": "policies must decide from their input alone",
    "opa.runtime": "a decision must not depend on the engine that evaluated it",
}
_FORBIDDEN_RE = re.compile(r"\b(" + "|".join(re.escape(n) for n in _FORBIDDEN) + r")\s*\(")


class PolicyLoadError(SpecError):
    """A policy file cannot be used: each diagnostic names file, line and column."""

    @classmethod
    def located(cls, diagnostics: list[Diagnostic]) -> PolicyLoadError:
        return cls(sorted(diagnostics, key=Diagnostic.sort_key))


@dataclass(slots=True)
class PolicyFile:
    path: str
    """As shown to people: relative to the repository root when inside it."""
    source: str
    package: str
    is_test: bool
    outcome_rules: list[str] = field(default_factory=list)
    tests: list[tuple[str, int]] = field(default_factory=list)


@dataclass(slots=True)
class Bundle:
    files: list[PolicyFile]
    data: dict[str, Any]
    rules: dict[str, PolicyRule]
    """Policy package -> the rule it implements."""
    outcome_rules: dict[str, list[str]]
    """Policy package -> which of deny/warn/approval it defines."""
    hash: str

    @property
    def policy_files(self) -> list[PolicyFile]:
        return [f for f in self.files if not f.is_test]

    @property
    def test_files(self) -> list[PolicyFile]:
        return [f for f in self.files if f.is_test]


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    # Outside the repository: the shipped library shows by name, not by where pip put it.
    return builtin_display(path) or path.as_posix()


def discover_rego(paths: list[Path]) -> tuple[list[Path], list[Diagnostic]]:
    found: list[Path] = []
    problems: list[Diagnostic] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.rego") if not any(
                part.startswith(".") for part in p.relative_to(path).parts
            )))
        elif path.is_file():
            found.append(path)
        else:
            problems.append(
                Diagnostic(
                    str(path), 0, 0, "policy directory does not exist", code="not_found",
                    hint="create it, or fix `policy.paths` in specops.yaml / --policies "
                    "(builtin:specops names the library SpecOps ships)",
                )
            )
    return found, problems


def _strip_comment(line: str) -> str:
    # Good enough for Rego: '#' inside a string literal is rare in policies and only
    # hides a forbidden-builtin check on that line, never a rule.
    out, quoted = [], False
    for char in line:
        if char == '"':
            quoted = not quoted
        if char == "#" and not quoted:
            break
        out.append(char)
    return "".join(out)


@dataclass(slots=True)
class _Meta:
    data: dict[str, Any]
    line: int
    target_line: int
    target: str


def _metadata_blocks(path: str, source: str) -> tuple[list[_Meta], list[Diagnostic]]:
    """``# METADATA`` comment blocks (YAML) and the line they annotate."""
    lines = source.splitlines()
    blocks: list[_Meta] = []
    problems: list[Diagnostic] = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != "# METADATA":
            index += 1
            continue
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines) and lines[index].lstrip().startswith("#"):
            text = lines[index].lstrip()[1:]
            body.append(text[1:] if text.startswith(" ") else text)
            index += 1
        target = lines[index].strip() if index < len(lines) else ""
        try:
            docs = load_documents("\n".join(body) + "\n", path)
        except SpecError as exc:
            for d in exc.diagnostics:
                problems.append(
                    Diagnostic(
                        path, start + 1 + d.line, d.column + 2, f"METADATA is not valid YAML: {d.message}",
                        hint="the block after `# METADATA` is YAML in comments", code="policy_metadata",
                    )
                )
            continue
        data = docs[0].data if docs else {}
        if not isinstance(data, dict):
            problems.append(
                Diagnostic(path, start + 1, 1, "METADATA must be a mapping", code="policy_metadata",
                           hint="write `title:`, `description:` and `custom: {id: ..., severity: ...}`")
            )
            continue
        blocks.append(_Meta(data, start + 1, index + 1, target))
    return blocks, problems


def _rule_from(meta: _Meta, package: str, path: str) -> tuple[PolicyRule | None, list[Diagnostic]]:
    custom = meta.data.get("custom") if isinstance(meta.data.get("custom"), dict) else {}
    rule_id = custom.get("id") if isinstance(custom, dict) else None
    title = meta.data.get("title")
    problems: list[Diagnostic] = []
    if not isinstance(rule_id, str) or not rule_id:
        problems.append(
            Diagnostic(path, meta.line, 1, f"policy package {package} has no rule id",
                       field="custom.id", hint="add `custom: {id: SO-EXAMPLE-001}` to its METADATA",
                       code="policy_metadata")
        )
    if not isinstance(title, str) or not title:
        problems.append(
            Diagnostic(path, meta.line, 1, f"policy package {package} has no title", field="title",
                       hint="add `title: <one line>` to its METADATA", code="policy_metadata")
        )
    severity = custom.get("severity", "medium") if isinstance(custom, dict) else "medium"
    if severity not in SEVERITIES:
        problems.append(
            Diagnostic(path, meta.line, 1, f"unknown severity {severity!r}", field="custom.severity",
                       hint=f"one of {', '.join(SEVERITIES)}", code="policy_metadata")
        )
    if problems:
        return None, problems
    description = meta.data.get("description")
    return (
        PolicyRule(
            str(rule_id), str(title), str(severity),
            " ".join(str(description).split()) if description else str(title),
            package, path, meta.target_line,
        ),
        [],
    )


def parse_policy_file(path: str, source: str) -> tuple[PolicyFile | None, PolicyRule | None, list[Diagnostic]]:
    problems: list[Diagnostic] = []
    package_match = _PACKAGE.search(source)
    if package_match is None:
        return None, None, [
            Diagnostic(path, 1, 1, "no package declaration", hint="start the file with `package <name>`",
                       code="policy_syntax")
        ]
    package = package_match.group(1)
    is_test = path.endswith("_test.rego")
    policy = PolicyFile(path, source, package, is_test)
    for number, raw in enumerate(source.splitlines(), start=1):
        line = _strip_comment(raw)
        head = _OUTCOME_HEAD.match(line)
        if head and head.group(1) not in policy.outcome_rules:
            policy.outcome_rules.append(head.group(1))
        head_name = _RULE_HEAD.match(line)
        if head_name and head_name.group(1).startswith("test_"):
            policy.tests.append((head_name.group(1), number))
        for call in _FORBIDDEN_RE.finditer(line):
            name = call.group(1)
            problems.append(
                Diagnostic(path, number, call.start() + 1, f"builtin {name} is not allowed in policies",
                           hint=_FORBIDDEN[name], code="policy_builtin")
            )
    rule: PolicyRule | None = None
    if policy.outcome_rules and not is_test:
        blocks, meta_problems = _metadata_blocks(path, source)
        problems.extend(meta_problems)
        package_line = source.count("\n", 0, package_match.start()) + 1
        chosen = next((b for b in blocks if b.target_line == package_line), None)
        if chosen is None:
            chosen = next((b for b in blocks if _OUTCOME_HEAD.match(b.target)), None)
        if chosen is None:
            if not meta_problems:
                problems.append(
                    Diagnostic(path, package_line, 1, f"policy package {package} has no METADATA",
                               hint="put a `# METADATA` block with title, description and "
                               "custom.id/severity above the package line", code="policy_metadata")
                )
        else:
            rule, rule_problems = _rule_from(chosen, package, path)
            problems.extend(rule_problems)
    return policy, rule, problems


def bundle_hash(files: list[PolicyFile], data: dict[str, Any]) -> str:
    digest = hashlib.sha256(b"specops-policy-bundle/1\n")
    for file in sorted(files, key=lambda f: f.path):
        if file.is_test:
            continue
        digest.update(f"{file.path}\0{len(file.source.encode())}\0".encode())
        digest.update(file.source.encode())
    digest.update(b"\0data\0")
    digest.update(orjson.dumps(data, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


def load_bundle(
    paths: list[Path], *, data: dict[str, Any] | None = None, root: Path | None = None,
    include_tests: bool = False,
) -> Bundle:
    """Read and check every ``.rego`` file under ``paths``; raises ``PolicyLoadError``."""
    found, problems = discover_rego(paths)
    files: list[PolicyFile] = []
    rules: dict[str, PolicyRule] = {}
    outcomes: dict[str, list[str]] = {}
    ids: dict[str, PolicyRule] = {}
    for file in found:
        display = _display(file, root)
        if file.name.endswith("_test.rego") and not include_tests:
            continue
        try:
            source = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Diagnostic(display, 0, 0, f"cannot read policy: {exc}", code="io"))
            continue
        policy, rule, file_problems = parse_policy_file(display, source)
        problems.extend(file_problems)
        if policy is None:
            continue
        files.append(policy)
        if policy.outcome_rules and not policy.is_test:
            outcomes[policy.package] = sorted(set(outcomes.get(policy.package, [])) | set(policy.outcome_rules))
        if rule is not None:
            first = ids.get(rule.id)
            if first is not None and first.package != rule.package:
                problems.append(
                    Diagnostic(display, rule.line, 1, f"rule id {rule.id} is already used by {first.package} "
                               f"({first.path}:{first.line})", field="custom.id",
                               hint="rule ids are unique; waivers and overrides name them", code="policy_metadata")
                )
            ids[rule.id] = rule
            rules.setdefault(rule.package, rule)
    if problems:
        raise PolicyLoadError.located(problems)
    data = data or {}
    return Bundle(files, data, rules, outcomes, bundle_hash(files, data))
