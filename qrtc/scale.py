r"""The scaling study: :func:`qrtc.estimate.estimate_resources` over a grid of horizons or model
sizes, what ``qrtc scale`` prints and plots.

Each point says where its figures come from: ``built`` when $\kappa_{\rm eff}$ is the exact one
of the assembled $\mathbf L$ (dense SVD, $\dim\mathbf L \le$ ``MAX_EXACT_KAPPA_DIM``) at the
spec's own model size, ``formula`` when it is the window-norm bound, ``extrapolated`` when the
model size is not the spec's (the sparse-family assumption of :mod:`qrtc.estimate`). The
crossover is the first point at which the QSVT query count $d(2k+1)$ drops below the classical
PGD run's multiply-adds $T(K\,c_{\mathcal A} + c_{\mathcal L})$; queries and operations are not
the same unit (a query is a whole circuit), which the table says.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from qrtc.errors import BackendError
from qrtc.estimate import ResourceEstimate, estimate_resources
from qrtc.ir.spec import Spec

__all__ = ["ScalePoint", "ScaleStudy", "parse_range", "scale_study", "write_scale_plots"]

Axis = Literal["horizon", "params"]
AXES: tuple[Axis, ...] = ("horizon", "params")
_DPI = 100


@dataclass(frozen=True, slots=True)
class ScalePoint:
    """One estimate of the study and where its figures come from."""

    axis: Axis
    value: int
    estimate: ResourceEstimate

    @property
    def source(self) -> str:
        if self.estimate.extrapolated:
            return "extrapolated"
        return "built" if self.estimate.kappa_source.startswith("exact") else "formula"


@dataclass(frozen=True, slots=True)
class ScaleStudy:
    """The points of each swept axis, in increasing order."""

    spec_file: str
    points: tuple[ScalePoint, ...]

    def along(self, axis: Axis) -> list[ScalePoint]:
        return [point for point in self.points if point.axis == axis]

    def crossover(self, axis: Axis) -> ScalePoint | None:
        """The first point whose QSVT queries are below the classical multiply-adds."""
        for point in self.along(axis):
            if point.estimate.queries < point.estimate.classical_operations:
                return point
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec_file,
            "points": [
                {
                    "axis": point.axis,
                    "value": point.value,
                    "source": point.source,
                    "kappa_eff": point.estimate.kappa,
                    "degree": point.estimate.degree,
                    "rounds": point.estimate.rounds,
                    "queries": point.estimate.queries,
                    "costa_measured": point.estimate.costa_measured,
                    "qubits": point.estimate.n_qubits,
                    "toffoli": point.estimate.total_gates.toffoli,
                    "classical_operations": point.estimate.classical_operations,
                }
                for point in self.points
            ],
            "crossover": {
                axis: (None if (point := self.crossover(axis)) is None else point.value)
                for axis in AXES
                if self.along(axis)
            },
        }

    def to_table(self) -> str:
        lines = [f"scaling study of {self.spec_file}"]
        header = (
            f"  {'axis':<8}{'value':>15}  {'source':<13}{'kappa_eff':>11}{'degree':>14}"
            f"{'rounds':>8}{'queries':>12}{'Costa ~':>11}{'qubits':>7}{'classical ops':>15}"
        )
        for axis in AXES:
            points = self.along(axis)
            if not points:
                continue
            lines.append(header)
            for point in points:
                e = point.estimate
                lines.append(
                    f"  {axis:<8}{point.value:>15,}  {point.source:<13}{e.kappa:>11.4g}"
                    f"{e.degree:>14,}{e.rounds:>8,}{e.queries:>12.4g}{e.costa_measured:>11.4g}"
                    f"{e.n_qubits:>7}{e.classical_operations:>15.4g}"
                )
            crossing = self.crossover(axis)
            lines.append(
                f"  {axis}: the QSVT query count "
                + (
                    f"drops below the classical PGD multiply-adds at {axis} = {crossing.value:,}"
                    if crossing
                    else "stays above the classical PGD multiply-adds over this range"
                )
                + " (a query is one use of the block encoding, a whole circuit)"
            )
        return "\n".join(lines) + "\n"


_RANGE = re.compile(r"^\s*(horizon|params)\s*=\s*([0-9.eE+]+)\s*\.\.\s*([0-9.eE+]+)\s*$")


def parse_range(text: str) -> tuple[Axis, list[int]]:
    """``horizon=2..1024`` -> the axis and a geometric grid (powers of 2, then the end).

    Raises:
        ValueError: not ``NAME=LOW..HIGH`` with NAME horizon or params and 1 <= LOW <= HIGH.
    """
    match = _RANGE.match(text)
    if not match:
        raise ValueError(f"expected horizon=LOW..HIGH or params=LOW..HIGH, got {text!r}")
    axis = match.group(1)
    low, high = (_integer(match.group(k)) for k in (2, 3))
    if not 1 <= low <= high:
        raise ValueError(f"expected 1 <= LOW <= HIGH in {text!r}")
    grid = [low]
    factor = 2 if high / low <= 2**12 else 10
    while grid[-1] * factor < high:
        grid.append(grid[-1] * factor)
    if grid[-1] != high:
        grid.append(high)
    return axis, grid  # type: ignore[return-value]


def _integer(text: str) -> int:
    value = float(text)
    if not (math.isfinite(value) and value == int(value)):
        raise ValueError(f"expected an integer, got {text!r}")
    return int(value)


def scale_study(spec: Spec, over: dict[Axis, list[int]]) -> ScaleStudy:
    """Estimates at every grid value of each axis (the other axis at the spec's value).

    Raises:
        QrtError: the spec is invalid, or a point breaks an assumption.
    """
    points: list[ScalePoint] = []
    for axis, values in over.items():
        for value in values:
            estimate = (
                estimate_resources(spec, horizon=value)
                if axis == "horizon"
                else estimate_resources(spec, params=value)
            )
            points.append(ScalePoint(axis, value, estimate))
    return ScaleStudy(str(spec.file), tuple(points))


def write_scale_plots(study: ScaleStudy, out_dir: Path) -> list[Path]:
    """``kappa_vs_horizon.png``, ``queries_vs_horizon.png``, ``queries_vs_params.png`` (those
    whose axis was swept); built, formula and extrapolated points drawn differently.

    Raises:
        BackendError: matplotlib is missing or ``out_dir`` cannot be written.
    """
    try:
        import matplotlib.figure
    except ImportError:
        raise BackendError("plotting needs matplotlib: pip install 'qrtc[plot]'") from None
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BackendError(f"cannot create {out_dir}: {error.strerror}") from None
    written: list[Path] = []
    markers = {"built": ("o", "built system"), "formula": ("^", "formula (bound)")}
    markers["extrapolated"] = ("s", "formula (sparse family)")

    def draw(axis: Axis, name: str, series: list[tuple[str, str]], ylabel: str) -> None:
        points = study.along(axis)
        if not points:
            return
        figure = matplotlib.figure.Figure(figsize=(6.4, 4.8), dpi=_DPI, layout="constrained")
        ax = figure.add_subplot()
        x = np.array([p.value for p in points], dtype=float)
        for attribute, label in series:
            y = np.array([_value(p.estimate, attribute) for p in points], dtype=float)
            (line,) = ax.plot(x, y, "-", linewidth=1, label=label)
            for source, (marker, _) in markers.items():
                chosen = [k for k, p in enumerate(points) if p.source == source]
                if chosen:
                    ax.plot(x[chosen], y[chosen], marker, color=line.get_color(), linestyle="")
        for source, (marker, text) in markers.items():
            if any(p.source == source for p in points):
                ax.plot([], [], marker, color="gray", linestyle="", label=text)
        crossing = study.crossover(axis)
        if crossing is not None and name.startswith("queries"):
            ax.axvline(crossing.value, color="gray", linestyle=":", label="queries < classical")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("horizon T (training steps)" if axis == "horizon" else "parameters n")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{Path(study.spec_file).name}: {ylabel} vs {axis}")
        ax.legend(fontsize="small")
        path = out_dir / f"{name}.png"
        try:
            figure.savefig(path, metadata={"Software": None})
        except OSError as error:
            raise BackendError(f"cannot write {path}: {error.strerror}") from None
        written.append(path)

    draw("horizon", "kappa_vs_horizon", [("kappa", "kappa_eff")], "condition number")
    query_series = [
        ("queries", "QSVT queries d(2k+1)"),
        ("degree", "QSVT degree d"),
        ("costa_measured", "optimal QLSA ~1.84 kappa"),
        ("classical_operations", "classical PGD multiply-adds"),
    ]
    draw("horizon", "queries_vs_horizon", query_series, "queries / operations")
    draw("params", "queries_vs_params", query_series, "queries / operations")
    return written


def _value(estimate: ResourceEstimate, attribute: str) -> float:
    return float(getattr(estimate, attribute))
