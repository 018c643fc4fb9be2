"""Pin the public API: everything in ``__all__`` exists, and nothing is added by accident."""

from __future__ import annotations

import types

import specops

EXPECTED = {
    "COMPILED",
    "KINDS",
    "SLO",
    "Dataset",
    "Diagnostic",
    "Estate",
    "Guardrail",
    "LoadedSpec",
    "Model",
    "Plan",
    "Prompt",
    "Resource",
    "SpecError",
    "SpecOpsError",
    "Target",
    "__version__",
    "canonical_bytes",
    "canonical_hash",
    "json_schema",
    "load_estate",
}


def test_all_is_pinned() -> None:
    assert set(specops.__all__) == EXPECTED


def test_every_exported_name_exists() -> None:
    for name in specops.__all__:
        assert hasattr(specops, name), name


def test_public_names_are_in_all() -> None:
    # Subpackages (spec, plan) become attributes once imported; they are namespaces, not API.
    public = {
        n
        for n, v in vars(specops).items()
        if not n.startswith("_") and n != "annotations" and not isinstance(v, types.ModuleType)
    }
    assert public <= set(specops.__all__)


def test_plan_is_the_typed_plan_apply_reads() -> None:
    from specops.plan._model import Plan

    assert specops.Plan is Plan
    assert callable(specops.Plan.from_json)


def test_policy_imports_nothing_of_the_planner() -> None:
    import subprocess
    import sys

    # Resolve every public name: the package loads them lazily, so importing it alone proves nothing.
    code = (
        "import sys, specops.policy as p; [getattr(p, n) for n in p.__all__]; "
        "print(sorted(m for m in sys.modules if m.startswith('specops.plan')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
