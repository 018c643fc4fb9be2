from array import array
from collections.abc import Iterable
from typing import Any

IMPLEMENTATION: str
NOOP: int
CREATE: int
SPEC_CHANGED: int
DRIFTED: int
DELETE: int
ABSENT: int
RECORD: int

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
def intern_ids(index: dict[str, int], names: list[str], ids: Iterable[str]) -> int: ...
def pack_hashes(index: dict[str, int], names: list[str], size: int, hashes: dict[str, str]) -> bytes: ...
def mask(index: dict[str, int], names: list[str], size: int, ids: Iterable[str]) -> bytes: ...
def pack_deps(
    index: dict[str, int], names: list[str], size: int, deps: dict[str, list[str]]
) -> tuple[array[int], array[int]]: ...
def classify_packed(size: int, desired: bytes, live: bytes, recorded: bytes, base: bytes | None) -> bytes: ...
def levels_packed(
    size: int, indptr: array[int], indices: array[int], changed: bytes
) -> tuple[list[int], list[int]]: ...
