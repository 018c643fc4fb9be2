"""Policy benchmark: the built-in library over N changed resources, regorus vs regopy.

Generates N per-resource policy inputs (the shape ``specops plan`` builds:
change, resource, related documents, context) -- models, datasets, prompts,
targets and SLOs, about a fifth of them violating some rule -- and times
one decision per input:

* embedded engine (regorus, through ``EmbeddedEngine``: one evaluation runs
  every policy package), cache off, then the same inputs again through the
  decision cache;
* regopy on the same modules and inputs, in a subprocess (it segfaults on
  some policies), with a time limit; its answers are compared with regorus's.

Both run in this one invocation, so the ratio compares like with like.
Run: ``python bench/bench_policy.py [--changes=10000] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import report

ROOT = Path(__file__).resolve().parent.parent
SHA = "e2b442b9e9e0a0d830cf2371e54341f1e30351df991f25171f93771050631f8a"
NOW = "2026-11-02T10:00:00Z"


def _model(i: int, bad: bool) -> dict[str, Any]:
    rollout: dict[str, Any] = {"strategy": "canary", "steps": [10, 50, 100], "analysis": {"slo": f"m{i}"}}
    return {
        "apiVersion": "specops.dev/v1",
        "kind": "Model",
        "metadata": {"name": f"m{i}", "labels": {"tier": "prod", "team": f"t{i % 7}"}, "owner": f"team-{i % 7}"},
        "spec": {
            "version": f"1.0.{i % 50}",
            "artifact": {"uri": f"s3://models/m{i}.onnx", "sha256": SHA},
            "signature": {"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 4]}],
                          "outputs": [{"name": "y", "dtype": "float32", "shape": [-1, 2]}]},
            "targets": [f"t{i % 13}"],
            "trainedOn": {"dataset": f"d{i % 97}", "version": "2026-10"},
            "rollout": {"strategy": "direct"} if bad else rollout,
            "guardrails": [f"g{i % 5}"],
        },
    }


def _related(i: int) -> dict[str, Any]:
    return {
        f"Target/t{i % 13}": {"kind": "Target", "metadata": {"name": f"t{i % 13}"},
                              "spec": {"url": "http://10.0.0.1:8480", "environment": "production"}},
        f"Dataset/d{i % 97}": {"kind": "Dataset", "metadata": {"name": f"d{i % 97}"},
                               "spec": {"version": "2026-10", "pii": i % 3 == 0,
                                        "artifact": {"uri": "s3://d.csv", "sha256": SHA}}},
        f"Guardrail/g{i % 5}": {"kind": "Guardrail", "metadata": {"name": f"g{i % 5}"},
                                "spec": {"checks": [{"type": "size", "stage": "input"},
                                                    {"type": "range", "stage": "output", "min": 0}]}},
        f"SLO/m{i}": {"kind": "SLO", "metadata": {"name": f"m{i}"}, "spec": {"model": f"m{i}"}},
    }


def make_inputs(count: int) -> list[dict[str, Any]]:
    """Deterministic inputs: 5 kinds in turn; every fifth resource of a kind breaks a rule."""
    out = []
    for i in range(count):
        bad = (i // 5) % 5 == 0
        kind = i % 5
        related = _related(i)
        before: dict[str, Any] | None = None
        action = "create"
        if kind in (0, 1):
            after = _model(i, bad)
            if kind == 1:  # an update: the artifact changes, the version only when compliant
                action = "update"
                before = json.loads(json.dumps(after))
                before["spec"]["artifact"]["sha256"] = "0" * 64
                if not bad:
                    before["spec"]["version"] = "0.9.0"
        elif kind == 2:
            after = {"kind": "Dataset", "metadata": {"name": f"d{i}", "labels": {"tier": "prod"}},
                     "spec": {"version": "2026-10", "artifact": {"uri": "s3://d.csv", "sha256": SHA}}}
            action, before = "update", json.loads(json.dumps(after))
            if bad:
                before["spec"]["artifact"]["sha256"] = "1" * 64
            else:
                before["spec"]["version"] = "2026-09"
        elif kind == 3:
            after = {"kind": "Prompt", "metadata": {"name": f"p{i}"},
                     "spec": {"version": "1.0.0", "model": f"m{i}", "template": "x",
                              "evaluation": {"suite": "s", "metric": "m", "minScore": 0.8,
                                             "score": 0.5 if bad else 0.9}}}
            related[f"Model/m{i}"] = _model(i, False)
        else:
            after = {"kind": "Target", "metadata": {"name": f"gpu{i}"},
                     "spec": {"url": "http://10.0.0.2:8480", "environment": "production",
                              "accelerators": {"gpus": 1},
                              "providers": ["CPUExecutionProvider"] if bad else ["CUDAExecutionProvider"]}}
        rid = f"{after['kind']}/{after['metadata']['name']}"
        out.append({
            "scope": "resource",
            "change": {"id": rid, "kind": after["kind"], "name": after["metadata"]["name"], "action": action,
                       "actions": [action], "reason": "spec_changed", "before": before, "after": after,
                       "changed_fields": [], "path": f"specs/{i}.yaml", "line": 2, "targets": []},
            "resource": after,
            "related": related,
            "plan": {"summary": {"create": count}, "desired": {"ref": "HEAD", "commit": "c" * 40}},
            "context": {"now": NOW, "pull_request": None, "commits": [], "authors": []},
        })
    return out


class _WholeInputs:
    """The embedded engine asked with whole inputs only, as before the shared context."""

    def __init__(self, engine: Any) -> None:
        self.inner, self.name, self.bundle = engine, engine.name, engine.bundle

    def evaluate(self, document_json: bytes) -> Any:
        return self.inner.evaluate(document_json)

    def close(self) -> None:
        return None


def _canonical(value: Any) -> Any:
    """Sets come back as lists in engine-specific order; compare them sorted."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_canonical(v) for v in value), key=lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS))
    return value


REGOPY_WORKER = r"""
import json, sys, time
import orjson
from regopy import Interpreter
modules, inputs_path, limit = json.loads(sys.argv[1]), sys.argv[2], float(sys.argv[3])
interp = Interpreter()
for path, source in modules:
    interp.add_module(path, source)
inputs = [line for line in open(inputs_path, "rb").read().splitlines() if line]
started = time.perf_counter()
answers = []
for n, raw in enumerate(inputs, 1):
    interp.set_input(orjson.loads(raw))
    out = interp.query("x = data.specops_internal.evaluate.results")
    answers.append(str(out))
    if n % 100 == 0 or n == len(inputs):
        elapsed = time.perf_counter() - started
        print(json.dumps({"done": n, "seconds": elapsed}), flush=True)
        if elapsed > limit:
            break
json.dump(answers[:200], open(inputs_path + ".answers", "w"))
"""


def bench_regopy(modules: list[tuple[str, str]], inputs_path: Path, limit: float) -> dict[str, Any]:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", REGOPY_WORKER, json.dumps(modules), str(inputs_path), str(limit)],
            capture_output=True, text=True, timeout=limit + 120,
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"no answer within {limit + 120:.0f}s"}
    progress = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0:
        signal = -proc.returncode if proc.returncode < 0 else None
        reason = f"crashed with signal {signal}" if signal else f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
        return {"ok": False, "error": reason, "done": progress[-1]["done"] if progress else 0}
    last = progress[-1]
    return {"ok": True, "done": last["done"], "seconds": last["seconds"]}


def _regopy_results(text: str) -> Any:
    data = json.loads(text)
    return data["bindings"]["x"] if "bindings" in data else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1,000 changes, regopy limited to 30 s")
    parser.add_argument("--regopy-limit", type=float, default=300.0, help="seconds regopy may run")
    parser.add_argument("--no-regopy", action="store_true", help="skip the regopy comparison")
    args, _ = parser.parse_known_args()
    count = 1_000 if args.quick else args.changes
    limit = 30.0 if args.quick else args.regopy_limit

    from specops.policy._bundle import load_bundle
    from specops.policy._context import MAX_COMMITS
    from specops.policy._engine import AGGREGATE_RULE, EmbeddedEngine, aggregate_module
    from specops.policy._evaluate import DecisionCache, Evaluator, _splice

    bundle = load_bundle([ROOT / "policies"], root=ROOT)
    inputs = make_inputs(count)
    context = inputs[0]["context"]
    for doc in inputs:  # one plan: every input carries the same context
        doc["context"] = context
    encoded = [orjson.dumps(doc, option=orjson.OPT_SORT_KEYS) for doc in inputs]
    context_json = orjson.dumps(context, option=orjson.OPT_SORT_KEYS)
    parts = [_splice(doc, "context", context_json)[1] for doc in inputs]
    started = time.perf_counter()
    engine = EmbeddedEngine(bundle, timeout=60)
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    EmbeddedEngine(bundle, timeout=60)
    again_s = time.perf_counter() - started

    # The floor: regorus taking each input and evaluating one trivial rule (same inputs).
    import regorus

    alone = regorus.Engine()
    alone.add_policy("alone.rego", 'package alone\nimport rego.v1\nallow if input.change.action == "create"\n')
    texts = [raw.decode() for raw in encoded]

    def run_alone() -> None:
        for text in texts:
            alone.set_input_json(text)
            alone.eval_rule("data.alone.allow")

    def run_parse() -> None:
        for text in texts:
            alone.set_input_json(text)

    def run_engine() -> None:  # as the evaluator asks: the context once, each input without it
        for part in parts:
            engine.evaluate_shared(part, context_json)

    def run_whole() -> None:  # before: every input whole
        for raw in encoded:
            engine.evaluate(raw)

    # Measured, not adopted. Many inputs per engine call: ``with input as`` over batches of 10.
    batched = engine._engine.clone()
    batched.add_module("batch.rego", "package specops_bench.batch\nimport rego.v1\nout := [r | some c in input.changes; "
                       "r := data.specops_internal.evaluate.results with input as c]\n")
    batches = [orjson.dumps({"changes": inputs[i : i + 10]}) for i in range(0, count, 10)]

    def run_batched() -> None:
        for batch in batches:
            batched.set_input(batch)
            batched.eval_json("data.specops_bench.batch.out")

    # Compiled programs: faster, but they answer [] where the interpreter raises (fail open).
    modules = [(f.path, f.source) for f in bundle.policy_files] + [("aggregate.rego", aggregate_module(bundle))]
    data_json = orjson.dumps({"project": bundle.data}).decode()
    program = regorus.Program.compile_from_modules(data_json, modules, [AGGREGATE_RULE])
    vm = regorus.Rvm()
    vm.load_program(program)
    vm.set_data_json(data_json)

    def run_compiled() -> None:
        for text in texts:
            vm.set_input_json(text)
            vm.execute_entry_point(AGGREGATE_RULE)

    # Interleaved rounds, best of each, in CPU time of this process: the machine is shared,
    # so a subject and its baseline see the same load and preemption does not count.
    runs = {"alone": run_alone, "parse": run_parse, "engine": run_engine, "whole": run_whole, "batched": run_batched,
            "compiled": run_compiled}
    best: dict[str, float] = {}
    for _ in range(1 if args.quick else 3):
        for name, run in runs.items():
            started = time.process_time()
            run()
            best[name] = min(best.get(name, float("inf")), time.process_time() - started)
    alone_s, regorus_s = best["alone"], best["engine"]
    answers = [engine.evaluate(raw) for raw in encoded]
    denied = sum(1 for a in answers if any(v for rules in a.values() for v in rules.values()))

    # A pull request's plan: the context lists up to 250 commits (MAX_COMMITS).
    commits = [{"id": f"{i:040x}", "author": f"dev{i % 9}", "email": f"dev{i % 9}@example.com",
                "committer": f"dev{i % 9}", "summary": f"change {i}: tune the rollout of the fraud scorer"}
               for i in range(MAX_COMMITS)]
    big = {**context, "commits": commits, "authors": sorted({c["author"] for c in commits})}
    big_inputs = [{**doc, "context": big} for doc in inputs[: max(count // 5, 1)]]
    big_json = orjson.dumps(big, option=orjson.OPT_SORT_KEYS)
    decide_best: dict[str, float] = {}
    evaluator = Evaluator(engine, cache=DecisionCache())
    for _ in range(1 if args.quick else 3):
        for name, evaluating, docs, shared_json in (
            ("small", Evaluator(engine, cache=DecisionCache()), inputs, context_json),
            ("shared", Evaluator(engine, cache=DecisionCache()), big_inputs, big_json),
            ("whole", Evaluator(_WholeInputs(engine), cache=DecisionCache()), big_inputs, None),
        ):
            started = time.process_time()
            for doc in docs:
                evaluating.decide(doc, "resource", None, NOW, context_json=shared_json)
            decide_best[name] = min(decide_best.get(name, float("inf")), (time.process_time() - started) / len(docs))
            if name == "small":
                evaluator = evaluating
    started = time.process_time()
    for doc in inputs:
        evaluator.decide(doc, "resource", None, NOW, context_json=context_json)
    cached_s = time.process_time() - started
    decide_s = decide_best["small"] * count
    big_best = decide_best

    per_alone = alone_s / count
    alone_name = "regorus evaluating a rule alone"
    report(f"policy, per decision, {count:,} changes (engine, every package)", regorus_s / count, "s",
           alone_name, per_alone, "100 us")
    report("policy, per decision, every input sent whole (before: context parsed each time)", best["whole"] / count,
           "s", alone_name, per_alone)
    report(f"policy, per decision with its record, context of {MAX_COMMITS} commits taken once per plan",
           big_best["shared"], "s", f"the same, context sent with every input (before, {len(big_json):,} bytes)",
           big_best["whole"])
    report("policy, parsing one input alone (part of every decision)", best["parse"] / count, "s", alone_name, per_alone)
    report("policy, per decision, 10 inputs per engine call (with input as; not adopted)",
           best["batched"] / count, "s", alone_name, per_alone)
    report("policy, per decision, compiled program (Rvm; not adopted: [] where the interpreter raises)",
           best["compiled"] / count, "s", alone_name, per_alone)
    report("policy, per decision with its record (Evaluator.decide, cache cold)", decide_s / count, "s",
           alone_name, per_alone)
    report("policy, per decision, the same input again (decision cache)", cached_s / count, "s",
           alone_name, per_alone)
    report("policy engine for a bundle already prepared in this process", again_s, "s",
           "preparing it (parse, check builtins)", first_s)

    print(f"policies: {len(bundle.rules)} rules in {len(bundle.policy_files)} files; {count:,} changed resources, "
          f"{denied:,} with a finding")
    print(f"regorus {engine.name.split()[-1]}: {regorus_s:.3f} s, {regorus_s / count * 1e6:,.1f} µs per decision "
          "(all packages per decision, cache off)")
    print(f"decision cache, second pass: {cached_s / count * 1e6:,.1f} µs per decision "
          f"(hashing the input, {evaluator.cache.hits:,} hits)")
    if args.no_regopy:
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inputs.jsonl"
        path.write_bytes(b"\n".join(encoded) + b"\n")
        result = bench_regopy(modules, path, limit)
        compared = mismatched = 0
        answers_file = Path(str(path) + ".answers")
        if result.get("ok") and answers_file.exists():
            for text, mine in zip(json.loads(answers_file.read_text()), answers, strict=False):
                theirs = _regopy_results(text)
                compared += 1
                if _canonical(theirs) != _canonical(mine):
                    mismatched += 1
    if not result.get("ok"):
        print(f"regopy: could not run the library: {result['error']} after {result.get('done', 0):,} decisions")
        return 0
    done, seconds = result["done"], result["seconds"]
    per = seconds / done
    regorus_per = regorus_s / count
    partial = "" if done == count else f" (stopped after {done:,} of {count:,} at the {limit:.0f} s limit)"
    print(f"regopy: {seconds:.3f} s for {done:,} decisions, {per * 1e6:,.1f} µs per decision{partial}")
    print(f"ratio regopy / regorus per decision: {per / regorus_per:.1f}x "
          f"(answers compared on {compared}: {mismatched} differ)")
    if os.environ.get("SPECOPS_BENCH_JSON"):
        print(json.dumps(
            {"changes": count, "regorus_us": regorus_per * 1e6, "regopy_us": per * 1e6, "ratio": per / regorus_per}
        ))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
