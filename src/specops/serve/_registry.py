"""Model versions as they run: loaded, verified and warmed up before anything routes to them.

A ``ModelVersion`` is immutable once built; a ``Route`` (the loaded versions
of one model, their traffic weights and the shadow) is immutable too, and a
change builds a new one that replaces the old reference in one assignment.
A request holds the route it started with, so a swap never sees half a
change and a version being unloaded finishes the requests it already took.
"""

from __future__ import annotations

import hashlib
import random
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from specops._onnx import OnnxLoadError, Session, load_session, signature_problems
from specops.serve._codec import SPEC_TO_OIP, InferRequest
from specops.serve._errors import HTTPError
from specops.spec import Model
from specops.spec._model import TensorSpec

__all__ = ["ModelVersion", "Route", "load_key", "load_version"]

INLINE_BELOW_S = 0.0002
INLINE_SAMPLES = 25
INLINE_BUDGET_S = 0.02
_NUMPY = {
    "float32": np.float32, "float64": np.float64, "float16": np.float16,
    "int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
    "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64,
    "bool": np.bool_, "string": object,
}  # fmt: skip


def load_key(model: Model) -> tuple[Any, ...]:
    """What decides whether a re-applied spec needs a new session (not guardrails or placement)."""
    spec = model.spec
    return (
        spec.artifact.sha256,
        tuple(spec.runtime.providers),
        spec.runtime.intra_op_threads,
        spec.runtime.inter_op_threads,
        spec.runtime.graph_optimization,
        spec.signature.model_dump_json(),
    )


@dataclass(frozen=True, slots=True)
class ModelVersion:
    name: str
    version: str
    hash: str
    model: Model
    session: Session
    key: tuple[Any, ...]
    features: dict[str, list[str]] = field(default_factory=dict)
    # Runs that take less than a thread hand-off costs run on the event loop itself.
    inline: bool = False

    @property
    def providers(self) -> list[str]:
        return self.session.providers

    @property
    def guardrails(self) -> list[str]:
        return list(self.model.spec.guardrails)

    def with_spec(self, model: Model, spec_hash: str) -> ModelVersion:
        return replace(self, model=model, hash=spec_hash)

    def feeds(self, request: InferRequest) -> dict[str, np.ndarray]:
        """The request's tensors checked against the signature: names, datatypes, ranks, dims."""
        declared = self.model.spec.signature.inputs
        if len(request.inputs) == len(declared):
            # The common case first: every input, in the declared order, each as declared. Any
            # difference goes the long way below, which finds it and says what it is.
            fast: dict[str, np.ndarray] = {}
            for spec, sent in zip(declared, request.inputs, strict=True):
                if sent.name != spec.name or sent.datatype != SPEC_TO_OIP[spec.dtype] or not _fits(spec.shape, sent.shape):
                    break
                fast[spec.name] = sent.array
            else:
                return fast
        given = {t.name: t for t in request.inputs}
        names = [t.name for t in declared]
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise HTTPError(
                400, f"model {self.name} {self.version} has no input {unknown[0]!r} (inputs: {', '.join(names)})"
            )
        feeds: dict[str, np.ndarray] = {}
        for spec in declared:
            tensor = given.get(spec.name)
            if tensor is None:
                raise HTTPError(400, f"input {spec.name!r} is missing (model {self.name} takes {', '.join(names)})")
            want = SPEC_TO_OIP[spec.dtype]
            if tensor.datatype != want:
                raise HTTPError(400, f"input {spec.name!r} must be {want}, got {tensor.datatype}")
            _check_shape(spec, tensor.shape)
            feeds[spec.name] = tensor.array
        return feeds

    def output_names(self, request: InferRequest) -> list[tuple[str, bool]]:
        names = [t.name for t in self.model.spec.signature.outputs]
        if request.outputs is None:
            return [(n, request.binary_output) for n in names]
        for name, _ in request.outputs:
            if name not in names:
                raise HTTPError(400, f"model {self.name} has no output {name!r} (outputs: {', '.join(names)})")
        return request.outputs


def _fits(want: list[int], shape: tuple[int, ...]) -> bool:
    return len(want) == len(shape) and all(w in (-1, got) for w, got in zip(want, shape, strict=True))


def _check_shape(spec: TensorSpec, shape: tuple[int, ...]) -> None:
    if len(shape) != len(spec.shape):
        raise HTTPError(400, f"input {spec.name!r} must have {len(spec.shape)} dimensions {spec.shape}, got {list(shape)}")
    for i, (want, got) in enumerate(zip(spec.shape, shape, strict=True)):
        if want != -1 and want != got:
            raise HTTPError(400, f"input {spec.name!r} dimension {i} must be {want}, got {got} (shape {list(shape)})")


def _warmup_feeds(model: Model) -> dict[str, np.ndarray]:
    feeds = {}
    for spec in model.spec.signature.inputs:
        shape = tuple(1 if d == -1 else d for d in spec.shape)
        dtype = _NUMPY[spec.dtype]
        if dtype is object:
            array = np.full(shape, "", dtype=object)
        else:
            array = np.zeros(shape, dtype=dtype)
        feeds[spec.name] = array
    return feeds


def load_version(model: Model, spec_hash: str, artifact: bytes) -> ModelVersion:
    """Verify, load and warm up one version; ``HTTPError(422)`` says why one is refused."""
    where = f"Model/{model.name} {model.spec.version}"
    got = hashlib.sha256(artifact).hexdigest()
    if got != model.spec.artifact.sha256:
        raise HTTPError(
            422, f"{where}: artifact sha256 is {got}, the spec says {model.spec.artifact.sha256}"
        )
    runtime = model.spec.runtime
    try:
        session = load_session(
            artifact,
            runtime.providers,
            intra_op_threads=runtime.intra_op_threads,
            inter_op_threads=runtime.inter_op_threads,
            graph_optimization=runtime.graph_optimization,
        )
    except OnnxLoadError as exc:
        raise HTTPError(422, f"{where}: {exc}") from exc
    signature = model.spec.signature
    problems = signature_problems(signature.inputs, signature.outputs, session.inputs, session.outputs)
    if problems:
        raise HTTPError(
            422, f"{where}: the model does not match the spec's signature: {'; '.join(problems)}",
            problems=problems,
        )
    outputs = [t.name for t in model.spec.signature.outputs]
    feeds = _warmup_feeds(model)
    timings: list[float] = []
    for _ in range(max(1, runtime.warmup_requests)):
        started = time.perf_counter()
        try:
            results = session.run(feeds, outputs)
            timings.append(time.perf_counter() - started)
        except Exception as exc:
            raise HTTPError(422, f"{where}: warm-up inference failed: {exc}") from exc
        for spec, array in zip(model.spec.signature.outputs, results, strict=True):
            if array.ndim != len(spec.shape):
                raise HTTPError(
                    422, f"{where}: warm-up output {spec.name!r} has rank {array.ndim}, the spec says {len(spec.shape)}"
                )
    features = {t.name: list(t.features) for t in model.spec.signature.inputs if t.features}
    inline = _runs_inline(session, feeds, outputs, timings)
    return ModelVersion(model.name, model.spec.version, spec_hash, model, session, load_key(model), features, inline)


def _runs_inline(session: Any, feeds: dict[str, Any], outputs: list[str], timings: list[float]) -> bool:
    """Whether a run is cheap enough for the event loop (a thread hand-off would cost more).

    Decided on the fastest of up to ``INLINE_SAMPLES`` runs: one slow sample
    (a preempted or throttled CPU) must not send a 6 µs model through a
    worker thread for the rest of its life, while a model that really is slow
    stops sampling once the extra runs took ``INLINE_BUDGET_S``.
    """
    spent = 0.0
    while min(timings) >= INLINE_BELOW_S and len(timings) < INLINE_SAMPLES and spent < INLINE_BUDGET_S:
        started = time.perf_counter()
        session.run(feeds, outputs)
        timings.append(time.perf_counter() - started)
        spent += timings[-1]
    return min(timings) < INLINE_BELOW_S


def _bucket(request_id: str | None) -> int:
    if request_id is None:
        return random.randrange(100)  # routing, not security
    return zlib.crc32(request_id.encode("utf-8")) % 100


@dataclass(frozen=True, slots=True)
class Route:
    """One model's loaded versions, traffic weights (percent) and shadow version."""

    versions: Mapping[str, ModelVersion]
    weights: Mapping[str, int]
    shadow: str | None = None
    table: tuple[tuple[int, str], ...] = ()

    @classmethod
    def build(cls, versions: Mapping[str, ModelVersion], weights: Mapping[str, int], shadow: str | None) -> Route:
        full = {v: int(weights.get(v, 0)) for v in sorted(versions)}
        table: list[tuple[int, str]] = []
        upper = 0
        for version, weight in full.items():
            if weight > 0:
                upper += weight
                table.append((upper, version))
        return cls(dict(versions), full, shadow, tuple(table))

    def pick(self, request_id: str | None) -> ModelVersion:
        """The version serving this request: a fixed bucket of its id, else a random one."""
        bucket = _bucket(request_id)
        for upper, version in self.table:
            if bucket < upper:
                return self.versions[version]
        return self.versions[self.table[-1][1]]
