"""``specops serve``: the parser registration and the command (heavy imports stay inside it)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, TextIO

from specops._help import HelpFormatter

__all__ = ["add_serve_parser", "cmd_serve"]


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``serve`` on the ``specops`` sub-parsers; returns the new parser."""
    serve = subparsers.add_parser(
        "serve",
        help="run the ONNX serving target (Open Inference Protocol v2 + admin API)",
        description="Run a serving target on ONNX Runtime: Open Inference Protocol v2 (REST, with the "
        "repository extension), the admin API SpecOps plans and applies through (docs/admin-api.md: "
        "live state, revisions, leases), guardrails, prompts and /metrics (Prometheus or OpenMetrics). "
        "State survives restarts. Model loads, traffic changes and rollbacks are logged at info level; "
        "--access-log adds a line per request.",
        epilog="""\
examples:
  export SPECOPS_LOCAL_TOKEN=$(openssl rand -hex 24)
  specops serve --state-dir .serve --token-env SPECOPS_LOCAL_TOKEN
  specops serve --state-dir /var/lib/specops --host 0.0.0.0 --port 8480 --name gpu-east \\
      --token-env SPECOPS_ADMIN_TOKEN --inference-token-env SPECOPS_INFER_TOKEN
""",
        formatter_class=HelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8480, help="port (default: 8480)")
    serve.add_argument("--state-dir", required=True, metavar="DIR", help="where applied specs, artifacts and traffic are kept")
    serve.add_argument("--name", help="the Target's metadata.name (default: the one in --state-dir, else 'local')")
    serve.add_argument(
        "--token-env", default="SPECOPS_TOKEN", help="environment variable holding the admin bearer token"
    )
    serve.add_argument(
        "--inference-token-env", help="environment variable holding a bearer token inference must carry"
    )
    serve.add_argument(
        "--insecure-local", action="store_true", help="allow the admin API without a token (loopback only)"
    )
    serve.add_argument("--max-body-mb", type=float, default=64, help="largest request body (default: 64)")
    serve.add_argument("--max-artifact-mb", type=float, default=2048, help="largest artifact upload (default: 2048)")
    serve.add_argument("--threads", type=int, default=4, help="inference worker threads (default: 4)")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(func=cmd_serve)
    return serve  # type: ignore[no-any-return]


def _stored_name(state_dir: Path) -> str | None:
    from specops.serve._state import StateStore

    data = StateStore(state_dir).load()
    return str(data["target"]) if data else None


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    import logging

    from specops._errors import SpecOpsError
    from specops.serve._config import ServeConfig
    from specops.serve._server import serve_forever

    state_dir = Path(args.state_dir)
    name = args.name or _stored_name(state_dir) or "local"
    inference_token = None
    if args.inference_token_env:
        inference_token = os.environ.get(args.inference_token_env) or None
        if inference_token is None:
            raise SpecOpsError(f"--inference-token-env names {args.inference_token_env}, which is not set")
    if args.threads < 1:
        raise SpecOpsError("--threads must be at least 1")
    config = ServeConfig(
        state_dir=state_dir,
        name=name,
        host=args.host,
        port=args.port,
        admin_token=os.environ.get(args.token_env) or None,
        inference_token=inference_token,
        insecure_local=args.insecure_local,
        max_body_bytes=int(args.max_body_mb * (1 << 20)),
        max_artifact_bytes=int(args.max_artifact_mb * (1 << 20)),
        threads=args.threads,
        access_log=args.access_log,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out.write(f"specops serve: target {name} on http://{args.host}:{args.port} (state in {state_dir})\n")
    out.flush()
    serve_forever(config)
    return 0
