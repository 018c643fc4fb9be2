"""``Guardrail``: checks the serving target runs on a model's inputs and outputs."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from specops.spec._common import ArtifactRef, Name, Ref, Resource, SpecModel

__all__ = ["Guardrail", "GuardrailSpec"]

Action = Literal["block", "redact", "flag"]
Stage = Literal["input", "output"]


PiiKind = Literal["email", "phone", "creditCard", "iban", "ipAddress"]


def _default_pii() -> list[PiiKind]:
    return ["email", "phone", "creditCard"]


class _Check(SpecModel):
    stage: Stage = "input"
    tensor: str | None = Field(default=None, description="Tensor to check; default: every tensor.")
    action: Action | None = Field(default=None, description="Overrides the guardrail's action.")

    TEXT: ClassVar[bool] = False

    @model_validator(mode="after")
    def _redact_needs_text(self) -> _Check:
        if self.action == "redact" and not self.TEXT:
            raise ValueError("redact applies to text checks (regex, denyList, pii) only")
        return self


class RangeCheck(_Check):
    """Numeric bounds on one feature (by name, from the signature's features) or a whole tensor."""

    type: Literal["range"]
    feature: str | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> RangeCheck:
        if self.min is None and self.max is None:
            raise ValueError("a range check needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class SchemaCheck(_Check):
    """Enforce a dataset's data contract (dtypes, ranges, allowed values) on input features."""

    type: Literal["schema"]
    dataset: Name
    allow_nan: bool = False


class RegexCheck(_Check):
    TEXT: ClassVar[bool] = True
    type: Literal["regex"]
    patterns: Annotated[list[str], Field(min_length=1)]
    ignore_case: bool = False

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} does not compile: {exc}") from None
        return patterns


class DenyListCheck(_Check):
    TEXT: ClassVar[bool] = True
    type: Literal["denyList"]
    values: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    case_sensitive: bool = False


class PiiCheck(_Check):
    """Personal data in text: e-mail, phone numbers, card numbers (Luhn-checked), IBANs."""

    TEXT: ClassVar[bool] = True
    type: Literal["pii"]
    detect: Annotated[list[PiiKind], Field(min_length=1)] = Field(default_factory=_default_pii)


class SizeCheck(_Check):
    type: Literal["size"]
    max_bytes: Annotated[int, Field(ge=1)] | None = None
    max_elements: Annotated[int, Field(ge=1)] | None = None
    max_length: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Longest string element, in characters."
    )

    @model_validator(mode="after")
    def _some_limit(self) -> SizeCheck:
        if self.max_bytes is None and self.max_elements is None and self.max_length is None:
            raise ValueError("a size check needs maxBytes, maxElements or maxLength")
        return self


class ClassifierCheck(_Check):
    """An ONNX classifier scores the tensor; a score at or above the threshold is a hit."""

    type: Literal["classifier"]
    artifact: ArtifactRef
    threshold: Annotated[float, Field(ge=0, le=1)]
    output: str | None = Field(default=None, description="Output tensor holding the score.")
    label_index: Annotated[int, Field(ge=0)] = 1


Check = Annotated[
    RangeCheck | SchemaCheck | RegexCheck | DenyListCheck | PiiCheck | SizeCheck | ClassifierCheck,
    Field(discriminator="type"),
]


class GuardrailSpec(SpecModel):
    action: Action = "block"
    checks: Annotated[list[Check], Field(min_length=1)]


class Guardrail(Resource):
    """Input and output checks enforced by the serving target."""

    KIND: ClassVar[str] = "Guardrail"
    kind: Literal["Guardrail"]
    spec: GuardrailSpec

    def references(self) -> list[Ref]:
        return [
            Ref(path=("spec", "checks", i, "dataset"), kind="Dataset", name=check.dataset)
            for i, check in enumerate(self.spec.checks)
            if isinstance(check, SchemaCheck)
        ]
