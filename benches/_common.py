"""What every benchmark records besides its timings: the machine, and the JSON it writes."""

from __future__ import annotations

import json
import os
import platform
import sys
from typing import Any

import numpy as np
import scipy


def machine() -> dict[str, Any]:
    """Platform, CPU count and the versions that decide the speed of numpy/scipy code."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
    }


def write_json(path: str, result: dict[str, Any]) -> None:
    """``result`` plus the machine, as indented JSON at ``path``."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({**result, "machine": machine()}, handle, indent=2)
        handle.write("\n")
