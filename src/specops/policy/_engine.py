"""The policy engine interface, and the embedded engine (regorus) behind it.

An engine takes one input document and returns, per policy package, the
values of its ``deny``, ``warn`` and ``approval`` rules. Everything else
(shapes, metadata, waivers, approvals) is the evaluator's job, so a second
engine (OPA over HTTP) is one small class.

One evaluation runs every package: a generated module collects their rules
into one object, so an input crosses into the engine once, not once per
package. A bundle is parsed and checked once per thread (a regorus engine
panics when another thread uses it): later engines for the same bundle hash
are clones of the prepared one.

The context (commits, authors, pull request: up to 250 commits, tens of
kilobytes) is the same for every input of a plan. ``evaluate_shared`` takes
it once per plan into ``data.specops_internal.shared`` and each input
without it; a generated rule evaluates the aggregate ``with input.context
as`` that copy, so policies see the very same input while the engine
parses the context once instead of once per change.

Measured, not adopted (bench/bench_policy.py, issue 15): many inputs per
engine call (``with input as x`` over a batch) cost the same per decision as
one call each at 10 a call and 1.5x more at 100, since parsing each input
and running the packages dominate (a call's own cost is about 4 us);
skipping a package whose every rule opens with ``input.resource.kind ==
"..."`` when that fails saves what the wrapper rule costs, no more (a
failing first statement is already cheap); regorus's compiled programs
(``Program``/``Rvm``) run 3.5x faster but answer an empty set where the
interpreter raises (divide by zero, conflicting rules, bad builtin
arguments), which would let a broken policy pass a plan: not fail closed.
What the time went to, for the built-in library: ``lib.<rule>`` through an
import alias made regorus evaluate every rule of ``data.specops.lib``
(``is_production`` included, about 40 us), and freeze_window called
``lib.production`` (a function: not memoised, about 35 us) before it looked
for a window at all; the library now names rules in full and asks for a
window first. What remains is each rule or function body at 2-3 us.
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
SHARED_PACKAGE = "specops_internal.shared"
SHARED_RULE = f"data.{SHARED_PACKAGE}.results"
SHARED_MODULE = f"""package {SHARED_PACKAGE}

import rego.v1

results := r if {{
\tr := {AGGREGATE_RULE} with input.context as data.{SHARED_PACKAGE}.context
}}
"""


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


# regorus engines belong to the thread that made them (using one from another thread
# panics), so each thread keeps its own prepared engines; they go when the thread does.
_PREPARED = threading.local()
_PREPARED_SIZE = 8


def _prepare(bundle: Bundle) -> RegoEngine:
    engine = RegoEngine()
    load_modules(engine, bundle)
    try:
        engine.add_module("<specops:aggregate>.rego", aggregate_module(bundle))
    except RegoError as exc:  # pragma: no cover - generated from validated package names
        raise load_error(exc, "<specops:aggregate>", "a policy package name is not valid Rego") from None
    try:
        engine.add_module("<specops:shared>.rego", SHARED_MODULE)
    except RegoError as exc:  # pragma: no cover - a constant module
        raise load_error(exc, "<specops:shared>", "the engine cannot parse with-modifiers") from None
    try:
        engine.check_builtins([AGGREGATE_RULE])
    except RegoError as exc:
        raise load_error(
            exc, "", "the embedded engine (regorus) lacks this function; use a builtin it has "
            "(`specops doctor` names the engine version)",
        ) from None
    return engine


def prepared(bundle: Bundle) -> RegoEngine:
    """A fresh engine loaded with ``bundle``: parsed and checked once per thread and bundle
    hash, then cloned (a bundle that fails to load is not kept, so it fails every time)."""
    engines: OrderedDict[str, RegoEngine] = _PREPARED.__dict__.setdefault("engines", OrderedDict())
    engine = engines.get(bundle.hash)
    if engine is None:
        engine = _prepare(bundle)
        engines[bundle.hash] = engine
        if len(engines) > _PREPARED_SIZE:
            engines.popitem(last=False)
    else:
        engines.move_to_end(bundle.hash)
    return engine.clone()


class EmbeddedEngine:
    """regorus in this process: the default, no server to run."""

    def __init__(self, bundle: Bundle, *, timeout: float = 5.0) -> None:
        self.bundle = bundle
        self.name = f"regorus {engine_version()}"
        self.timeout = timeout
        self._engine = prepared(bundle)
        self._shared: RegoEngine | None = None
        self._shared_context: bytes | None = None

    def evaluate(self, document_json: bytes) -> Any:
        return self._run(self._engine, document_json, AGGREGATE_RULE)

    def evaluate_shared(self, parts_json: bytes, context_json: bytes) -> Any:
        """``evaluate`` of the input ``parts_json`` plus ``{"context": context_json}``.

        The context is taken into the engine once and kept while it stays the same
        (a plan's inputs all carry the same one); only the rest is parsed per call.
        """
        if self._shared is None or self._shared_context != context_json:
            self._shared, self._shared_context = None, None
            engine = prepared(self.bundle)
            try:
                engine.add_data_json(b'{"specops_internal":{"shared":{"context":' + context_json + b"}}}")
            except RegoError as exc:
                raise PolicyEngineError(f"policy evaluation failed: the context could not be loaded: {exc}") from None
            self._shared, self._shared_context = engine, context_json
        return self._run(self._shared, parts_json, SHARED_RULE)

    def _run(self, engine: RegoEngine, document_json: bytes, rule: str) -> Any:
        started = time.perf_counter()
        try:
            engine.set_input(document_json)
            value = engine.eval_json(rule)
        except RegoError as exc:
            raise PolicyEngineError(f"policy evaluation failed: {exc}") from None
        except BaseException as exc:
            # An engine used from another thread than its own panics (pyo3's PanicException,
            # a BaseException): a denial that says so, not a crash of the plan.
            if type(exc).__name__ != "PanicException":
                raise
            raise PolicyEngineError(
                "policy evaluation failed: the engine was made in another thread; "
                "make an EmbeddedEngine in the thread that uses it"
            ) from None
        elapsed = time.perf_counter() - started
        # regorus cannot be interrupted, so a slow decision is judged when it returns.
        if elapsed > self.timeout:
            raise PolicyEngineError(
                f"policy evaluation took {elapsed:.2f}s, over the {self.timeout:g}s limit"
            )
        return value

    def close(self) -> None:
        return None
