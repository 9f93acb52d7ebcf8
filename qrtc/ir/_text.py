"""Number and array formatting shared by the IRs' ``to_text()`` summaries.

Every summary is compared with a golden file, so the formats are fixed: ``digits`` significant
digits (``%g``), ``-0`` printed as ``0``, arrays in full up to ``limit`` entries and otherwise as
their shape, 2-norm, extremes and first and last entries (row-major).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["array", "fixed", "number", "vector"]


def number(value: float | None, digits: int = 6) -> str:
    """``value`` to ``digits`` significant digits; ``n/a`` for None; ``-0`` as ``0``."""
    if value is None:
        return "n/a"
    value = float(value)
    if value == 0:
        value = 0.0
    return f"{value:.{digits}g}"


def fixed(value: float, decimals: int) -> str:
    """``value`` with a sign and ``decimals`` decimals; a value that rounds to zero is ``+0.0…``.

    For quantities whose error is absolute (simulated amplitudes): noise far below the last
    decimal neither shows nor flips the sign of a zero.
    """
    value = round(float(value), decimals)
    if value == 0:
        value = 0.0
    return f"{value:+.{decimals}f}"


def vector(values: Iterable[float], digits: int = 6) -> str:
    """``[a, b, ...]``, every entry to ``digits`` significant digits."""
    return "[" + ", ".join(number(float(v), digits) for v in values) + "]"


def _nested(values: np.ndarray, digits: int) -> str:
    if values.ndim == 0:
        return number(float(values), digits)
    return "[" + ", ".join(_nested(row, digits) for row in values) + "]"


def array(values: ArrayLike, *, digits: int = 6, limit: int = 16, edge: int = 3) -> str:
    """A real array in full (nested brackets) up to ``limit`` entries, else a summary.

    The summary reads ``shape (a, b), |.|_2 = ..., min = ..., max = ..., first 3: [...],
    last 3: [...]``, entries row-major.
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size <= limit:
        return _nested(data, digits)
    flat = data.reshape(-1)
    norm = float(np.sqrt(np.sum(flat * flat)))
    return (
        f"shape {tuple(int(d) for d in data.shape)}, |.|_2 = {number(norm, digits)}, "
        f"min = {number(float(np.min(flat)), digits)}, "
        f"max = {number(float(np.max(flat)), digits)}, "
        f"first {edge}: {vector(flat[:edge], digits)}, last {edge}: {vector(flat[-edge:], digits)}"
    )
