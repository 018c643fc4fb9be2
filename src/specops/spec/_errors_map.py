"""Turn pydantic's validation errors into located, human diagnostics with hints."""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from specops._errors import Diagnostic
from specops._yaml import Path, YamlDocument, format_path
from specops.spec._common import HintedValueError, redact_userinfo

__all__ = [
    "SECRET_WORDS",
    "diagnostics_from_validation",
    "error_paths",
    "known_fields",
    "suggest",
]

SECRET_WORDS = (
    "token",
    "credentials",
    "secrets",
    "password",
    "passwd",
    "secret",
    "apikey",
    "api_key",
    "credential",
    "privatekey",
)

# Human wording for the patterns of constrained strings (pydantic would print the regex).
_ENV_PATTERN = "^[A-Z_][A-Z0-9_]{0,127}$"
_PATTERNS: dict[str, tuple[str, str]] = {
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": (
        "is not a valid name",
        "names are DNS-1123 labels: lower-case letters, digits and '-', starting and ending "
        "with a letter or digit, 63 characters at most",
    ),
    "^[0-9a-f]{64}$": (
        "is not a SHA-256 digest",
        "write the 64 lower-case hex digits of `sha256sum FILE`",
    ),
    "^[A-Z_][A-Z0-9_]{0,127}$": (
        "is not an environment variable name",
        "secrets are never written in specs: name the environment variable that holds it, "
        "e.g. SPECOPS_TOKEN",
    ),
    "^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$": (
        "is not a valid version label",
        "use letters, digits, '.', '_', '+' or '-', e.g. 2026-10",
    ),
}


def suggest(word: str, candidates: typing.Iterable[str]) -> str:
    """A 'did you mean' hint, or '' when nothing is close."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered:
        return f"did you mean {lowered[word.lower()]!r}?"
    prefixed = [c for c in pool if len(word) >= 3 and c.lower().startswith(word.lower())]
    if len(prefixed) == 1:
        return f"did you mean {prefixed[0]!r}?"
    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def _unwrap(annotation: Any, step: str | int | None, data: Any) -> Any:
    """The annotation one step down (into a list item, dict value or union member)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0], step, data)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if models and isinstance(data, dict):
            tag = data.get("type")
            for model in models:
                field = model.model_fields.get("type")
                if field is not None and tag in typing.get_args(field.annotation):
                    return model
            return models[0]
        return _unwrap(members[0], step, data) if len(members) == 1 else members[0]
    return annotation


def known_fields(cls: type[BaseModel], path: Path, root: Any) -> list[str]:
    """YAML names of the fields allowed in the mapping at ``path`` (empty if not a model)."""
    annotation: Any = cls
    data = root
    for step in path:
        annotation = _unwrap(annotation, None, data)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            by_alias = {f.alias or n: f for n, f in annotation.model_fields.items()}
            if not isinstance(step, str) or step not in by_alias:
                return []
            annotation = by_alias[step].annotation
        else:
            origin = typing.get_origin(annotation)
            args = typing.get_args(annotation)
            if origin is list and args:
                annotation = args[0]
            elif origin is dict and len(args) == 2:
                annotation = args[1]
            else:
                return []
        data = data[step] if isinstance(data, dict | list) and _has(data, step) else None  # type: ignore[index]
    annotation = _unwrap(annotation, None, data)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or n for n, f in annotation.model_fields.items()]
    return []


def _has(data: Any, step: str | int) -> bool:
    if isinstance(data, dict):
        return step in data
    return isinstance(step, int) and 0 <= step < len(data)


def _resolve(loc: tuple[Any, ...], data: Any, names_field: bool) -> tuple[Path, Path]:
    """Split a pydantic ``loc`` into the path that exists in the data and the field path to show.

    ``loc`` mixes real keys with union member tags (``'range'``, ``'str'``); a
    step that is not in the data is a tag unless it is the last one (a missing
    field, which the shown path keeps).
    """
    real: list[str | int] = []
    shown: list[str | int] = []
    current = data
    for i, step in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(current, dict | list) and _has(current, step):
            real.append(step)
            shown.append(step)
            current = current[step]
        elif names_field and last and isinstance(current, dict) and isinstance(step, str):
            shown.append(step)
        # else: a union tag or validator name; skip it
    return tuple(real), tuple(shown)


def error_paths(exc: ValidationError, data: Any) -> list[tuple[Path, str]]:
    """``(path into data, error type)`` of each error: where in the document it lies."""
    return [
        (_resolve(tuple(e["loc"]), data, False)[0], e["type"])
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def _input_repr(value: Any) -> str:
    text = redact_userinfo(repr(value))  # a url's user:password@ is never echoed
    return text if len(text) <= 60 else text[:57] + "..."


# What an unquoted scalar must look like for YAML 1.2 to read it as each type: a
# string that does was quoted, and removing the quotes fixes it; one that does
# not (``gpus: two``) needs another value, not a hint about quotes.
_UNQUOTED = {
    "int": re.compile(r"^[-+]?(0|[1-9][0-9_]*|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    "float": re.compile(
        r"^([-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)"
        r"|\.(nan|NaN|NAN))$"
    ),
    "bool": re.compile(r"^(true|True|TRUE|false|False|FALSE)$"),
}
_EXPECTED = {"int": "an integer", "float": "a number", "bool": "true or false"}


def _type_hint(etype: str, value: str) -> tuple[str, str]:
    """Message and hint for a string where another scalar type belongs."""
    want = etype.split("_", 1)[0]
    message = f"expected {_EXPECTED[want]}, got the string {_input_repr(value)}"
    text = value.strip()
    if _UNQUOTED[want].match(text) or (want == "float" and _UNQUOTED["int"].match(text)):
        return message, "remove the quotes"
    return message, f"write {_EXPECTED[want]}"


def diagnostics_from_validation(
    exc: ValidationError, cls: type[BaseModel], doc: YamlDocument, path: str, resource: str
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    seen: set[tuple[Path, str]] = set()
    for error in exc.errors(include_url=False):
        etype = error["type"]
        real, shown = _resolve(tuple(error["loc"]), doc.data, etype == "missing")
        field = format_path(shown)
        value = error.get("input")
        hint = ""
        message = error["msg"]
        key_position = False
        if etype == "missing":
            message = "required field is missing"
            key_position = True  # point at the mapping's key line, where the field belongs
            name = shown[-1] if shown else ""
            hint = f"add `{name}:`" if name else ""
        elif etype == "extra_forbidden":
            key_position = True
            name = str(shown[-1]) if shown else ""
            message = f"unknown field {name!r}"
            allowed = known_fields(cls, shown[:-1], doc.data)
            hint = suggest(name, allowed)
            if any(word in name.lower().replace("-", "") for word in SECRET_WORDS):
                env_fields = [f for f in allowed if f.lower().endswith("env")]
                hint = (
                    "secrets are never written in specs; name the environment variable that "
                    "holds it" + (f" in {env_fields[0]!r}" if env_fields else "")
                )
            elif not hint and allowed:
                hint = "allowed here: " + ", ".join(sorted(allowed))
        elif (
            etype == "string_type"
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            written = doc.raw.get(real, repr(value))
            message = f"expected a string, got the number {written}"
            hint = f'quote it: "{written}"'
        elif etype == "string_pattern_mismatch":
            pattern = str((error.get("ctx") or {}).get("pattern", ""))
            what, hint = _PATTERNS.get(pattern, ("does not match the expected format", ""))
            # A value in an env-var field may be the secret itself: never echo it.
            shown_value = "value" if pattern == _ENV_PATTERN else _input_repr(value)
            message = f"{shown_value} {what}"
        elif etype in ("int_type", "float_type", "bool_type", "int_parsing", "float_parsing"):
            if isinstance(value, str):
                message, hint = _type_hint(etype, value)
        elif etype == "literal_error":
            expected = str((error.get("ctx") or {}).get("expected", ""))
            options = [o.strip().strip("'") for o in expected.replace(" or ", ",").split(",")]
            message = f"{_input_repr(value)} is not one of {expected}"
            if isinstance(value, str):
                hint = suggest(value, [o for o in options if o])
        elif etype == "union_tag_invalid":
            ctx = error.get("ctx") or {}
            tag = str(ctx.get("tag", ""))
            expected = str(ctx.get("expected_tags", ""))
            message = f"unknown type {tag!r} (expected one of {expected})"
            hint = suggest(tag, [t.strip().strip("'") for t in expected.split(",")])
        elif etype == "union_tag_not_found":
            message = "missing `type` that says which kind of entry this is"
        elif etype in ("value_error", "assertion_error"):
            message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
            cause = (error.get("ctx") or {}).get("error")
            if isinstance(cause, HintedValueError):
                hint = cause.hint
        key = (shown, message)
        if key in seen:
            continue
        seen.add(key)
        line, column = doc.position(real, key=key_position)
        out.append(
            Diagnostic(
                path, line, column, message, field=field, hint=hint, code=etype, resource=resource
            )
        )
    return out
