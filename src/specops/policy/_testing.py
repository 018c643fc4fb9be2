"""``specops policy test``: run every ``test_*`` rule of the ``*_test.rego`` files.

A test passes when its rule evaluates to ``true``; ``false``, undefined
(a failed expression) and an engine error are failures. The policies are
loaded with the same checks as for a plan (syntax, METADATA, forbidden and
missing builtins), so a library that passes its tests also loads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree

from specops._rego import RegoEngine, RegoError
from specops.policy._bundle import load_bundle
from specops.policy._engine import load_error, load_modules

__all__ = ["TestCase", "TestRun", "render_junit", "run_tests"]


@dataclass(slots=True)
class TestCase:
    package: str
    name: str
    path: str
    line: int
    status: Literal["pass", "fail", "error"]
    seconds: float
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "name": self.name,
            "path": self.path,
            "line": self.line,
            "status": self.status,
            "seconds": round(self.seconds, 6),
            "message": self.message,
        }


@dataclass(slots=True)
class TestRun:
    cases: list[TestCase]
    seconds: float

    @property
    def failed(self) -> list[TestCase]:
        return [c for c in self.cases if c.status != "pass"]

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": len(self.cases) - len(self.failed),
            "failed": len(self.failed),
            "seconds": round(self.seconds, 6),
            "tests": [c.to_json() for c in self.cases],
        }


def run_tests(paths: list[Path], *, root: Path | None = None, data: dict[str, Any] | None = None) -> TestRun:
    started = time.perf_counter()
    bundle = load_bundle(paths, data=data, root=root, include_tests=True)
    engine = RegoEngine()
    load_modules(engine, bundle, tests=True)
    rules = [f"data.{f.package}.{name}" for f in bundle.test_files for name, _ in f.tests]
    entry = rules + [f"data.{p}.{r}" for p, rs in bundle.outcome_rules.items() for r in rs]
    try:
        engine.check_builtins(entry)
    except RegoError as exc:
        raise load_error(exc, "", "the embedded engine (regorus) lacks this function") from None
    cases: list[TestCase] = []
    for file in bundle.test_files:
        for name, line in file.tests:
            begin = time.perf_counter()
            status: Literal["pass", "fail", "error"]
            message = ""
            try:
                value = engine.eval_bool(f"data.{file.package}.{name}")
                status = "pass" if value is True else "fail"
                if value is None:
                    message = "undefined (an expression in the test was false)"
                elif value is False:
                    message = "evaluated to false"
            except RegoError as exc:
                status, message = "error", str(exc)
            cases.append(TestCase(file.package, name, file.path, line, status, time.perf_counter() - begin, message))
    return TestRun(cases, time.perf_counter() - started)


def render_text(run: TestRun) -> str:
    lines = []
    for case in run.cases:
        mark = "PASS" if case.status == "pass" else case.status.upper()
        lines.append(f"{mark} {case.package}.{case.name} ({case.seconds * 1000:.2f} ms) {case.path}:{case.line}")
        if case.message:
            lines.append(f"     {case.message}")
    failed = len(run.failed)
    lines.append(
        f"{len(run.cases) - failed} passed, {failed} failed, {len(run.cases)} tests in {run.seconds:.3f}s"
    )
    return "\n".join(lines) + "\n"


def render_junit(run: TestRun) -> str:
    suites = ElementTree.Element(
        "testsuites", tests=str(len(run.cases)), failures=str(len(run.failed)), time=f"{run.seconds:.6f}"
    )
    by_package: dict[str, list[TestCase]] = {}
    for case in run.cases:
        by_package.setdefault(case.package, []).append(case)
    for package, cases in by_package.items():
        failures = [c for c in cases if c.status == "fail"]
        errors = [c for c in cases if c.status == "error"]
        suite = ElementTree.SubElement(
            suites, "testsuite", name=package, tests=str(len(cases)), failures=str(len(failures)),
            errors=str(len(errors)), time=f"{sum(c.seconds for c in cases):.6f}",
        )
        for case in cases:
            element = ElementTree.SubElement(
                suite, "testcase", classname=package, name=case.name, file=case.path,
                line=str(case.line), time=f"{case.seconds:.6f}",
            )
            if case.status != "pass":
                ElementTree.SubElement(element, "failure" if case.status == "fail" else "error",
                                       message=case.message)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"
