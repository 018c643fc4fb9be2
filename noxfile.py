"""Sessions: tests (compiled core, then its pure-Python twin), lint, typecheck, bench, build."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite against the compiled core, then against the pure-Python twin."""
    # The ray extra brings a local Ray for the ray-serve tests; they run in the first pass only.
    session.install(".[test,ray]")
    args = session.posargs or ["-q"]
    session.run("pytest", *args)
    session.run("pytest", *args, env={"SPECOPS_PURE_PYTHON": "1"})


@nox.session
def lint(session: nox.Session) -> None:
    """Lint and check formatting with ruff."""
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "bench", "scripts", "noxfile.py", "setup.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the package with mypy (strict)."""
    session.install(".", "mypy")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks in bench/ and print their figures."""
    session.install(".[test,bench]")
    session.run("python", "bench/run.py", *session.posargs)


@nox.session
def build(session: nox.Session) -> None:
    """Build the sdist and wheel (the wheel carries the compiled core)."""
    session.install("build")
    session.run("python", "-m", "build", "--outdir", "dist")
