"""The policy engine interface, and the embedded engine (regorus) behind it.

An engine takes one input document and returns, per policy package, the
values of its ``deny``, ``warn`` and ``approval`` rules. Everything else
(shapes, metadata, waivers, approvals) is the evaluator's job, so a second
engine (OPA over HTTP) is one small class.

One evaluation runs every package: a generated module collects their rules
into one object, so an input crosses into the engine once, not once per
package. A bundle is parsed and checked once per process: later engines for
the same bundle hash are clones of the prepared one.

Measured, not adopted (bench/bench_policy.py, issue 15): many inputs per
engine call (``with input as x`` over a batch) cost the same per decision as
one call each, since parsing each input and running the packages dominate;
regorus's compiled programs (``Program``/``Rvm``) run 2-3x faster but answer
an empty set where the interpreter raises (divide by zero, conflicting
rules), which would let a broken policy pass a plan: not fail closed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

from specops._errors import Diagnostic
from specops._rego import RegoEngine, RegoError, engine_version
from specops.policy._bundle import Bundle, PolicyLoadError

__all__ = [
    "AGGREGATE_PACKAGE",
    "AGGREGATE_RULE",
    "EmbeddedEngine",
    "PolicyEngine",
    "PolicyEngineError",
    "aggregate_module",
]

AGGREGATE_PACKAGE = "specops_internal.evaluate"
AGGREGATE_RULE = f"data.{AGGREGATE_PACKAGE}.results"


class PolicyEngineError(Exception):
    """An evaluation failed; the evaluator turns it into a denial that says why."""


class PolicyEngine(Protocol):
    name: str
    bundle: Bundle

    def evaluate(self, document_json: bytes) -> Any:
        """Raw engine output for one input (the evaluator checks its shape)."""
        ...

    def close(self) -> None: ...


def aggregate_module(bundle: Bundle) -> str:
    """Rego that gathers every policy package's outcome rules into one object."""
    lines = [f"package {AGGREGATE_PACKAGE}", "", "import rego.v1", "", "results := {"]
    for package, outcomes in sorted(bundle.outcome_rules.items()):
        fields = ", ".join(f'"{rule}": data.{package}.{rule}' for rule in outcomes)
        lines.append(f'\t"{package}": {{{fields}}},')
    lines.append("}")
    return "\n".join(lines) + "\n"


def load_error(error: RegoError, fallback_path: str, hint: str) -> PolicyLoadError:
    return PolicyLoadError.located(
        [
            Diagnostic(
                error.path or fallback_path, error.line, error.column, error.message,
                hint=hint, code="policy_load",
            )
        ]
    )


def load_modules(engine: RegoEngine, bundle: Bundle, *, tests: bool = False) -> None:
    for file in bundle.files:
        if file.is_test and not tests:
            continue
        try:
            engine.add_module(file.path, file.source)
        except RegoError as exc:
            raise load_error(exc, file.path, "fix the Rego syntax (policies are Rego v1)") from None
    engine.add_data({"project": bundle.data})


_PREPARED: OrderedDict[str, RegoEngine] = OrderedDict()
_PREPARED_SIZE = 8
_PREPARED_LOCK = threading.Lock()


def _prepare(bundle: Bundle) -> RegoEngine:
    engine = RegoEngine()
    load_modules(engine, bundle)
    try:
        engine.add_module("<specops:aggregate>.rego", aggregate_module(bundle))
    except RegoError as exc:  # pragma: no cover - generated from validated package names
        raise load_error(exc, "<specops:aggregate>", "a policy package name is not valid Rego") from None
    try:
        engine.check_builtins([AGGREGATE_RULE])
    except RegoError as exc:
        raise load_error(
            exc, "", "the embedded engine (regorus) lacks this function; use a builtin it has "
            "(`specops doctor` names the engine version)",
        ) from None
    return engine


def prepared(bundle: Bundle) -> RegoEngine:
    """A fresh engine loaded with ``bundle``: parsed and checked once per process and bundle
    hash, then cloned (a bundle that fails to load is not kept, so it fails every time)."""
    with _PREPARED_LOCK:
        engine = _PREPARED.get(bundle.hash)
        if engine is None:
            engine = _prepare(bundle)
            _PREPARED[bundle.hash] = engine
            if len(_PREPARED) > _PREPARED_SIZE:
                _PREPARED.popitem(last=False)
        else:
            _PREPARED.move_to_end(bundle.hash)
        return engine.clone()


class EmbeddedEngine:
    """regorus in this process: the default, no server to run."""

    def __init__(self, bundle: Bundle, *, timeout: float = 5.0) -> None:
        self.bundle = bundle
        self.name = f"regorus {engine_version()}"
        self.timeout = timeout
        self._engine = prepared(bundle)

    def evaluate(self, document_json: bytes) -> Any:
        started = time.perf_counter()
        try:
            self._engine.set_input(document_json)
            value = self._engine.eval_json(AGGREGATE_RULE)
        except RegoError as exc:
            raise PolicyEngineError(f"policy evaluation failed: {exc}") from None
        elapsed = time.perf_counter() - started
        # regorus cannot be interrupted, so a slow decision is judged when it returns.
        if elapsed > self.timeout:
            raise PolicyEngineError(
                f"policy evaluation took {elapsed:.2f}s, over the {self.timeout:g}s limit"
            )
        return value

    def close(self) -> None:
        return None
