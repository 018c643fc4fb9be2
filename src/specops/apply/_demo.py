"""``specops demo``: the whole loop on this machine, in about half a minute.

1. copy the example estate into a fresh git repository and point its Target
   at a local ``specops serve`` (free port, a random admin token);
2. plan and apply it; send sample inferences;
3. commit model 1.1.0 and apply: a canary (10%, 50%, 100%) judged against
   the model's SLO on generated traffic promotes it;
4. commit 1.2.0, a broken export whose probabilities come out 100 times too
   large: the output guardrail blocks its answers, its canary fails analysis
   and rolls back by itself, 1.1.0 serving all traffic;
5. commit 1.3.0, an export that fails on a class of inputs absent from the
   training data (amounts above 999.8): its canary, on training rows, promotes it;
6. the traffic shifts (bigger amounts, at night): 1.3.0 fails on part of it;
7. ``specops watch --once`` sees the budget burn and the drift on ``amount``
   and ``hour_of_day``, rolls the target back to 1.1.0 and proposes the revert
   on a branch; ``specops slo status`` shows the numbers;
8. print ``specops status``;
9. print ``specops audit`` and ``specops history`` of the model from the
   evidence every apply and watch's rollback sealed, and stop the server.

``specops demo --ray`` runs the same on a local Ray cluster (``LocalRay``)
through a ray-serve Target: the router and each model version are Ray
Serve applications, stopped with the cluster at the end.

The demo shortens the analysis (fewer requests, a one-second interval) and
sends its alerts to the log (no Alertmanager runs here) so it finishes
quickly; everything else is the example estate as committed.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any, TextIO

from specops._errors import SpecOpsError
from specops._git import GitRepo
from specops._project import Project
from specops.targets import TargetDriver

__all__ = ["failing_export", "point_at_ray", "rescaled_model", "run_demo"]

TARGET_FILE = "specs/targets/local-cpu.yaml"
MODEL_FILE = "specs/models/fraud-scorer.yaml"
SLO_FILE = "specs/slos/fraud-scorer.yaml"
FAST_ANALYSIS = "analysis: {slo: fraud-scorer, minRequests: 60, interval: 1s, deadline: 2m, failureLimit: 2}"


def rescaled_model(data: bytes, factor: float = 100.0) -> bytes:
    """A broken export of the model in ``data``: its ``probabilities`` come out ``factor`` times too large.

    The kind of mistake a real pipeline makes (a percentage where a
    probability belongs): same signature, loads, answers every request
    quickly, and passes a warm-up on zeros. Only the output guardrail
    (``probabilities`` within [0, 1]) sees that it is wrong, and blocks its
    answers, so canary analysis fails it on the guardrail block rate. Cheap
    on purpose: a latency-breaking stand-in needs 50+ ms of CPU per
    request, which a shared 2-core machine cannot give a canary's worth of
    requests in time.
    """
    import numpy as np
    from onnx import helper, load_from_string, numpy_helper

    model = load_from_string(data)
    graph = model.graph
    raw = "probabilities_unscaled"
    for node in graph.node:
        node.output[:] = [raw if name == "probabilities" else name for name in node.output]
    graph.initializer.append(numpy_helper.from_array(np.array(factor, dtype=np.float32), "scale"))
    graph.node.append(helper.make_node("Mul", [raw, "scale"], ["probabilities"]))
    return bytes(model.SerializeToString())


def failing_export(data: bytes, feature: int = 0, above: float = 500.0) -> bytes:
    """The model in ``data``, exported with a bug: a batch with a row whose ``feature`` exceeds ``above`` fails.

    The column is reshaped to ``[-1, 1 + 2 * (max > above)]``: the identity for
    ordinary rows, an impossible shape for that class, which ONNX Runtime
    refuses at run time (a model failure, answered 500). Same signature; loads,
    warms up on zeros, and answers most traffic correctly.
    """
    import numpy as np
    from onnx import TensorProto, helper, load_from_string, numpy_helper

    model = load_from_string(data)
    graph = model.graph
    raw = "probabilities_ok"
    for node in graph.node:
        node.output[:] = [raw if name == "probabilities" else name for name in node.output]
    constants: dict[str, Any] = {
        "bug_column": np.array([feature], dtype=np.int64), "bug_above": np.array(above, dtype=np.float32),
        "bug_two": np.array([2], dtype=np.int64), "bug_one": np.array([1], dtype=np.int64),
        "bug_axis": np.array([0], dtype=np.int64), "bug_rows": np.array([-1], dtype=np.int64),
        "bug_zero": np.array(0.0, dtype=np.float32), "bug_unit": np.array(1.0, dtype=np.float32),
    }  # fmt: skip
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in constants.items())
    graph.node.extend([
        helper.make_node("Gather", ["features", "bug_column"], ["bug_x"], axis=1),
        helper.make_node("ReduceMax", ["bug_x"], ["bug_max"], keepdims=0),
        helper.make_node("Greater", ["bug_max", "bug_above"], ["bug_big"]),
        helper.make_node("Cast", ["bug_big"], ["bug_flag"], to=TensorProto.INT64),
        helper.make_node("Unsqueeze", ["bug_flag", "bug_axis"], ["bug_flag1"]),
        helper.make_node("Mul", ["bug_flag1", "bug_two"], ["bug_k0"]),
        helper.make_node("Add", ["bug_k0", "bug_one"], ["bug_k"]),
        helper.make_node("Concat", ["bug_rows", "bug_k"], ["bug_shape"], axis=0),
        helper.make_node("Reshape", ["bug_x", "bug_shape"], ["bug_same"]),
        helper.make_node("Mul", ["bug_same", "bug_zero"], ["bug_zeros"]),
        helper.make_node("Add", ["bug_zeros", "bug_unit"], ["bug_ones"]),
        helper.make_node("Mul", [raw, "bug_ones"], ["probabilities"]),
    ])  # fmt: skip
    return bytes(model.SerializeToString())


def set_model_version(repo: Path, version: str, artifact: str, data: bytes) -> None:
    """Point the example Model at ``artifact`` (written from ``data``) as ``version``."""
    (repo / artifact).parent.mkdir(parents=True, exist_ok=True)
    (repo / artifact).write_bytes(data)
    path = repo / MODEL_FILE
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^  version: .*$", f"  version: {version}", text, count=1)
    text = re.sub(r"(?m)^    uri: .*$", f"    uri: {artifact}", text, count=1)
    text = re.sub(r"(?m)^    sha256: .*$", f"    sha256: {hashlib.sha256(data).hexdigest()}", text, count=1)
    text = re.sub(r"(?m)^    sizeBytes: .*$", f"    sizeBytes: {len(data)}", text, count=1)
    path.write_text(text, encoding="utf-8")


def commit_all(repo: Path, message: str) -> str:
    return GitRepo.discover(repo).commit_all(message, "SpecOps Demo", "demo@specops.invalid")


def prepare(specs: Path, repo: Path, url: str, analysis: str = FAST_ANALYSIS) -> None:
    """The example estate in a new git repository, its target at ``url``, analysis shortened."""
    if not (specs / "models").is_dir():
        raise SpecOpsError(
            f"{specs} does not hold the example estate (run `specops demo` from the SpecOps "
            "checkout, or pass --specs PATH/TO/specs)"
        )
    GitRepo.init(repo, "main")
    shutil.copytree(specs, repo / "specs")
    # The project's policies judge the demo's plans too, as they would in CI.
    project = specs.parent
    if (project / "specops.yaml").is_file():
        for name in ("specops.yaml", "waivers.yaml"):
            if (project / name).is_file():
                shutil.copy2(project / name, repo / name)
        if (project / "policies").is_dir():
            shutil.copytree(project / "policies", repo / "policies")
    target = repo / TARGET_FILE
    target.write_text(re.sub(r"url: \S+", f"url: {url}", target.read_text(encoding="utf-8"), count=1), encoding="utf-8")
    model = repo / MODEL_FILE
    model.write_text(re.sub(r"analysis: \{[^}]*\}", analysis, model.read_text(encoding="utf-8"), count=1), encoding="utf-8")
    slo = repo / SLO_FILE  # no Alertmanager runs here: the demo's alerts go to the log
    slo.write_text(re.sub(r"(?m)^    notify: .*$", '    notify: ["log"]', slo.read_text(encoding="utf-8"), count=1), encoding="utf-8")
    commit_all(repo, "example estate (demo)")


def point_at_ray(repo: Path, url: str, proxy_url: str, artifact_dir: Path, token_env: str) -> None:
    """Make the example Target a ray-serve one (dashboard ``url``, Serve's proxy at ``proxy_url``)."""
    target = repo / TARGET_FILE
    text = target.read_text(encoding="utf-8")
    text = re.sub(r"type: \S+", "type: ray-serve", text, count=1)
    text = re.sub(r"url: \S+", f"url: {url}", text, count=1)
    text = re.sub(r"tokenEnv: \S+", f"tokenEnv: {token_env}", text, count=1)
    text += f"  ray:\n    proxyUrl: {proxy_url}\n    artifactDir: {artifact_dir}\n"
    target.write_text(text, encoding="utf-8")
    commit_all(repo, "target: ray-serve")


def infer(driver: TargetDriver, model: str, rows: list[list[float]]) -> list[float]:
    body = {"inputs": [{"name": "features", "shape": [len(rows), len(rows[0])], "datatype": "FP32", "data": [v for r in rows for v in r]}]}
    response = driver.infer(model, body, timeout=10)
    if response.status_code != 200:
        raise SpecOpsError(f"demo: inference on {model} answered HTTP {response.status_code}: {response.text[:200]}")
    data = response.json()["outputs"][0]["data"]
    return [float(data[i * 2 + 1]) for i in range(len(rows))]


def run_demo(
    specs: Path,
    out: TextIO,
    *,
    workdir: Path | None = None,
    port: int = 0,
    traffic: float = 300.0,
    err: TextIO | None = None,
    ray: bool = False,
) -> int:
    from specops.apply._local import LocalTarget, free_port

    temp = None
    if workdir is None:
        temp = tempfile.TemporaryDirectory(prefix="specops-demo-")
        workdir = Path(temp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    repo = workdir / "estate"
    server: Any
    if ray:  # a local Ray cluster and a ray-serve Target instead of specops serve
        from specops.ray._local import LocalRay

        server = LocalRay(workdir / "ray")
    else:
        server = LocalTarget("local-cpu", workdir / "target-state", port=port or free_port())

    def say(line: str = "") -> None:
        out.write(line + "\n")
        out.flush()

    try:
        say(f"== 1. the example estate in a git repository ({repo}), target at {server.url}")
        prepare(specs.resolve(), repo, server.url)
        if ray:
            point_at_ray(repo, server.url, server.proxy_url, server.artifact_dir, server.token_env)
        server.start()
        what = f"a local Ray (dashboard {server.url}, Serve at {server.proxy_url})" if ray else "specops serve"
        say(f"   {what} is up (pid {server.process.pid if server.process else '?'})")
        say("== 2. plan and apply")
        _plan_and_apply(repo, say, traffic=None, workdir=workdir)
        from specops.apply._traffic import rows_from_csv

        rows = rows_from_csv((repo / "specs/data/transactions-2026-10.csv").read_bytes(), _features(repo), limit=3)
        with server.driver() as driver:
            scores = infer(driver, "fraud-scorer", rows)
        for row, score in zip(rows, scores, strict=True):
            say(f"   inference: amount={row[0]:8.2f} -> P(fraud) = {score:.4f}")
        say("== 3. commit fraud-scorer 1.1.0: canary 10% -> 50% -> 100%, judged against its SLO")
        artifact = "specs/artifacts/fraud-scorer-1.1.0.onnx"
        set_model_version(repo, "1.1.0", artifact, (repo / artifact).read_bytes())
        commit_all(repo, "fraud-scorer 1.1.0")
        _plan_and_apply(repo, say, traffic=traffic, workdir=workdir)
        say("== 4. commit fraud-scorer 1.2.0, a broken export: its probabilities come out 100x too large")
        set_model_version(repo, "1.2.0", "specs/artifacts/fraud-scorer-1.2.0.onnx", rescaled_model((repo / artifact).read_bytes()))
        commit_all(repo, "fraud-scorer 1.2.0 (broken export)")
        failed = _plan_and_apply(repo, say, traffic=traffic, workdir=workdir, expect_failure=True)
        say(f"   the rollout failed and rolled back by itself: {failed}")
        _watch_steps(repo, server, say, traffic=traffic, workdir=workdir)
        say("== 8. status")
        from specops.apply._status import collect_status, render_status_text

        report = collect_status(Project.discover(repo))
        out.write(render_status_text(report))
        model = next(r for r in report.resources if r.id == "Model/fraud-scorer")
        if model.traffic != {"1.1.0": 100}:
            raise SpecOpsError(f"demo: expected 1.1.0 to serve all traffic after the rollback, got {model.traffic}")
        say("== 9. the evidence: every change sealed on refs/specops/evidence (specops audit, specops history)")
        from specops.evidence import seal
        from specops.evidence._cli import print_evidence

        seal(repo, workdir / "journal.jsonl")  # what watch journaled
        print_evidence(repo, out, "Model/fraud-scorer")
        say("Demo complete: applied, promoted a canary, rolled back a bad version, watched one burn its budget "
            "and rolled it back; stopping the server.")  # fmt: skip
        return 0
    finally:
        code = server.stop()
        # uvicorn re-raises SIGTERM after its graceful shutdown: -15 is a clean stop.
        if not ray and code not in (None, 0, -signal.SIGTERM) and err is not None:
            err.write(f"specops serve exited with {code} (log: {server.log})\n")
        if temp is not None:
            temp.cleanup()


def _watch_steps(repo: Path, server: Any, say: Any, *, traffic: float, workdir: Path) -> None:
    """Steps 5-7: a version that passes its canary and fails real traffic later; watch rolls it back."""
    import time

    from specops.apply._traffic import TrafficGenerator, rows_from_csv
    from specops.watch._cli import render_text
    from specops.watch._loop import WatchOptions, release_leases, watch_once

    say("== 5. commit fraud-scorer 1.3.0, an export that fails on amounts above 999.8 (none in the training data)")
    artifact = (repo / "specs/artifacts/fraud-scorer-1.1.0.onnx").read_bytes()
    set_model_version(repo, "1.3.0", "specs/artifacts/fraud-scorer-1.3.0.onnx", failing_export(artifact, above=999.8))
    commit_all(repo, "fraud-scorer 1.3.0")
    _plan_and_apply(repo, say, traffic=traffic, workdir=workdir)
    say("== 6. traffic shifts: bigger amounts (x4 + 200, at most 999.9) at night (02:00-04:00)")
    rows = rows_from_csv((repo / "specs/data/transactions-2026-10.csv").read_bytes(), _features(repo))
    shifted = [[min(r[0] * 4 + 200, 999.9), *r[1:5], 2.0 + i % 3, *r[6:]] for i, r in enumerate(rows)]
    driver = server.driver()  # specops serve's, or a ray-serve one (demo --ray)
    try:
        with TrafficGenerator(driver, "fraud-scorer", "features", shifted, rate=traffic) as generator:
            deadline = time.monotonic() + 120
            while generator.counts.sent < 800 and time.monotonic() < deadline:
                time.sleep(0.1)
        c = generator.counts
        say(f"   {c.sent} requests: {c.ok} ok, {c.blocked} blocked, {c.failed} failed (the export breaks on the big ones)")
    finally:
        driver.close()
    say("== 7. specops watch --once: burn rates and drift judged on the target's observations")
    options = WatchOptions(repo=repo, journal=workdir / "journal.jsonl", say=lambda line: say(f"   {line}"))
    try:
        report = watch_once(options)
    finally:
        release_leases(options)
    for line in render_text(report).splitlines():
        say(f"   {line}")
    say("   specops slo status:")
    for line in render_text(watch_once(WatchOptions(repo=repo, act=False))).splitlines():
        say(f"   {line}")


def _features(repo: Path) -> list[str]:
    from specops.plan import read_desired

    spec = read_desired(Project.discover(repo, cache=False)).estate.get("Model", "fraud-scorer")
    assert spec is not None
    return list(spec.resource.canonical()["spec"]["signature"]["inputs"][0]["features"])


def _plan_and_apply(
    repo: Path, say: Any, *, traffic: float | None, workdir: Path, expect_failure: bool = False
) -> str:
    from specops.apply._rollout import RolloutFailedError
    from specops.apply._runner import ApplyOptions, apply_plan
    from specops.plan import render_text, run_pipeline
    from specops.policy import PolicyOptions

    project = Project.discover(repo, cache=False, journal=workdir / "journal.jsonl", policy=PolicyOptions())
    made = run_pipeline(project)
    plan = made.plan
    for line in render_text(plan, colour=False).splitlines():
        say(f"   {line}")
    from specops.evidence import seal, stash_plan

    options = ApplyOptions(project, traffic_rate=traffic, say=lambda line: say(f"   {line}"))
    stash_plan(project.journal, plan.to_json())  # the evidence seals the plan's policy decisions with the apply
    try:
        result = apply_plan(plan, options, desired=made.desired)
    except RolloutFailedError as exc:
        if expect_failure:
            return str(exc)
        raise
    finally:
        seal(repo, workdir / "journal.jsonl", say=options.say)
    if expect_failure:
        raise SpecOpsError("demo: the broken version was expected to fail its canary analysis")
    say(f"   {result.message}")
    if result.traffic.sent:
        t = result.traffic
        say(f"   generated traffic: {t.sent} requests, {t.ok} ok, {t.blocked} blocked, {t.failed} failed")
    return result.outcome
