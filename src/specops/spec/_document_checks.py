"""Checks that need one document only: secrets and prompt templates.

They run when a document is parsed, so their diagnostics travel with the
parsed blob in the planner's cache: a warm plan never walks the strings of
10,000 unchanged specs again.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
from typing import Any

from specops._errors import Diagnostic, Severity
from specops._yaml import YamlDocument, format_path
from specops.spec._common import Resource
from specops.spec._errors_map import SECRET_WORDS, suggest
from specops.spec._prompt import Prompt, template_variables

__all__ = ["check_document"]

# Shapes of credentials that must never be committed (a short list of the
# unmistakable ones; the rule is "specs name an environment variable").
_SECRET_SHAPES = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), "a GitHub token"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b"), "an API secret key"),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"), "a Slack token"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\."), "a JSON Web Token"),
]
# One pass over each string instead of six: a cheap prefilter of the shapes'
# fixed parts; only a string that has one is tried against every shape.
_ANY_SHAPE = re.compile(r"PRIVATE KEY|AKIA|gh[pousr]_|sk-|xox[abprs]-|eyJ")


class _Located:
    def __init__(self, resource: Resource, doc: YamlDocument, path: str) -> None:
        self.resource, self.doc, self.path = resource, doc, path

    def diag(
        self,
        field_path: tuple[str | int, ...],
        message: str,
        hint: str = "",
        code: str = "invalid",
        severity: Severity = "error",
    ) -> Diagnostic:
        line, column = self.doc.position(field_path)
        return Diagnostic(
            self.path, line, column, message, field=format_path(field_path), hint=hint,
            code=code, severity=severity, resource=self.resource.id,
        )


def check_document(resource: Resource, doc: YamlDocument, path: str) -> list[Diagnostic]:
    """Problems of one valid document that need nothing but the document."""
    at = _Located(resource, doc, path)
    problems = list(_check_secrets(at))
    if isinstance(resource, Prompt):
        problems.extend(_check_prompt(at, resource))
    return problems


def _walk_strings(
    value: Any, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk_strings(item, (*path, i))


def _strings(value: Any, out: list[str]) -> list[str]:
    """Every string of a document, keys excluded (what ``_walk_strings`` yields, without paths)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out


def _check_secrets(at: _Located) -> Iterator[Diagnostic]:
    data = at.doc.data
    # Nearly every document has no secret-shaped string: one search over all of them (joined by
    # NUL, which no shape's fixed part contains, so a match never spans two strings) decides
    # whether the located walk is needed at all.
    suspect = _ANY_SHAPE.search("\0".join(_strings(data, [])))
    for path, text in _walk_strings(data, ()) if suspect else ():
        if not _ANY_SHAPE.search(text):
            continue
        for pattern, what in _SECRET_SHAPES:
            if pattern.search(text):
                yield at.diag(
                    path,
                    f"value looks like {what}",
                    hint="never commit secrets: put it in an environment variable and name the "
                    "variable in the spec; then rotate the leaked credential",
                    code="secret",
                )
                break
    metadata = data.get("metadata", {})
    for section in ("labels", "annotations"):
        for key in metadata.get(section) or {}:
            if names_a_credential(key):
                yield at.diag(
                    ("metadata", section, key),
                    f"{section[:-1]} {key!r} looks like it carries a credential",
                    hint="secrets are never written in specs; name an environment variable instead",
                    code="secret",
                )


@functools.lru_cache(maxsize=4096)
def names_a_credential(key: str) -> bool:
    """Whole words only: ``deploy-token`` names a credential, ``tokenizer`` does not.

    Memoised: a plan masks every key of every spec through it, and an estate
    repeats the same few hundred keys (measured: 164,000 calls, 1.9 s of a
    profiled 10,000-spec cold plan).
    """
    words = [
        w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()) if w
    ]
    joined = {a + b for a, b in itertools.pairwise(words)}
    return any(w in SECRET_WORDS for w in [*words, *joined])


def _check_prompt(at: _Located, prompt: Prompt) -> Iterator[Diagnostic]:
    declared = {v.name for v in prompt.spec.variables}
    used = template_variables(prompt.spec.template)
    for name in used:
        if name not in declared:
            yield at.diag(
                ("spec", "template"),
                f"template uses undeclared variable {name!r}",
                hint=suggest(name, declared) or f"declare it under spec.variables: - name: {name}",
                code="undeclared_variable",
            )
    for i, variable in enumerate(prompt.spec.variables):
        if variable.name not in used:
            yield at.diag(
                ("spec", "variables", i, "name"),
                f"variable {variable.name!r} is declared but the template never uses it",
                code="unused_variable",
                severity="warning",
            )
