"""``specops doctor``: what this installation really has, for when something is off."""

from __future__ import annotations

import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from specops import _core, _onnx, _rego, _yaml
from specops._twins import PURE_FORCED
from specops._version import __version__

__all__ = ["diagnose"]


def _dist_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def diagnose() -> dict[str, Any]:
    from specops import _plan_core

    problems: list[str] = []
    core = {
        "compiled": _core.COMPILED and _plan_core.COMPILED and _yaml.COMPILED,
        "implementation": _core.IMPLEMENTATION,
        "load_error": _core.LOAD_ERROR or _plan_core.LOAD_ERROR or _yaml.LOAD_ERROR,
        "modules": {
            "hashing": {"compiled": _core.COMPILED, "load_error": _core.LOAD_ERROR},
            "planner": {"compiled": _plan_core.COMPILED, "load_error": _plan_core.LOAD_ERROR},
            "yaml": {"compiled": _yaml.COMPILED, "load_error": _yaml.LOAD_ERROR},
        },
    }
    for name, module in (("hashing", _core), ("planner", _plan_core), ("yaml", _yaml)):
        if not module.COMPILED and not PURE_FORCED:
            problems.append(
                f"compiled {name} core not active: {module.LOAD_ERROR} (reinstall with `pip install .`)"
            )
    try:
        onnx_runtime: dict[str, Any] = _onnx.runtime_info()
        onnx_runtime["session_probe"] = _onnx.probe_session()
        if not onnx_runtime["session_probe"]["ok"]:
            problems.append(
                f"ONNX Runtime cannot create a session: {onnx_runtime['session_probe']['error']}"
            )
    except ImportError as exc:
        onnx_runtime = {"error": str(exc)}
        problems.append(f"ONNX Runtime is not importable: {exc}")
    rego = _rego.engine_info()
    if not rego["ok"]:
        problems.append(f"Rego engine is not working: {rego['error']}")
    try:
        import pygit2

        git: dict[str, Any] = {
            "pygit2": _dist_version("pygit2"),
            "libgit2": getattr(pygit2, "LIBGIT2_VERSION", None),
        }
    except ImportError as exc:  # pragma: no cover
        git = {"error": str(exc)}
        problems.append(f"pygit2 is not importable: {exc}")
    # ray-serve Targets need Ray on the runner only for `specops demo --ray` and the tests: the
    # driver speaks HTTP. Not installed is reported, not a problem (`pip install 'specops[ray]'`).
    ray = {"installed": _dist_version("ray") is not None, "version": _dist_version("ray")}
    return {
        "specops": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "core": core,
        "yaml": {"ruamel.yaml": _dist_version("ruamel.yaml"), "c_parser": _yaml.C_PARSER},
        "onnxruntime": onnx_runtime,
        "rego": rego,
        "git": git,
        "ray": ray,
        "ok": not problems,
        "problems": problems,
    }
