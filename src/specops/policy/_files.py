"""Project files the policy layer reads (config, waivers, PR context), checked like specs.

Each is YAML (JSON is YAML too), validated by a pydantic model with unknown
fields rejected; a problem becomes a ``Diagnostic`` naming the file, line,
field and a fix, the same way spec errors do.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from specops._errors import Diagnostic, SpecError
from specops._yaml import MAX_FILE_BYTES, YamlDocument, load_documents
from specops.spec._errors_map import diagnostics_from_validation

__all__ = ["load_model"]

M = TypeVar("M", bound=BaseModel)


def load_model(path: Path, display: str, cls: type[M], what: str) -> tuple[M, YamlDocument]:
    """Parse ``path`` as one YAML document and validate it as ``cls``; raises ``SpecError``."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError.of([Diagnostic(display, 0, 0, f"{what} is larger than {MAX_FILE_BYTES} bytes",
                                           code="too_large")])
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError.of(
            [Diagnostic(display, 0, 0, f"{what} not found", code="not_found",
                        hint="check the path (relative paths start at the repository root)")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError.of([Diagnostic(display, 0, 0, f"cannot read {what}: {exc}", code="io")]) from None
    documents = load_documents(text, display)
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        line = documents[1].line if len(documents) > 1 else 1
        raise SpecError.of(
            [Diagnostic(display, line, 1, f"{what} must be exactly one mapping", code="not_a_mapping",
                        hint="see the example in the SpecOps repository root")]
        )
    doc = documents[0]
    try:
        return cls.model_validate(doc.data), doc
    except ValidationError as exc:
        raise SpecError.of(diagnostics_from_validation(exc, cls, doc, display, "")) from None
