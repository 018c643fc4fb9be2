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
) -> tuple[list[str], list[int]]: ...
def field_diff(before: Any, after: Any) -> list[tuple[tuple[str | int, ...], Any, Any]]: ...
def levels(
    n: int, indptr: list[int], indices: list[int], changed: list[int]
) -> tuple[list[int], list[int]]: ...
