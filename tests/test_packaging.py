"""The wheel ``nox -s build`` makes: it carries the compiled core, the built-in policy library and the
workflow templates, and the install line of the workflows ``specops init`` writes installs it.

Building takes a while (sdist, then the wheel from it, each in an isolated
environment, as ``python -m build`` does), so the wheel is built once and
kept in pytest's cache under a hash of the sources: the second pass of
``nox -s tests`` reuses it. The fresh virtual environment gets SpecOps from
the wheel and nothing else (``--no-deps --no-index``); its dependencies are
borrowed from this environment through a ``.pth`` file instead of being
downloaded again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pygit2
import pytest
from ruamel.yaml import YAML

from specops._version import __version__
from specops.init import init_project

REPO_ROOT = Path(__file__).resolve().parent.parent


def _sources() -> list[str]:
    """What a clean clone of this checkout holds: tracked files and untracked ones git does not ignore."""
    repo = pygit2.Repository(str(REPO_ROOT))
    tracked = {entry.path for entry in repo.index}
    untracked = {path for path, flags in repo.status().items() if flags & pygit2.GIT_STATUS_WT_NEW}
    return sorted(p for p in tracked | untracked if (REPO_ROOT / p).is_file())


@pytest.fixture(scope="module")
def wheel(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    sources = _sources()
    digest = hashlib.sha256()
    for relative in sources:
        digest.update(relative.encode() + b"\0" + (REPO_ROOT / relative).read_bytes() + b"\0")
    key = digest.hexdigest()[:16]
    cache = Path(request.config.cache.mkdir("specops-wheel"))
    out = cache / key
    built = sorted(out.glob("specops-*.whl")) if out.is_dir() else []
    if built:
        return built[0]
    for stale in cache.iterdir():
        shutil.rmtree(stale, ignore_errors=True)
    checkout = tmp_path_factory.mktemp("checkout")
    for relative in sources:
        (checkout / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / relative, checkout / relative)
    staging = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(staging), str(checkout)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = staging.glob("specops-*.whl")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(wheel, out / wheel.name)
    return out / wheel.name


def test_the_wheel_carries_the_core_the_policy_library_and_the_workflows(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        bundled = {n: archive.read(n) for n in names if n.startswith("specops/_data/")}
    assert any(n.startswith("specops/_core_c.") and n.endswith((".so", ".pyd")) for n in names), "compiled core"
    assert any(n.startswith("specops/_yaml_c.") and n.endswith((".so", ".pyd")) for n in names), "YAML walker"
    library = {
        f"specops/_data/policies/{p.relative_to(REPO_ROOT / 'policies').as_posix()}": p.read_bytes()
        for p in sorted((REPO_ROOT / "policies").rglob("*.rego"))
    }
    workflows = {
        f"specops/_data/workflows/{name}": (REPO_ROOT / ".github/workflows" / name).read_bytes()
        for name in ("specops-plan.yml", "specops-apply.yml")
    }
    assert len(library) > 10
    assert bundled == {**library, **workflows}


def test_the_generated_install_line_installs_the_wheel(wheel: Path, tmp_path: Path) -> None:
    project = tmp_path / "estate"
    init_project(project, f"specops=={__version__}")
    workflow = YAML(typ="safe").load((project / ".github/workflows/specops-apply.yml").read_text())
    (install,) = [s["run"] for j in workflow["jobs"].values() for s in j["steps"] if s.get("name") == "install specops"]

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # This environment's packages (not its editable SpecOps: a .pth line adds a directory, not its .pth files).
    (Path(purelib) / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {
        **os.environ,
        "PATH": str(bindir) + os.pathsep + os.environ["PATH"],
        "PIP_FIND_LINKS": str(wheel.parent),
        "PIP_NO_INDEX": "1",
        "PIP_NO_DEPS": "1",
        "PIP_IGNORE_INSTALLED": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.pop("SPECOPS_PURE_PYTHON", None)
    result = subprocess.run(["bash", "-eo", "pipefail", "-c", install], cwd=project, env=env,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert wheel.name in result.stdout

    def specops(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(bindir / "specops"), *args], cwd=project, env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip

    where = subprocess.run(
        [str(python), "-c", "import specops, specops._core as c; print(specops.__file__); print(c.COMPILED)"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert Path(where[0]).is_relative_to(venv), where
    assert where[1] == "True", "the wheel's compiled core loads"
    assert specops("--version").stdout.strip() == f"specops {__version__}"
    tested = specops("policy", "test", "builtin:specops")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "0 failed" in tested.stdout and "builtin:specops/model_test.rego" in tested.stdout
