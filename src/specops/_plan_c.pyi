from typing import Any

IMPLEMENTATION: str
NOOP: int
CREATE: int
SPEC_CHANGED: int
DRIFTED: int
DELETE: int

def classify(
    desired: dict[str, str],
    live: dict[str, str],
    recorded: dict[str, str],
    base: dict[str, str] | None,
) -> tuple[bytes, list[str]]: ...
def field_diff(before: Any, after: Any) -> list[tuple[tuple[str | int, ...], Any, Any]]: ...
def levels(
    ids: list[str], deps: dict[str, list[str]], changed: set[str] | frozenset[str]
) -> tuple[list[int], list[int]]: ...
