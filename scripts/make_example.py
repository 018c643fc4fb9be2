#!/usr/bin/env python3
"""Generate the example estate's synthetic fraud dataset, reference profile and ONNX models.

Everything here is synthetic: no real transactions are involved. The output is meant
to be checked in, so the script is deterministic down to the byte: running it twice,
or on another machine, must give files with the same sha256.

Usage::

    python scripts/make_example.py [--out DIR] [--check]

Writes ``DIR/data/transactions-2026-10.csv``, ``DIR/data/transactions-2026-10.profile.json``,
``DIR/artifacts/fraud-scorer-1.0.0.onnx`` and ``DIR/artifacts/fraud-scorer-1.1.0.onnx``,
then prints a JSON summary (paths relative to DIR, sha256, size, features, metrics, bounds).

Tests can call ``build(out_dir)`` after loading this file with ``runpy.run_path``;
importing it has no side effects.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import pathlib
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20261001
N_ROWS = 2000
DECIMALS = 4

FEATURES: tuple[str, ...] = (
    "amount",
    "account_age_days",
    "tx_count_24h",
    "distinct_merchants_7d",
    "avg_amount_30d",
    "hour_of_day",
    "distance_from_home_km",
    "card_present",
)
LABEL = "label"

DATASET_NAME = "transactions-2026-10"
DATA_CSV = pathlib.Path("data") / f"{DATASET_NAME}.csv"
DATA_PROFILE = pathlib.Path("data") / f"{DATASET_NAME}.profile.json"
MODEL_NAME = "fraud-scorer"

# Model version -> gradient-descent iterations. 1.1.0 only trains longer, so the
# two models score the same inputs slightly differently: enough to demo a canary.
MODEL_VERSIONS: dict[str, int] = {"1.0.0": 500, "1.1.0": 1000}
LEARNING_RATE = 0.5

HIST_BINS = 50  # quantile bins: `specops dataset profile`'s default
OPSET = 17
# ONNX Runtime 1.31 refuses models stamped with onnx 1.23's default IR version (14).
IR_VERSION = 9

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent.parent / "specs"


# --------------------------------------------------------------------------- data


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def _draw_features(rng: np.random.Generator, n: int) -> np.ndarray:
    """Draw raw feature columns, in FEATURES order.

    The order of rng calls is part of the output format: reordering them changes
    every value in the dataset.
    """
    amount = np.clip(rng.lognormal(mean=3.8, sigma=1.0, size=n), 1.0, 5000.0)
    account_age_days = np.minimum(np.floor(rng.gamma(shape=1.5, scale=400.0, size=n)) + 1, 3650)
    tx_count_24h = rng.poisson(lam=2.5, size=n).astype(np.float64)
    distinct_merchants_7d = rng.poisson(lam=6.0, size=n).astype(np.float64)
    avg_amount_30d = np.clip(rng.lognormal(mean=3.8, sigma=0.5, size=n), 1.0, 2000.0)
    hour_of_day = rng.integers(0, 24, size=n).astype(np.float64)
    distance_from_home_km = np.minimum(rng.exponential(scale=12.0, size=n), 500.0)
    card_present = (rng.random(size=n) < 0.65).astype(np.float64)
    columns = (
        amount,
        account_age_days,
        tx_count_24h,
        distinct_merchants_7d,
        avg_amount_30d,
        hour_of_day,
        distance_from_home_km,
        card_present,
    )
    # Rounding here, before anything is derived from the values, means the CSV text
    # and every statistic below are computed from exactly what a reader will parse.
    return np.round(np.column_stack(columns), DECIMALS)


def _true_logit(x: np.ndarray) -> np.ndarray:
    """The known ground-truth fraud relationship the scorer should recover.

    Fraud skews towards large amounts relative to the card's usual spend, new
    accounts, bursts of activity, night-time, far from home and card-not-present.
    """
    col = {name: x[:, i] for i, name in enumerate(FEATURES)}
    is_night = (col["hour_of_day"] < 6).astype(np.float64)
    logit = (
        -5.0
        + 0.018 * (col["amount"] - col["avg_amount_30d"])
        - 0.9 * np.log1p(col["account_age_days"] / 30.0)
        + 0.7 * col["tx_count_24h"]
        + 0.15 * col["distinct_merchants_7d"]
        + 1.2 * is_night
        + 0.075 * col["distance_from_home_km"]
        - 2.4 * col["card_present"]
    )
    return np.asarray(logit)


def make_dataset(rng: np.random.Generator, n: int = N_ROWS) -> tuple[np.ndarray, np.ndarray]:
    x = _draw_features(rng, n)
    # Noise on the logit plus a Bernoulli draw keeps the classes overlapping, so the
    # model scores are not trivially perfect.
    z = _true_logit(x) + rng.normal(0.0, 0.5, size=n)
    y = (rng.random(size=n) < _sigmoid(z)).astype(np.int64)
    return x, y


def dataset_csv(x: np.ndarray, y: np.ndarray) -> bytes:
    lines = [",".join((*FEATURES, LABEL))]
    for row, label in zip(x, y, strict=True):
        lines.append(",".join([*(f"{v:.{DECIMALS}f}" for v in row), str(int(label))]))
    return ("\n".join(lines) + "\n").encode("ascii")


# ------------------------------------------------------------------------ stats


def _r(value: float) -> float:
    # "+ 0.0" turns -0.0 into 0.0 so the JSON text cannot depend on a sign bit.
    return round(float(value), DECIMALS) + 0.0


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    # math.fsum is exactly rounded, unlike numpy's SIMD-dependent pairwise sums, so
    # these statistics are identical on every machine before they are even rounded.
    n = len(values)
    mean = math.fsum(values.tolist()) / n
    var = math.fsum(((values - mean) ** 2).tolist()) / n
    return mean, math.sqrt(var)


def dataset_profile(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    # The same computation as `specops dataset profile DATA.csv --exclude label`: quantile
    # histograms (one bin per value for a feature with few values), so the spec's profile
    # is that command's output and drift sees a skewed feature's shift.
    from specops.spec._profile import profile_columns

    profile = profile_columns({name: x[:, i] for i, name in enumerate(FEATURES)}, HIST_BINS)
    features = {
        name: {
            "mean": f.mean, "std": f.std, "min": f.min, "max": f.max, "null_fraction": f.null_fraction,
            "histogram": {"edges": list(f.histogram.edges), "counts": list(f.histogram.counts)},
        }
        for name, f in profile.features.items()
        if f.histogram is not None
    }
    return {
        "dataset": DATA_CSV.name,
        "rows": len(y),
        "features": features,
        "label": {"name": LABEL, "positive_fraction": _r(y.mean())},
    }


def _nice_step(span: float) -> float:
    # One order of magnitude below the span: hour_of_day (0..23) keeps unit bounds,
    # amount (1..5000) rounds to hundreds.
    return 10.0 ** (math.floor(math.log10(span)) - 1) if span > 0 else 1.0


def outward_bounds(values: np.ndarray) -> list[float]:
    lo, hi = float(values.min()), float(values.max())
    step = _nice_step(hi - lo)
    return [_r(math.floor(lo / step) * step), _r(math.ceil(hi / step) * step)]


# ------------------------------------------------------------------------ model


@dataclass(frozen=True)
class LogisticModel:
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias: float

    def logit(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(((x - self.mean) / self.std) @ self.weights + self.bias)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return _sigmoid(self.logit(x))


def standardizer(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Rounded before training so the model is trained with exactly the constants that
    # end up in the ONNX graph.
    stats = [_mean_std(x[:, i]) for i in range(x.shape[1])]
    mean = np.array([_r(m) for m, _ in stats])
    std = np.array([_r(s) if s > 0 else 1.0 for _, s in stats])
    return mean, std


def train(x: np.ndarray, y: np.ndarray, iterations: int) -> LogisticModel:
    mean, std = standardizer(x)
    xs = (x - mean) / std
    w = np.zeros(x.shape[1])
    b = 0.0
    for _ in range(iterations):
        err = _sigmoid(xs @ w + b) - y
        w -= LEARNING_RATE * (xs.T @ err) / len(y)
        b -= LEARNING_RATE * float(err.mean())
    # Rounding hides BLAS last-bit differences between machines, so the ONNX bytes
    # are the same wherever this runs.
    return LogisticModel(mean, std, np.round(w, DECIMALS), _r(b))


def auc(y: np.ndarray, score: np.ndarray) -> float:
    # Mann-Whitney U with average ranks for ties; no sklearn dependency needed.
    order = np.argsort(score, kind="mergesort")
    sorted_scores = score[order]
    ranks = np.empty(len(score))
    i = 0
    while i < len(score):
        j = i
        while j + 1 < len(score) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def metrics(model: LogisticModel, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    p = model.predict_proba(x)
    return {"accuracy": _r(((p >= 0.5) == (y == 1)).mean()), "auc": _r(auc(y, p))}


def _const(name: str, values: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.float32), name=name)


def to_onnx(model: LogisticModel, version: str) -> onnx.ModelProto:
    # Logits [-z/2, z/2] make softmax class 1 exactly sigmoid(z); halving is exact in
    # binary floating point, so no precision is lost going to the two-class form.
    w2 = np.stack([-model.weights / 2.0, model.weights / 2.0], axis=1)
    b2 = np.array([-model.bias / 2.0, model.bias / 2.0])
    nodes = [
        helper.make_node("Sub", ["features", "mean"], ["centered"], name="center"),
        helper.make_node("Div", ["centered", "std"], ["scaled"], name="scale"),
        helper.make_node("MatMul", ["scaled", "W"], ["xw"], name="matmul"),
        helper.make_node("Add", ["xw", "b"], ["logits"], name="bias"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "fraud_scorer",
        inputs=[helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 8])],
        outputs=[helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 2])],
        initializer=[
            _const("mean", model.mean),
            _const("std", model.std),
            _const("W", w2),
            _const("b", b2),
        ],
    )
    onnx_model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="specops-example",
        producer_version="1",
        doc_string=(
            f"{MODEL_NAME} {version}: logistic-regression fraud scorer trained on SYNTHETIC "
            "data generated by scripts/make_example.py. Not for real use. "
            "Input 'features' columns: " + ", ".join(FEATURES) + ". "
            "Output 'probabilities': [P(legit), P(fraud)]."
        ),
    )
    helper.set_model_props(
        onnx_model,
        {"model_name": MODEL_NAME, "model_version": version, "features": ",".join(FEATURES)},
    )
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


def model_path(version: str) -> pathlib.Path:
    return pathlib.Path("artifacts") / f"{MODEL_NAME}-{version}.onnx"


# ------------------------------------------------------------------------ build


def _write(out_dir: pathlib.Path, rel: pathlib.Path, data: bytes) -> dict[str, Any]:
    path = out_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("ascii")


def build(out_dir: pathlib.Path) -> dict[str, Any]:
    """Write the dataset, its profile and both model versions under out_dir.

    Returns the summary printed by the CLI: per-file sha256/size keyed by the path
    relative to out_dir (POSIX separators), features, per-model metrics and bounds.
    """
    out_dir = pathlib.Path(out_dir)
    x, y = make_dataset(np.random.default_rng(SEED))
    files = {
        DATA_CSV.as_posix(): _write(out_dir, DATA_CSV, dataset_csv(x, y)),
        DATA_PROFILE.as_posix(): _write(out_dir, DATA_PROFILE, _json_bytes(dataset_profile(x, y))),
    }
    models: dict[str, Any] = {}
    for version, iterations in MODEL_VERSIONS.items():
        model = train(x, y, iterations)
        rel = model_path(version)
        files[rel.as_posix()] = _write(out_dir, rel, to_onnx(model, version).SerializeToString())
        models[version] = {"path": rel.as_posix(), "iterations": iterations, **metrics(model, x, y)}
    return {
        "files": files,
        "features": list(FEATURES),
        "label": LABEL,
        "rows": len(y),
        "fraud_rate": _r(y.mean()),
        "models": models,
        "bounds": {name: outward_bounds(x[:, i]) for i, name in enumerate(FEATURES)},
    }


# ------------------------------------------------------------------------ check


def _load_csv(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    return table[:, :-1], table[:, -1].astype(np.int64)


def _check_model(path: pathlib.Path, x: np.ndarray, y: np.ndarray, expected: float) -> list[str]:
    import onnxruntime as ort  # only needed for --check; keeps importing this file light

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (probs,) = session.run(["probabilities"], {"features": x.astype(np.float32)})
    if probs.shape != (len(y), 2):
        return [f"{path.name}: output shape {probs.shape}"]
    problems = []
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-5):
        problems.append(f"{path.name}: probabilities do not sum to 1")
    accuracy = float(((probs[:, 1] >= 0.5) == (y == 1)).mean())
    if accuracy <= 0.85:
        problems.append(f"{path.name}: onnxruntime accuracy {accuracy:.4f} <= 0.85")
    # float32 in the runtime vs float64 in numpy may flip a row sitting on 0.5, no more.
    if abs(accuracy - expected) > 0.002:
        problems.append(f"{path.name}: onnxruntime accuracy {accuracy:.4f}, numpy {expected}")
    print(f"check {path.name}: accuracy={accuracy:.4f} problems={len(problems)}", file=sys.stderr)
    return problems


def check(out_dir: pathlib.Path, summary: dict[str, Any]) -> list[str]:
    """Run every model under ONNX Runtime on the CSV as written; return the failures."""
    x, y = _load_csv(out_dir / DATA_CSV)
    problems: list[str] = []
    for info in summary["models"].values():
        problems += _check_model(out_dir / info["path"], x, y, info["accuracy"])
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--check", action="store_true", help="verify the models with onnxruntime")
    args = parser.parse_args(argv)
    summary = build(args.out)
    print(json.dumps(summary, indent=2, sort_keys=True))
    if args.check:
        problems = check(args.out, summary)
        for problem in problems:
            print(f"check failed: {problem}", file=sys.stderr)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
