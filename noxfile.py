"""Sessions: tests (compiled core, then its pure-Python twin), lint, typecheck, bench, build."""

from __future__ import annotations

import os
import shutil
import subprocess

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


# The tests run the real tools: promtool checks and tests the generated
# Prometheus rules, Alertmanager receives the watch loop's alerts, zsh runs the
# generated completion script. Debian package -> the command it provides.
TEST_TOOLS = {"prometheus": "promtool", "prometheus-alertmanager": "prometheus-alertmanager", "zsh": "zsh"}
# The serving benchmark loads both servers with wrk (a C client), as issue 15's table was measured.
BENCH_TOOLS = {"wrk": "wrk"}


def ensure_tools(session: nox.Session, tools: dict[str, str] = TEST_TOOLS, what: str = "the tests") -> None:
    """Install the Debian packages ``what`` needs with apt-get when their commands are missing.

    Stops the session with a message naming the packages where they cannot be
    installed (no apt-get, neither root nor sudo, or apt-get failed): the tests
    would fail without them, and no test is skipped for a missing tool.
    """
    missing = sorted(pkg for pkg, command in tools.items() if shutil.which(command) is None)
    if not missing:
        return
    names = " ".join(missing)
    hint = f"install them (`apt-get install -y --no-install-recommends {names}`) and run again"
    if shutil.which("apt-get") is None:
        session.error(f"{what} need the Debian packages {names}, and there is no apt-get here: {hint}")
    if os.geteuid() == 0:
        prefix: list[str] = []
    elif shutil.which("sudo") is not None and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        prefix = ["sudo", "-n"]
    else:
        session.error(f"{what} need the Debian packages {names}; not root and no password-less sudo: {hint}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    session.log(f"installing {names} with apt-get ({what} run {', '.join(tools.values())})")
    if subprocess.run(install, env=env).returncode != 0:
        # A fresh image often has no package lists yet: fetch them once and retry.
        update = [*prefix, "apt-get", "update", "-q"]
        if subprocess.run(update, env=env).returncode != 0 or subprocess.run(install, env=env).returncode != 0:
            session.error(f"apt-get could not install {names}, which {what} need: {hint}")
    still = sorted(pkg for pkg in missing if shutil.which(tools[pkg]) is None)
    if still:
        session.error(f"apt-get ran but {', '.join(tools[p] for p in still)} is still not on PATH: {hint}")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite against the compiled core, then against the pure-Python twin."""
    ensure_tools(session)
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
    ensure_tools(session, BENCH_TOOLS, "the benchmarks")
    session.install(".[test,bench]")
    session.run("python", "bench/run.py", *session.posargs)


@nox.session
def build(session: nox.Session) -> None:
    """Build the sdist and wheel (the wheel carries the compiled core)."""
    session.install("build")
    session.run("python", "-m", "build", "--outdir", "dist")
