"""Drift per feature for one objective: the Dataset profile against the target's streamed bins.

The math is ``_drift``'s; this module picks the features (the objective's
``features``, else every profiled one the model's inputs name), pairs each
with its reference histogram and the window's counts (observations key
features ``<input>/<feature>``), and reports, per feature: method, value,
threshold, samples, window and the profile's digest, plus both histograms
for ``slo status --format html``. A feature the target did not bin on the
profile's edges (the profile changed after the version was loaded) is "no
data", never a pass.
"""

from __future__ import annotations

from typing import Any

from specops._core import canonical_hash
from specops.spec import Dataset, Model

__all__ = ["drift_features"]


def _reference(dataset: Dataset | None, feature: str) -> tuple[list[float], list[int], float | None] | None:
    profile = dataset.spec.profile if dataset is not None else None
    reference = profile.features.get(feature) if profile is not None else None
    if reference is None or reference.histogram is None:
        return None
    std = getattr(reference, "std", None)
    return list(reference.histogram.edges), list(reference.histogram.counts), float(std) if std is not None else None


def drift_features(objective: Any, model: Model, dataset: Dataset | None, window: dict[str, Any]) -> list[dict[str, Any]]:
    from specops.watch._drift import Current, Reference, drift

    observed = window.get("features") or {}
    window_s = window.get("seconds")
    wanted = set(objective.features) if objective.features else None
    rows: list[dict[str, Any]] = []
    for tensor in model.spec.signature.inputs:
        for feature in tensor.features or []:
            if wanted is not None and feature not in wanted:
                continue
            reference = _reference(dataset, feature)
            if reference is None:
                if wanted is not None:
                    rows.append({"feature": feature, "tensor": tensor.name, "method": objective.method, "value": None,
                                 "threshold": objective.threshold, "samples": 0, "drifted": False,
                                 "status": "no data", "note": "the dataset has no profile histogram for it"})  # fmt: skip
                continue
            edges, counts, std = reference
            digest = canonical_hash({"edges": edges, "counts": counts})
            current = observed.get(f"{tensor.name}/{feature}")
            row: dict[str, Any] = {
                "feature": feature, "tensor": tensor.name, "method": objective.method, "threshold": objective.threshold,
                "min_samples": objective.min_samples, "window_s": window_s, "profile_digest": digest,
                "reference": {"edges": edges, "counts": counts}, "value": None, "samples": 0,
                "drifted": False, "status": "no data",
            }  # fmt: skip
            rows.append(row)
            if not isinstance(current, dict):
                continue
            if [float(e) for e in current.get("edges") or edges] != [float(e) for e in edges]:
                row["note"] = "the target bins this feature on other edges than the profile's (reload the version)"
                continue
            cur = Current.from_json(current)
            result = drift(objective.method, Reference.of(edges, counts, std), cur,
                           threshold=objective.threshold, min_samples=objective.min_samples)  # fmt: skip
            row.update(
                value=result.value, samples=result.samples, status=result.status, drifted=result.status == "drift",
                current={"counts": [int(c) for c in cur.counts], "underflow": cur.underflow, "overflow": cur.overflow},
            )  # fmt: skip
    return rows
