"""One inference: route, check inputs, guardrails, run, guardrails, answer; mirror to shadows.

Outcomes counted per version: ``ok``; ``blocked`` (a guardrail refused it);
``client_error`` (the request was wrong); ``error`` (the model failed: the
only outcome that counts against an error-rate SLO). Mirrored requests run
after the answer is sent, at most ``MAX_MIRRORS`` at a time (more are
dropped and counted), and their answers are discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import numpy as np

from specops._onnx import OnnxInputError, OnnxRunError
from specops.serve._codec import InferRequest, encode_response
from specops.serve._errors import HTTPError
from specops.serve._guardrails import GuardrailBlocked, Hit
from specops.serve._registry import ModelVersion
from specops.serve._target import ServeTarget

__all__ = ["MAX_MIRRORS", "infer"]

MAX_MIRRORS = 64
_log = logging.getLogger("specops.serve")
_mirrors: set[asyncio.Task[None]] = set()


async def _run(target: ServeTarget, mv: ModelVersion, request: InferRequest, *, shadow: bool) -> tuple[
    list[tuple[str, np.ndarray, bool]], list[Hit]
]:
    stats = target.metrics.version(mv.name, mv.version)
    started = time.perf_counter()
    outcome = "error"
    hits: list[Hit] = []
    seen: list[np.ndarray | None] = []  # per feature layout: the input it counts (binned in batches)
    try:
        feeds = mv.feeds(request)
        wanted = mv.output_names(request)
        if stats.features:
            seen = [feeds.get(features.tensor) for features in stats.features]
        for name in mv.guardrails:
            feeds = target.guardrails[name].apply("input", feeds, mv.features, hits)
        names = [n for n, _ in wanted]
        remote = getattr(mv.session, "run_async", None)
        if remote is not None:  # the version runs elsewhere (a Ray deployment): await it, no thread
            results = await remote(feeds, names)
        elif mv.inline:  # a tiny model: a thread hand-off would cost more than the run
            results = mv.session.run(feeds, names)
        else:
            loop = asyncio.get_running_loop()
            results = await loop.run_in_executor(target.executor, mv.session.run, feeds, names)
        produced = dict(zip(names, results, strict=True))
        for name in mv.guardrails:
            produced = target.guardrails[name].apply("output", produced, {}, hits)
        outcome = "ok"
        return [(n, produced[n], binary) for n, binary in wanted], hits
    except GuardrailBlocked:
        outcome = "blocked"
        raise
    except HTTPError:
        outcome = "client_error"
        raise
    except OnnxInputError as exc:
        outcome = "client_error"
        raise HTTPError(400, f"model {mv.name} {mv.version} rejected the input: {exc}") from None
    except OnnxRunError as exc:
        _log.warning("model %s %s failed: %s", mv.name, mv.version, exc)
        raise HTTPError(500, f"model {mv.name} {mv.version} failed: {exc}") from None
    finally:
        ms = (time.perf_counter() - started) * 1000
        stats.record(outcome, ms, shadow=shadow)
        target.metrics.observations.record(
            mv.name, mv.version, stats.features, shadow=shadow, outcome=outcome, ms=ms, arrays=seen
        )
        for hit in hits:
            target.metrics.hit(mv.name, hit.guardrail, f"{hit.check}:{hit.type}", hit.stage, hit.action)


async def _mirror(target: ServeTarget, mv: ModelVersion, request: InferRequest) -> None:
    # Counted in the shadow's metrics; its answers (and errors) are discarded either way.
    with contextlib.suppress(HTTPError):
        await _run(target, mv, request, shadow=True)


def _schedule_mirrors(target: ServeTarget, model: str, request: InferRequest, shadow: ModelVersion | None) -> None:
    mirrors = [shadow] if shadow is not None else []
    for name in target.shadows_of.get(model, ()):
        route = target.routes.get(name)
        if route is not None:
            mirrors.append(route.pick(request.id or request.key))
    for mv in mirrors:
        if len(_mirrors) >= MAX_MIRRORS:
            target.metrics.shadow_dropped[mv.name] = target.metrics.shadow_dropped.get(mv.name, 0) + 1
            continue
        task = asyncio.get_running_loop().create_task(_mirror(target, mv, request))
        _mirrors.add(task)
        task.add_done_callback(_mirrors.discard)


async def infer(
    target: ServeTarget, model: str, version: str | None, request: InferRequest
) -> tuple[bytes, int | None]:
    """Serve one request; the answer body and its JSON header's length (binary extension)."""
    route = target.route(model)
    if version is not None:
        mv = route.versions.get(version)
        if mv is None:
            raise HTTPError(404, f"version {version} of {model} is not loaded (loaded: {', '.join(sorted(route.versions))})")
    else:
        mv = route.pick(request.id or request.key)
    outputs, hits = await _run(target, mv, request, shadow=False)
    if version is None and (route.shadow is not None or model in target.shadows_of):
        shadow = route.versions.get(route.shadow) if route.shadow else None
        _schedule_mirrors(target, model, request, shadow)
    parameters: dict[str, Any] | None = None
    if hits:
        parameters = {"guardrail_hits": [h.to_json() for h in hits]}
    return encode_response(mv.name, mv.version, request.id, outputs, parameters)
