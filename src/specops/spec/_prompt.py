"""``Prompt``: a versioned template with declared variables, bound to a model."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from specops.spec._common import Name, Ref, Resource, SemVer, SpecModel, unique

__all__ = ["PLACEHOLDER", "Prompt", "PromptSpec", "template_variables"]

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
"""The only template syntax: ``{{ name }}``. No expressions, filters or code."""

_ANY_BRACES = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def template_variables(template: str) -> list[str]:
    """Variables a template uses, in order of first use."""
    seen: dict[str, None] = {}
    for match in PLACEHOLDER.finditer(template):
        seen.setdefault(match.group(1), None)
    return list(seen)


class Variable(SpecModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    description: str | None = None
    required: bool = True
    max_length: Annotated[int, Field(ge=1)] | None = None
    default: str | None = None


def _variable_name(variable: Variable) -> str:
    return variable.name


class Parameters(SpecModel):
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    stop: list[str] = Field(default_factory=list)


class Evaluation(SpecModel):
    """The gate a prompt version passes before production: a suite, a metric, a minimum."""

    suite: str
    metric: str
    min_score: float
    score: float | None = Field(default=None, description="Last measured score of this version.")

    @property
    def passed(self) -> bool:
        return self.score is not None and self.score >= self.min_score


class PromptSpec(SpecModel):
    version: SemVer
    model: Name = Field(description="The model this prompt is rendered for.")
    template: Annotated[str, Field(min_length=1, max_length=100_000)]
    format: Literal["text", "chat"] = "text"
    variables: Annotated[list[Variable], unique("variable names", _variable_name)] = Field(
        default_factory=list
    )
    parameters: Parameters = Field(default_factory=Parameters)
    evaluation: Evaluation | None = None

    @model_validator(mode="after")
    def _template_syntax(self) -> PromptSpec:
        for match in _ANY_BRACES.finditer(self.template):
            if not PLACEHOLDER.fullmatch(match.group(0)):
                raise ValueError(
                    f"unsupported template syntax {match.group(0)!r}: only {{{{ variable }}}} "
                    "placeholders are allowed"
                )
        return self


class Prompt(Resource):
    """A versioned prompt template bound to a model."""

    KIND: ClassVar[str] = "Prompt"
    kind: Literal["Prompt"]
    spec: PromptSpec

    def references(self) -> list[Ref]:
        return [Ref(path=("spec", "model"), kind="Model", name=self.spec.model)]
