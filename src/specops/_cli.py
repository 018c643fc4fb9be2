"""The ``specops`` command line: one small function per subcommand.

Exit codes mean one thing each (the README has the table):

- 0: success (no changes, with ``--detailed-exitcode``)
- 1: an expected failure: invalid input, a usage error, a policy denial, a
  refused plan, an unreachable target (``SpecOpsError``: one-line message)
- 2: success with changes (``--detailed-exitcode``, as Terraform)
- 3: an internal bug: the traceback goes to a log file and the message says where
- 130: interrupted
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from specops import _progress as progress
from specops._errors import SpecError, SpecOpsError
from specops._help import HelpFormatter
from specops._version import __version__

__all__ = ["main"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_BUG = 3


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on exit 1: exit 2 means "changes present" (``--detailed-exitcode``)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def _dump_json(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


# -- validate ---------------------------------------------------------------


def _resource_row(spec: Any) -> dict[str, Any]:
    resource = spec.resource
    return {
        "id": resource.id,
        "kind": resource.KIND,
        "name": resource.name,
        "version": getattr(resource.spec, "version", None),
        "path": spec.path,
        "line": spec.line,
        "hash": spec.hash,
    }


def cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    from specops.spec import load_estate

    paths = [Path(p) for p in args.paths] or [Path("specs")]
    root = Path(args.root) if args.root else None
    try:
        estate = load_estate(paths, root=root, verify_artifacts=args.verify_artifacts)
    except SpecError as exc:
        errors = exc.errors
        warnings = [d for d in exc.diagnostics if d.severity == "warning"]
        if args.format == "json":
            _dump_json(
                {
                    "valid": False,
                    "errors": [d.to_json() for d in errors],
                    "warnings": [d.to_json() for d in warnings],
                },
                out,
            )
        else:
            for diagnostic in exc.diagnostics:
                out.write(diagnostic.format() + "\n")
            files = len({d.path for d in errors})
            out.write(
                f"Found {len(errors)} error{'s' if len(errors) != 1 else ''} in {files} "
                f"file{'s' if files != 1 else ''}.\n"
            )
        return EXIT_ERROR
    rows = [_resource_row(s) for s in estate]
    if args.format == "json":
        _dump_json(
            {
                "valid": True,
                "errors": [],
                "warnings": [d.to_json() for d in estate.warnings],
                "resources": rows,
            },
            out,
        )
        return EXIT_OK
    for diagnostic in estate.warnings:
        out.write(diagnostic.format() + "\n")
    _write_inventory(rows, out)
    out.write(
        f"Valid: {len(rows)} resource{'s' if len(rows) != 1 else ''} in {len(estate.files)} "
        f"file{'s' if len(estate.files) != 1 else ''}.\n"
    )
    return EXIT_OK


def _write_inventory(rows: list[dict[str, Any]], out: TextIO) -> None:
    if not rows:
        return
    table = [("KIND", "NAME", "VERSION", "SOURCE", "HASH")] + [
        (r["kind"], r["name"], r["version"] or "-", f"{r['path']}:{r['line']}", r["hash"][:12])
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            + "\n"
        )


# -- schema -----------------------------------------------------------------


def cmd_schema(args: argparse.Namespace, out: TextIO) -> int:
    from specops.spec import KINDS, json_schema

    if args.kind is not None and args.kind not in KINDS:
        from specops.spec._errors_map import suggest

        hint = suggest(args.kind, KINDS) or f"known kinds: {', '.join(KINDS)}"
        raise SpecOpsError(f"unknown kind {args.kind!r} ({hint})")
    if args.out:
        directory = Path(args.out)
        directory.mkdir(parents=True, exist_ok=True)
        kinds = [args.kind] if args.kind else list(KINDS)
        for kind in kinds:
            (directory / f"{kind.lower()}.json").write_text(
                json.dumps(json_schema(kind), indent=2) + "\n", encoding="utf-8"
            )
        if not args.kind:
            (directory / "all.json").write_text(
                json.dumps(json_schema(), indent=2) + "\n", encoding="utf-8"
            )
        out.write(f"Wrote {len(kinds) + (0 if args.kind else 1)} schema(s) to {directory}\n")
        return EXIT_OK
    _dump_json(json_schema(args.kind), out)
    return EXIT_OK


# -- doctor -----------------------------------------------------------------


def cmd_doctor(args: argparse.Namespace, out: TextIO) -> int:
    from specops._doctor import diagnose

    report = diagnose()
    if args.format == "json":
        _dump_json(report, out)
    else:
        core = report["core"]
        ort = report["onnxruntime"]
        rego = report["rego"]
        out.write(
            f"specops      {report['specops']} (Python {report['python']}, {report['platform']})\n"
        )
        out.write(
            f"core         {'compiled' if core['compiled'] else 'pure Python'}"
            f"{'' if core['compiled'] else ' - ' + str(core['load_error'])}\n"
        )
        out.write(
            f"yaml         ruamel.yaml {report['yaml']['ruamel.yaml']}, C parser: {report['yaml']['c_parser']}\n"
        )
        if "version" in ort:
            got = ort["session_probe"].get("providers") or ort["session_probe"].get("error")
            out.write(
                f"onnxruntime  {ort['version']}; usable providers: {', '.join(ort['usable_providers'])}; "
                f"session got: {got}; CUDA devices: {ort['cuda_devices']}\n"
            )
        else:
            out.write(f"onnxruntime  {ort.get('error')}\n")
        out.write(
            f"rego         {rego['engine']} {rego.get('version', '')} ({'ok' if rego['ok'] else rego['error']})\n"
        )
        out.write(
            f"git          pygit2 {report['git'].get('pygit2')}, libgit2 {report['git'].get('libgit2')}\n"
        )
        ray = report["ray"]
        missing = "not installed (for `specops demo --ray`: pip install 'specops[ray]')"
        out.write(f"ray          {ray['version'] if ray['installed'] else missing}\n")
        for problem in report["problems"]:
            out.write(f"problem: {problem}\n")
    return EXIT_OK if report["ok"] else EXIT_ERROR


# -- plumbing ---------------------------------------------------------------

# Subcommands that live with their subsystem: "module:function", where the
# function takes the sub-parsers and registers its command (one line each).
_REGISTRARS = [
    "specops.plan._cli:add_plan_parser",
    "specops.plan._cli:add_show_parser",
    "specops.policy._cli:add_policy_parser",
    "specops.serve._cli:add_serve_parser",
    "specops.apply._cli:add_apply_parsers",
    "specops.init._cli:add_init_parser",
    "specops._completion:add_completion_parser",
    "specops.watch._cli:add_watch_parsers",
    "specops.watch._rules_cli:add_slo_rules_parser",
    "specops.spec._profile_cli:add_dataset_parser",
    "specops.evidence._cli:add_audit_parsers",
]


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="specops",
        description="GitOps and policy-as-code for AI operations: models, datasets, prompts, guardrails "
        "and SLOs as specs in git, planned against what the targets run, judged by Rego policies, "
        "rolled out with canaries. `specops COMMAND --help` describes each command.",
        epilog="""\
examples:
  specops init my-estate                           a new repository
  specops validate && specops policy test
  specops plan --out plan.json && specops apply plan.json
  specops status
  source <(specops completion bash)                complete commands and options
""",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"specops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    validate = sub.add_parser(
        "validate",
        help="validate spec files and print the inventory",
        description="Load every .yaml/.yml spec under the paths, check each one and the references "
        "between them, and print the inventory. Errors read path:line:col: error: field: message (hint). "
        "Exit 0 when valid, 1 when not.",
        epilog="""\
examples:
  specops validate                           everything under specs/
  specops validate specs/models/ --verify-artifacts
  specops validate --format json | jq '.errors'
""",
        formatter_class=HelpFormatter,
    )
    validate.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or directories (default: specs)"
    )
    validate.add_argument(
        "--format", choices=("text", "json"), default="text", help="text (default) or json (errors, warnings, resources)"
    )
    validate.add_argument(
        "--root", help="repository root for relative artifact paths (default: nearest .git)"
    )
    validate.add_argument(
        "--verify-artifacts",
        action="store_true",
        help="also check the sha256 of local artifact files",
    )
    validate.set_defaults(func=cmd_validate)

    schema = sub.add_parser(
        "schema",
        help="print the JSON Schema of a kind (or of every kind)",
        description="Print the JSON Schema of a spec kind, or of every kind, as editors and "
        "yaml-language-server modelines use them.",
        epilog="""\
examples:
  specops schema Model
  specops schema --out schemas               one <kind>.json per kind, and all.json
""",
        formatter_class=HelpFormatter,
    )
    schema.add_argument("kind", nargs="?", help="Target, Model, Dataset, Prompt, Guardrail or SLO")
    schema.add_argument("--out", metavar="DIR", help="write <kind>.json files to this directory instead")
    schema.set_defaults(func=cmd_schema)

    doctor = sub.add_parser(
        "doctor",
        help="report what this installation really has",
        description="Report what this installation really has: the version, whether the compiled core "
        "is active, ONNX Runtime and the execution providers that really load here, the Rego engine, "
        "git. Exit 1 when something is missing.",
        epilog="examples:\n  specops doctor\n  specops doctor --format json\n",
        formatter_class=HelpFormatter,
    )
    doctor.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    doctor.set_defaults(func=cmd_doctor)

    for registrar in _REGISTRARS:
        module, _, function = registrar.partition(":")
        getattr(importlib.import_module(module), function)(sub)
    return parser


def _log_unexpected() -> str:
    from specops._project import default_log_dir

    directory = default_log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "specops.log"
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"--- specops {__version__}: {' '.join(sys.argv)}\n")
        handle.write(traceback.format_exc())
    return str(log)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    out = sys.stdout
    progress.enable(sys.stderr)  # only where stderr is a terminal
    try:
        return int(args.func(args, out))
    except SpecError as exc:
        for diagnostic in exc.diagnostics:
            sys.stderr.write(diagnostic.format() + "\n")
        return EXIT_ERROR
    except SpecOpsError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:
        log = _log_unexpected()
        sys.stderr.write(
            f"error: unexpected {type(exc).__name__}: {exc} (this is a bug; details in {log})\n"
        )
        return EXIT_BUG
