"""A fleet of targets: a plan against 200 targets that each take 50 ms to answer (issue 15).

The targets are one asyncio process on loopback (``bench/_fleet_server.py``),
each answering its live state after the delay. The baseline, in the same run,
is the same plan read from a snapshot of the same live state (no network: the
planning itself) plus one target's delay: the floor when every target is read
at once. Not a test: nothing here asserts a time.
Run: ``python bench/bench_fleet.py [--targets=200] [--delay-ms=50]``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pygit2

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import report

HERE = Path(__file__).resolve().parent
AUTHOR = pygit2.Signature("SpecOps Bench", "bench@specops.invalid", 1_700_000_000, 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fleet_repo(path: Path, targets: int, port: int) -> None:
    """A repository whose specs declare ``targets`` Targets, each at its own path of the fleet server."""
    git = pygit2.init_repository(str(path), bare=False)
    tree = git.TreeBuilder()
    specs = git.TreeBuilder()
    for i in range(targets):
        text = (
            f"apiVersion: specops.dev/v1\nkind: Target\nmetadata: {{name: t{i}}}\n"
            f"spec: {{url: \"http://127.0.0.1:{port}/t{i}\", environment: staging}}\n"
        )
        specs.insert(f"t{i}.yaml", git.create_blob(text.encode()), pygit2.GIT_FILEMODE_BLOB)
    tree.insert("specs", specs.write(), pygit2.GIT_FILEMODE_TREE)
    git.create_commit("HEAD", AUTHOR, AUTHOR, "fleet", tree.write(), [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args, _ = parser.parse_known_args(argv)
    rounds = 1 if args.quick else args.rounds
    from specops.plan import make_plan

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, str(HERE / "_fleet_server.py"), str(port), str(args.delay_ms)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp) / "repo"
            os.environ["SPECOPS_CACHE_DIR"] = str(Path(tmp) / "cache")
            fleet_repo(repo, args.targets, port)
            snapshot = Path(tmp) / "live.json"
            snapshot.write_text(json.dumps({"format_version": 1, "targets": [
                {"format_version": 1, "target": f"t{i}", "revision": "1", "resources": {}}
                for i in range(args.targets)
            ]}))
            make_plan(repo, live=snapshot)  # warm the parse cache: both sides plan warm
            fleet, offline = [], []
            for _ in range(rounds):
                start = time.perf_counter()
                plan = make_plan(repo)
                fleet.append(time.perf_counter() - start)
                start = time.perf_counter()
                baseline = make_plan(repo, live=snapshot)
                offline.append(time.perf_counter() - start)
                assert plan.summary == baseline.summary, (plan.summary, baseline.summary)
    finally:
        server.terminate()
        server.wait(timeout=30)
    delay = args.delay_ms / 1000
    report(
        f"plan against {args.targets} targets, each answering in {args.delay_ms:g} ms",
        statistics.median(fleet), "s", f"the same plan from a snapshot + {args.delay_ms:g} ms",
        statistics.median(offline) + delay, "0.5 s",
    )
    print(f"  read one after another, the reads alone would take {args.targets * delay:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
