"""Prompt rendering: ``{{ name }}`` placeholders filled with declared variables, nothing else.

No template engine runs here: the only syntax is a placeholder, replaced by
the variable's text once (a value that itself contains ``{{ x }}`` stays
literal). Unknown variables, missing required ones and values longer than
their ``maxLength`` are refused.
"""

from __future__ import annotations

from typing import Any

from specops.serve._errors import HTTPError
from specops.spec import Prompt
from specops.spec._prompt import PLACEHOLDER

__all__ = ["render"]


def render(prompt: Prompt, variables: Any) -> dict[str, Any]:
    """The rendered text with the prompt's identity, model binding and parameters."""
    if not isinstance(variables, dict):
        raise HTTPError(400, "'variables' must be an object of name -> text")
    declared = {v.name: v for v in prompt.spec.variables}
    unknown = sorted(set(variables) - set(declared))
    if unknown:
        raise HTTPError(
            422,
            f"Prompt/{prompt.name} {prompt.spec.version} declares no variable {unknown[0]!r} "
            f"(declared: {', '.join(declared) or 'none'})",
        )
    values: dict[str, str] = {}
    for name, variable in declared.items():
        value = variables.get(name)
        if value is None:
            if variable.default is not None:
                value = variable.default
            elif variable.required:
                raise HTTPError(422, f"variable {name!r} is required by Prompt/{prompt.name}")
            else:
                value = ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise HTTPError(422, f"variable {name!r} must be text or a number")
        text = str(value)
        if variable.max_length is not None and len(text) > variable.max_length:
            raise HTTPError(
                422, f"variable {name!r} is {len(text)} characters long (maxLength {variable.max_length})"
            )
        values[name] = text
    rendered = PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), prompt.spec.template)
    return {
        "prompt": prompt.name,
        "version": prompt.spec.version,
        "model": prompt.spec.model,
        "format": prompt.spec.format,
        "text": rendered,
        "parameters": prompt.spec.parameters.model_dump(mode="json", by_alias=True, exclude_defaults=True),
    }
