"""Build the compiled core (csrc/*.pyx) as extensions of the specops package.

Cython directives live here, once. ``SPECOPS_CYTHON_DEBUG=1`` turns on bounds
and wraparound checks (slower, for chasing memory bugs), the way
scikit-learn's SKLEARN_ENABLE_DEBUG_CYTHON_DIRECTIVES does.

The built-in policy library (``policies/``) and the plan/apply workflows
(``.github/workflows/specops-*.yml``) stay where people and the repository's own
CI read them; the build copies them into the package as ``specops/_data/``
(``specops._bundled`` finds them there, or in the source tree of an editable
install). MANIFEST.in carries them into the sdist.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

# package data name -> (directory at the repository root, files to copy)
BUNDLED = {
    "policies": ("policies", "**/*.rego"),
    "workflows": (".github/workflows", "specops-*.yml"),
}

DEBUG = os.environ.get("SPECOPS_CYTHON_DEBUG", "") == "1"

DIRECTIVES = {
    "language_level": "3",
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}

# One extension per .pyx, named after the pure-Python twin it replaces:
# csrc/_core_c.pyx -> specops._core_c (twin: src/specops/_core_py.py).
MODULES = sorted(f[:-4] for f in os.listdir("csrc") if f.endswith(".pyx"))
if sys.platform == "win32":
    # The YAML walker binds libyaml from ruamel.yaml.clib with dlopen/dlsym (POSIX); on Windows
    # its twin runs, and `specops doctor` says so.
    MODULES.remove("_yaml_c")

extensions = [
    Extension(f"specops.{name}", [f"csrc/{name}.pyx"], include_dirs=["csrc"]) for name in MODULES
]



class BuildPyWithData(build_py):
    """build_py that also copies the bundled repository files into ``specops/_data``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads them from the source tree
        for name, (source, pattern) in BUNDLED.items():
            files = sorted(Path(source).glob(pattern))
            if not files:
                raise SystemExit(f"setup.py: no {pattern} under {source}/ to bundle as specops/_data/{name}")
            dest = Path(self.build_lib) / "specops" / "_data" / name
            shutil.rmtree(dest, ignore_errors=True)
            for file in files:
                target = dest / file.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, target)


setup(
    cmdclass={"build_py": BuildPyWithData},
    ext_modules=cythonize(
        extensions,
        compiler_directives=DIRECTIVES,
        annotate=False,
        quiet=True,
    ),
)
