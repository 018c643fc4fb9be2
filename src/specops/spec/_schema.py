"""JSON Schema of every kind, for editors (yaml-language-server) and other tools."""

from __future__ import annotations

from typing import Any

from specops.spec._kinds import KINDS

__all__ = ["MODELINE", "json_schema"]

MODELINE = "# yaml-language-server: $schema={url}"


def json_schema(kind: str | None = None) -> dict[str, Any]:
    """Schema of one kind, or of any kind (``oneOf`` over all, chosen by ``kind``)."""
    if kind is not None:
        cls = KINDS[kind]
        schema = cls.model_json_schema(by_alias=True, mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://specops.dev/schemas/v1/{kind.lower()}.json"
        return schema
    defs: dict[str, Any] = {}
    variants = []
    for name, cls in KINDS.items():
        sub = cls.model_json_schema(
            by_alias=True, mode="validation", ref_template="#/$defs/{model}"
        )
        defs.update(sub.pop("$defs", {}))
        defs[name] = sub
        variants.append({"$ref": f"#/$defs/{name}"})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://specops.dev/schemas/v1/all.json",
        "title": "SpecOps spec (any kind)",
        "oneOf": variants,
        "$defs": defs,
    }
