"""Build the compiled core (csrc/*.pyx) as extensions of the specops package.

Cython directives live here, once. ``SPECOPS_CYTHON_DEBUG=1`` turns on bounds
and wraparound checks (slower, for chasing memory bugs), the way
scikit-learn's SKLEARN_ENABLE_DEBUG_CYTHON_DIRECTIVES does.
"""

from __future__ import annotations

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

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

extensions = [
    Extension(f"specops.{name}", [f"csrc/{name}.pyx"], include_dirs=["csrc"]) for name in MODULES
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=DIRECTIVES,
        annotate=False,
        quiet=True,
    ),
)
