"""The committed schemas/ (used by editors through modelines) match the code."""

from __future__ import annotations

import json
from pathlib import Path

from specops.spec import KINDS, json_schema

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def test_committed_schemas_are_current() -> None:
    for kind in KINDS:
        committed = json.loads((SCHEMAS / f"{kind.lower()}.json").read_text())
        assert committed == json_schema(kind), f"run `specops schema --out schemas` ({kind})"
    assert json.loads((SCHEMAS / "all.json").read_text()) == json_schema()


def test_example_modelines_point_at_existing_schemas() -> None:
    specs = SCHEMAS.parent / "specs"
    for path in specs.rglob("*.yaml"):
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("=", 1)[1]).resolve()
        assert target.is_file(), f"{path}: {target}"
