"""What the command line imports before it does anything: start-up is most of a short command's time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Third-party packages a light command must not load (each costs tens to hundreds of ms).
HEAVY = {"numpy", "pygit2", "starlette", "regorus", "onnxruntime", "onnx", "httpx", "rich", "uvicorn"}

# Run the real entry point in a fresh interpreter, then report every module it loaded.
PROBE = """
import json, sys
from specops._cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
sys.stderr.write("\\n@@" + json.dumps(sorted(sys.modules)) + "\\n")
"""


def loaded(*argv: str, cwd: Path = ROOT) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=cwd, check=False
    )
    marker = result.stderr.rindex("@@")
    return set(json.loads(result.stderr[marker + 2 :]))


def top_levels(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_version_imports_only_the_command_line() -> None:
    modules = loaded("--version")
    assert sorted(m for m in modules if m.split(".")[0] == "specops") == [
        "specops",
        "specops._cli",
        "specops._errors",
        "specops._lazy",
        "specops._version",
        "specops.apply",
        "specops.apply._cli",
        "specops.evidence",
        "specops.evidence._cli",
        "specops.plan",
        "specops.plan._cli",
        "specops.policy",
        "specops.policy._cli",
        "specops.serve",
        "specops.serve._cli",
        "specops.spec",
        "specops.spec._bins",
        "specops.spec._profile_cli",
        "specops.watch",
        "specops.watch._cli",
        "specops.watch._rules_cli",
    ]
    third_party = top_levels(modules) - set(sys.stdlib_module_names) - {"specops"}
    # Only the interpreter's own start-up (site hooks of the environment) may add more.
    assert not third_party & (HEAVY | {"pydantic", "ruamel", "yaml", "prometheus_client"}), third_party


@pytest.mark.parametrize(
    "argv", [("--help",), ("plan", "--help"), ("serve", "--help"), ("apply", "--help"), ("dataset", "--help"), ("slo", "--help"), ("watch", "--help"), ("audit", "--help"), ("history", "--help")]
)
def test_help_loads_nothing_heavy(argv: tuple[str, ...]) -> None:
    modules = loaded(*argv)
    assert not top_levels(modules) & (HEAVY | {"pydantic"})


def test_validate_loads_no_runtime_dependencies() -> None:
    modules = loaded("validate", "specs")
    assert "specops.spec._load" in modules  # it really validated
    assert not top_levels(modules) & HEAVY, sorted(top_levels(modules) & HEAVY)


def test_public_names_still_resolve_to_their_homes() -> None:
    import specops
    import specops.apply
    import specops.plan
    import specops.policy
    import specops.serve
    import specops.spec
    import specops.watch
    from specops.plan._model import Plan
    from specops.spec._load import load_estate

    assert specops.Plan is Plan
    assert specops.load_estate is load_estate
    for package in (specops, specops.spec, specops.plan, specops.policy, specops.serve, specops.apply, specops.watch):
        for name in package.__all__:
            assert getattr(package, name) is not None, (package.__name__, name)
        assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = specops.policy.nothing_here  # type: ignore[attr-defined]


def test_a_name_without_home_is_refused_at_import() -> None:
    import types

    from specops._lazy import exports

    module = types.ModuleType("specops_fake_pkg")
    sys.modules["specops_fake_pkg"] = module
    try:
        with pytest.raises(ImportError, match="no home module for \\['b'\\]"):
            exports("specops_fake_pkg", ["a", "b"], {"a": "json"})
        getattr_, _ = exports("specops_fake_pkg", ["dumps"], {"dumps": "json"})
        assert getattr_("dumps") is json.dumps
        assert module.__dict__["dumps"] is json.dumps  # cached as a plain global
    finally:
        del sys.modules["specops_fake_pkg"]
