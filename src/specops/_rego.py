"""The embedded Rego engine (regorus), behind one small adapter.

regorus raises ``RuntimeError`` with a rendered source excerpt
(``--> file:line:col`` then ``error: message``) followed by a Rust stack
trace. Here those become ``RegoError`` carrying the file, line, column and
the one-line message, so callers never parse engine text themselves.

Two regorus behaviours shape this module: an unknown function is only
reported when evaluation reaches the call (so ``check_builtins`` compiles
the modules, which resolves every call up front), and ``eval_rule``
returns Python sets that cannot hold objects (so results travel as JSON).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import orjson

__all__ = ["RegoEngine", "RegoError", "engine_info"]

_PROBE = """package specops.probe
import rego.v1
ok if { sprintf("%d", [1]) == "1" }
"""

_UNDEFINED = '"<undefined>"'
_LOCATION = re.compile(r"-->\s*(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)")
_MESSAGE = re.compile(r"^error:\s*(?P<msg>.+)$", re.MULTILINE)


class RegoError(Exception):
    """An engine error, located in a policy file where the engine said where."""

    def __init__(self, message: str, path: str = "", line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}: " if self.path else ""
        return f"{where}{self.message}"


def _convert(exc: BaseException) -> RegoError:
    text = str(exc).split("Stack backtrace:", 1)[0].split("Caused by:", 1)[0]
    # A compilation error wraps the real one; the innermost location and message are precise.
    locations = list(_LOCATION.finditer(text))
    messages = [m.group("msg").strip() for m in _MESSAGE.finditer(text)]
    message = next((m for m in reversed(messages) if m and m != "Compilation error:"), "")
    if not message:
        message = " ".join(text.split()) or type(exc).__name__
    if not locations:
        return RegoError(message)
    where = locations[-1]
    return RegoError(message, where.group("file"), int(where.group("line")), int(where.group("col")))


class RegoEngine:
    """One regorus engine: modules, data, and JSON-in/JSON-out evaluation."""

    def __init__(self) -> None:
        import regorus

        self._regorus = regorus
        self._engine = regorus.Engine()
        self._modules: list[tuple[str, str]] = []

    def clone(self) -> RegoEngine:
        """An independent engine with the same modules and data (cheap: no parsing again)."""
        twin = RegoEngine.__new__(RegoEngine)
        twin._regorus = self._regorus
        twin._engine = self._engine.clone()
        twin._modules = list(self._modules)
        return twin

    def add_module(self, path: str, source: str) -> None:
        try:
            self._engine.add_policy(path, source)
        except RuntimeError as exc:
            raise _convert(exc) from None
        self._modules.append((path, source))

    def add_data(self, data: dict[str, Any]) -> None:
        try:
            self._engine.add_data_json(orjson.dumps(data).decode())
        except RuntimeError as exc:
            raise _convert(exc) from None

    def add_data_json(self, document_json: bytes) -> None:
        """Merge an already encoded JSON object into ``data`` (no second encoding)."""
        try:
            self._engine.add_data_json(document_json.decode())
        except RuntimeError as exc:
            raise _convert(exc) from None

    def check_builtins(self, entry_points: Sequence[str]) -> None:
        """Resolve every function call now, so a missing builtin fails at load, not mid-plan."""
        if not self._modules or not entry_points:
            return
        try:
            self._regorus.Program.compile_from_modules("{}", self._modules, list(entry_points))
        except RuntimeError as exc:
            error = _convert(exc)
            # The compiler is stricter than the interpreter on some constructs; only an
            # unresolved function is a load error, the interpreter judges the rest.
            if "Unknown function" in error.message or "unknown function" in error.message:
                raise error from None

    def set_input(self, document_json: bytes) -> None:
        try:
            self._engine.set_input_json(document_json.decode())
        except RuntimeError as exc:
            raise _convert(exc) from None

    def eval_json(self, rule: str) -> Any:
        """The value of ``rule`` (``data.pkg.name``) as plain JSON data; ``None`` when undefined."""
        try:
            raw = self._engine.eval_rule_as_json(rule)
        except RuntimeError as exc:
            raise _convert(exc) from None
        # regorus spells "undefined" as the JSON string "<undefined>".
        if raw is None or raw == _UNDEFINED:
            return None
        return orjson.loads(raw)

    def eval_bool(self, rule: str) -> bool | None:
        try:
            value = self._engine.eval_rule(rule)
        except RuntimeError as exc:
            raise _convert(exc) from None
        return value if isinstance(value, bool) else None

    def packages(self) -> list[str]:
        return [str(p) for p in self._engine.get_packages()]


def engine_info() -> dict[str, Any]:
    try:
        import regorus
    except ImportError as exc:
        return {"engine": "regorus", "ok": False, "error": str(exc)}
    try:
        dist = version("gordon-to-regorus")
    except PackageNotFoundError:  # pragma: no cover
        dist = "unknown"
    try:
        engine = regorus.Engine()
        engine.add_policy("probe.rego", _PROBE)
        ok = engine.eval_rule("data.specops.probe.ok") is True
        error = None if ok else "probe policy did not evaluate to true"
    except Exception as exc:  # a broken engine must be reported, whatever it raises
        ok, error = False, f"{type(exc).__name__}: {exc}"
    return {
        "engine": "regorus",
        "distribution": "gordon-to-regorus",
        "version": dist,
        "ok": ok,
        "error": error,
    }


@functools.cache
def engine_version() -> str:
    try:
        return version("gordon-to-regorus")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"
