from typing import Any

IMPLEMENTATION: str

def parse(text: str, lines: list[int] | None) -> list[tuple[Any, int, int, int, dict[Any, tuple[int, int]], dict[Any, tuple[int, int]], dict[Any, str]]]: ...
