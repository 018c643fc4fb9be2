"""The embedded Rego engine (regorus), behind one small adapter.

The policy issue builds evaluation on top of this; here it only reports what
engine is installed and proves it evaluates.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = ["engine_info"]

_PROBE = """package specops.probe
import rego.v1
ok if { sprintf("%d", [1]) == "1" }
"""


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
