"""Planner benchmark: cold and warm plans of generated estates, and the compiled core vs its twin.

For each size (default 1,000, 10,000 and 100,000 spec files) a repository is
generated straight into git objects (blobs and trees via pygit2, no index,
no work tree files), then, each size in a fresh subprocess so peak memory
is its own:

* cold plan: empty parse cache, every file parsed;
* warm plan after a commit that changes 1% of the files (parses those only);
* planner core alone (classify + levels + field diffs of the changed), compiled
  vs pure Python, on the same estate.

The cold plan runs against an empty live state (everything is created); the
warm plan against the snapshot a target would report after applying the
first commit, so it has 1% updates. Run: ``python bench/bench_plan.py
[--sizes=1000,10000]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import pygit2

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import report

AUTHOR = pygit2.Signature("SpecOps Bench", "bench@specops.invalid", 1_700_000_000, 0)
PER_DIR = 1000

TARGET = """apiVersion: specops.dev/v1
kind: Target
metadata: {{name: t{i}}}
spec: {{url: "http://10.0.{a}.{b}:8480", environment: production}}
"""
MODEL = """apiVersion: specops.dev/v1
kind: Model
metadata: {{name: m{i}, labels: {{team: t{team}}}}}
spec:
  version: 1.0.{rev}
  artifact: {{uri: "s3://models/m{i}.onnx", sha256: "{sha}"}}
  signature:
    inputs: [{{name: x, dtype: float32, shape: [-1, 4]}}]
    outputs: [{{name: y, dtype: float32, shape: [-1, 2]}}]
  runtime: {{intraOpThreads: {threads}}}
  targets: [t{target}]
"""
PROMPT = """apiVersion: specops.dev/v1
kind: Prompt
metadata: {{name: p{i}}}
spec:
  version: 1.0.{rev}
  model: m{model}
  template: "Summarise {{{{ item }}}} in {rev} sentences."
  variables: [{{name: item}}]
"""


def spec_file(i: int, n: int, rev: int) -> tuple[str, bytes]:
    """File ``i`` of an estate of ``n``: 1% targets, ~50% models, the rest prompts."""
    targets = max(1, n // 100)
    if i < targets:
        return f"targets/{i // PER_DIR}", TARGET.format(i=i, a=i // 250, b=i % 250).encode()
    models = (n - targets) // 2
    if i < targets + models:
        m = i - targets
        text = MODEL.format(i=m, team=m % 7, rev=rev, sha=f"{m:064x}", threads=1 + rev, target=m % targets)
        return f"models/{m // PER_DIR}", text.encode()
    p = i - targets - models
    return f"prompts/{p // PER_DIR}", PROMPT.format(i=p, rev=rev, model=p % max(models, 1)).encode()


def build_commit(git: pygit2.Repository, files: dict[str, dict[str, pygit2.Oid]], message: str) -> str:
    """Trees straight from blob ids: specs/<kind>/<shard>/<name>.yaml."""
    kinds: dict[str, dict[str, pygit2.Oid]] = {}
    for directory, entries in files.items():
        kind, shard = directory.split("/")
        builder = git.TreeBuilder()
        for name, oid in entries.items():
            builder.insert(name, oid, pygit2.GIT_FILEMODE_BLOB)
        kinds.setdefault(kind, {})[shard] = builder.write()
    specs = git.TreeBuilder()
    for kind, shards in kinds.items():
        builder = git.TreeBuilder()
        for shard, oid in shards.items():
            builder.insert(shard, oid, pygit2.GIT_FILEMODE_TREE)
        specs.insert(kind, builder.write(), pygit2.GIT_FILEMODE_TREE)
    root = git.TreeBuilder()
    root.insert("specs", specs.write(), pygit2.GIT_FILEMODE_TREE)
    parents = [] if git.head_is_unborn else [git.head.target]
    return str(git.create_commit("HEAD", AUTHOR, AUTHOR, message, root.write(), parents))


def generate(path: Path, n: int) -> tuple[pygit2.Repository, dict[str, dict[str, pygit2.Oid]]]:
    git = pygit2.init_repository(str(path), bare=False, initial_head="main")
    files: dict[str, dict[str, pygit2.Oid]] = {}
    for i in range(n):
        directory, data = spec_file(i, n, 0)
        files.setdefault(directory, {})[f"s{i}.yaml"] = git.create_blob(data)
    build_commit(git, files, "estate")
    return git, files


def one_percent(git: pygit2.Repository, files: dict[str, dict[str, pygit2.Oid]], n: int) -> None:
    targets = max(1, n // 100)
    step = 100
    for i in range(targets, n, step):  # models and prompts: in-place updates
        directory, data = spec_file(i, n, 1)
        files[directory][f"s{i}.yaml"] = git.create_blob(data)
    build_commit(git, files, "change 1%")


def live_snapshot(repo: Path, out: Path) -> None:
    from specops.plan import load_desired_state

    desired = load_desired_state(repo)  # warm: the cold plan filled the cache
    resources = {s.id: {"hash": s.hash, "spec": s.resource.canonical()} for s in desired.estate}
    doc = {"format_version": 1, "targets": [
        {"format_version": 1, "target": "t0", "revision": "1", "resources": resources}
    ]}
    out.write_bytes(orjson.dumps(doc))


def core_timing(repo: Path, live: Path) -> dict[str, float]:
    """The planner core alone, each implementation, on the estate's real hash maps and graph."""
    from specops import _plan_py
    from specops.plan import load_desired_state, read_snapshot
    from specops.plan._planner import nodes_from_estate

    try:
        from specops import _plan_c
    except ImportError:
        _plan_c = None  # type: ignore[assignment]
    nodes = nodes_from_estate(load_desired_state(repo).estate)
    running = read_snapshot(live).merged()
    desired = {rid: node.hash for rid, node in nodes.items()}
    live_hashes = {rid: r.running_hash for rid, r in running.items()}
    recorded = {rid: r.hash for rid, r in running.items()}
    ids = list(nodes)
    deps = {rid: node.deps for rid, node in nodes.items()}
    changed_docs = [(running[rid].spec, nodes[rid].document()) for rid in ids
                    if rid in running and running[rid].running_hash != nodes[rid].hash]
    everything = set(ids)
    out: dict[str, float] = {}
    for impl in filter(None, (_plan_py, _plan_c)):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            impl.classify(desired, live_hashes, recorded, None)
            impl.levels(ids, deps, everything)
            for before, after in changed_docs:
                impl.field_diff(before, after)
            best = min(best, time.perf_counter() - start)
        out[impl.IMPLEMENTATION] = best
    return out


def git_floor(git: pygit2.Repository) -> dict[str, float]:
    """What git itself needs, best of 3: walk HEAD's tree (every entry), diff HEAD~1..HEAD,
    and walk plus read every blob (what a cold plan must at least do)."""

    def walk(tree: pygit2.Tree, read: bool) -> int:
        count = 0
        for entry in tree:
            if entry.type_str == "tree":
                count += walk(git[entry.id], read)  # type: ignore[arg-type]
            else:
                if read:
                    git[entry.id].data  # noqa: B018 - the read is the point
                count += 1
        return count

    def best(fn: Any) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    head = git.head.peel(pygit2.Commit)
    parent = head.parents[0]
    return {
        "tree_walk_s": best(lambda: walk(head.tree, False)),
        "tree_diff_s": best(lambda: len(git.diff(parent.tree, head.tree))),
        "read_all_s": best(lambda: walk(head.tree, True)),
    }


def _peak_mib() -> float:
    """This process's peak resident memory. Linux keeps ``ru_maxrss`` across exec, so a size run
    from a big parent (``bench/run.py`` after other benchmarks) would start at the parent's peak;
    ``VmHWM`` belongs to this process image alone."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS


def one_size(n: int) -> dict[str, Any]:
    from specops.plan import make_plan

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        os.environ["SPECOPS_CACHE_DIR"] = str(Path(tmp) / "cache")
        start = time.perf_counter()
        git, files = generate(repo, n)
        generated = time.perf_counter() - start
        base_mib = _peak_mib()
        empty = Path(tmp) / "empty.json"
        empty.write_text('{"format_version": 1, "targets": []}')
        start = time.perf_counter()
        cold = make_plan(repo, live=empty)
        cold_s = time.perf_counter() - start
        assert cold.summary.create == n, cold.summary
        cold_peak = _peak_mib()
        del cold  # a plan of n creates: the warm plan below would otherwise run beside it
        gc.collect()
        live = Path(tmp) / "live.json"
        # In a child process: reading every resource back is the bench's doing, not the planner's,
        # and must not count in this process's peak memory.
        subprocess.run([sys.executable, __file__, f"--snapshot={repo}", f"--out={live}"], check=True)
        one_percent(git, files, n)
        start, cpu = time.perf_counter(), time.process_time()
        warm = make_plan(repo, live=live)
        warm_s, warm_cpu = time.perf_counter() - start, time.process_time() - cpu
        updates = warm.summary.update
        del warm
        repeats = []
        for _ in range(3):  # the same plan again: nothing to parse, every check memoised
            start, cpu = time.perf_counter(), time.process_time()
            make_plan(repo, live=live)
            repeats.append((time.perf_counter() - start, time.process_time() - cpu))
        repeat_s, repeat_cpu = min(repeats)
        floor = git_floor(git)
        core = core_timing(repo, live)
    peak = _peak_mib()
    return {
        "size": n,
        "generate_s": generated,
        "cold_s": cold_s,
        "warm_s": warm_s,
        "warm_updates": updates,
        "warm_repeat_s": repeat_s,
        "warm_cpu_s": warm_cpu,
        "warm_repeat_cpu_s": repeat_cpu,
        "core_python_s": core.get("python"),
        "core_cython_s": core.get("cython"),
        "peak_mib": peak,
        "cold_peak_mib": cold_peak,
        "base_mib": base_mib,
        **floor,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated estate sizes")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--snapshot", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()
    if args.snapshot:
        live_snapshot(Path(args.snapshot), Path(args.out))
        return 0
    if args.one:
        print(json.dumps(one_size(args.one)))
        return 0
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        result = subprocess.run(
            [sys.executable, __file__, f"--one={size}"], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            return 1
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    header = f"{'specs':>8} {'cold s':>8} {'warm s':>7} {'cold/warm':>9} {'core py s':>9} {'core c s':>9} {'py/c':>6} {'peak MiB':>8}"
    print(header)
    for r in rows:
        py, c = r["core_python_s"], r["core_cython_s"]
        ratio = f"{py / c:6.1f}" if py and c else "   n/a"
        print(
            f"{r['size']:>8} {r['cold_s']:>8.2f} {r['warm_s']:>7.3f} {r['cold_s'] / r['warm_s']:>9.1f} "
            f"{py or 0:>9.3f} {c or 0:>9.4f} {ratio} {r['peak_mib']:>8.0f}"
        )
    print("warm = re-plan after a commit changing 1% of files; core = classify + levels + field diffs")
    for r in rows:  # CPU time: what a plan costs on a machine shared with other work
        print(f"{r['size']:>8} warm plan CPU {r['warm_cpu_s']:.3f} s, repeated (best of 3) "
              f"{r['warm_repeat_s']:.3f} s wall, {r['warm_repeat_cpu_s']:.3f} s CPU")
    aims = {10_000: ("0.25 s", "4 s"), 100_000: ("2 s", "")}
    for r in rows:
        n = r["size"]
        warm_aim, cold_aim = aims.get(n, ("", ""))
        report(f"warm plan, {n:,} specs, 1% changed", r["warm_s"], "s", "tree walk of the same commit",
               r["tree_walk_s"], warm_aim)
        report(f"  (the same warm plan repeated, {n:,} specs)", r["warm_repeat_s"], "s", "tree walk",
               r["tree_walk_s"])
        report(f"  (the tree diff of that commit, {n:,} specs)", r["tree_diff_s"], "s", "tree walk",
               r["tree_walk_s"])
        report(f"cold plan, {n:,} specs", r["cold_s"], "s", "walking and reading every blob", r["read_all_s"],
               cold_aim)
        if r["core_python_s"] and r["core_cython_s"]:
            report(f"planner core, pure-Python twin against compiled, {n:,}", r["core_python_s"], "s",
                   "compiled core", r["core_cython_s"], "10x" if n == 100_000 else "")
        report(f"peak memory, {n:,} specs", r["peak_mib"], "MiB", "the process after generating the repo",
               r["base_mib"], "1 GiB" if n == 100_000 else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
