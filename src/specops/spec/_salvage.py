"""What can still be said about a document that failed validation, so one run says it all.

pydantic reports every field error of a document at once, but a model's own
validators (``targets must be unique``, ``min is greater than max``) run only
when all of that model's fields are valid, and a document that fails has no
references to check. Fixing errors would then reveal new ones in rounds.

Here the parts that did validate are rebuilt from the raw data, bottom-up:
a model whose fields all validated is validated whole; a model with a broken
field is built without that field (``model_construct``, the attribute left
unset) and its validators are called on it. A validator that reads only valid
fields gives a true answer; one that touches a missing attribute raises
``AttributeError`` and says nothing. The same partial resource gives the
references its valid fields make.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from specops._yaml import Path
from specops.spec._common import HintedValueError, Ref, Resource

__all__ = ["Finding", "salvage"]


@dataclass(frozen=True, slots=True)
class Finding:
    """A validator's verdict on a part of a broken document."""

    path: Path
    message: str
    hint: str = ""


class _Broken:
    """Marks a field whose value cannot be built."""


_BROKEN = _Broken()
_STRICT = ConfigDict(strict=True)


def salvage(
    cls: type[Resource], data: Any, errors: Iterable[tuple[Path, str]]
) -> tuple[list[Finding], list[Ref]]:
    """Validator findings of the valid parts of ``data`` and the references they make.

    ``errors`` are the ``(path into data, pydantic error type)`` already reported.
    A missing field is left unset like a broken one; any other error at a
    mapping (its own validator failed) means that model has had its say.
    """
    errors = list(errors)
    bad = frozenset(tuple(p) for p, _ in errors)
    final = frozenset(tuple(p) for p, kind in errors if kind != "missing")
    state = _State(bad, final, neutral=False)
    state.model(cls, data, ())
    # References come from a second build in which a broken list is empty and a
    # broken optional value is None: each valid field still gives its references.
    resource = _State(bad, final, neutral=True).model(cls, data, ())
    refs: list[Ref] = []
    if isinstance(resource, Resource):
        try:
            refs = resource.references()
        except Exception:  # it touched a broken part: no reference can be trusted
            refs = []
        # A reference inside a broken value was never validated as a name.
        refs = [r for r in refs if not state.under_error(r.path)]
    return state.findings, refs


class _State:
    def __init__(self, bad: frozenset[Path], final: frozenset[Path], *, neutral: bool) -> None:
        self.bad = bad
        self.final = final
        self.neutral = neutral
        self.findings: list[Finding] = []

    def under_error(self, path: Path) -> bool:
        """Whether an error lies at ``path`` or below it."""
        size = len(path)
        return any(p[:size] == path for p in self.bad)

    def model(self, cls: type[BaseModel], data: Any, path: Path) -> BaseModel | _Broken:
        if not isinstance(data, dict):
            return _BROKEN
        if not self.under_error(path):
            try:
                return cls.model_validate(data)
            except ValidationError:  # pragma: no cover - it validated inside its parent
                return _BROKEN
        if path in self.final and not self.neutral:
            return _BROKEN  # the mapping itself failed (its type, its own validator)
        values: dict[str, Any] = {}
        broken: list[str] = []
        for name, field in cls.model_fields.items():
            key = field.alias or name
            if key not in data:
                continue
            value = self.value(cls, name, data[key], (*path, key))
            if isinstance(value, _Broken):
                broken.append(name)
            else:
                values[name] = value
        if self.neutral:
            for name in broken:
                empty = _empty(cls.model_fields[name].annotation)
                if not isinstance(empty, _Broken):
                    values[name] = empty
            return cls.model_construct(**values)
        instance = cls.model_construct(**values)
        for name in broken:  # unset, so a validator reading it raises AttributeError
            instance.__dict__.pop(name, None)
        for decorator in cls.__pydantic_decorators__.model_validators.values():
            if decorator.info.mode != "after":
                continue
            try:
                decorator.func(instance)
            except (ValueError, AssertionError) as exc:
                hint = exc.hint if isinstance(exc, HintedValueError) else ""
                self.findings.append(Finding(path, str(exc), hint))
            except Exception:  # it read a broken field: no verdict
                pass
        return instance

    def value(self, owner: type[BaseModel], name: str, raw: Any, path: Path) -> Any:
        if not self.under_error(path):
            try:
                return _adapter(owner, name).validate_python(raw)
            except ValidationError:  # pragma: no cover - it validated inside its model
                return _BROKEN
        annotation = owner.model_fields[name].annotation
        item = _item_model_of(annotation)
        if item is not None and isinstance(raw, list):
            return self.items(item, raw, path)
        model = _model_of(annotation)
        if model is None or raw is None:
            return _BROKEN  # a broken mapping, scalar or union is left out whole
        return self.model(model, raw, path)

    def items(self, model: type[BaseModel], raw: list[Any], path: Path) -> list[Any] | _Broken:
        """A list of models: each item salvaged on its own, so its validators have their say."""
        out = [self.model(model, item, (*path, i)) for i, item in enumerate(raw)]
        if any(isinstance(b, _Broken) for b in out):
            return _BROKEN
        if not self.neutral and (
            path in self.final or any(self.under_error((*path, i)) for i in range(len(raw)))
        ):
            return _BROKEN  # partial items, or the list itself failed: not a value to judge by
        return out


@functools.cache
def _adapter(owner: type[BaseModel], name: str) -> TypeAdapter[Any]:
    """Validates one field's value as the model would (its type, constraints, strictness)."""
    field = owner.model_fields[name]
    annotation: Any = field.annotation
    if field.metadata:
        annotation = Annotated[(annotation, *field.metadata)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return TypeAdapter(annotation)
    return TypeAdapter(annotation, config=_STRICT)


def _empty(annotation: Any) -> Any:
    """The value of a broken field that adds nothing: [], {} or None where the type allows."""
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin is list:
        return []
    if origin is dict:
        return {}
    if origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(annotation):
        return None
    return _BROKEN


def _item_model_of(annotation: Any) -> type[BaseModel] | None:
    """The item model class of a field typed ``list[Model]``."""
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return _model_of(item)
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model class of a field typed ``Model`` or ``Model | None``."""
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = members[0] if len(members) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None
