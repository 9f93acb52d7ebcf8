r"""The scaling study: :func:`qrtc.resources.estimate.estimate_resources` over a grid of
horizons or model
sizes, what ``qrtc scale`` prints and plots.

Along $T$ every point is the spec's own system at that horizon. Along $n$ the points come from a
built sparse family (:func:`qrtc.studies.family.replicate`: the spec copied $r = n/n_0$ times into
block-separable copies) while a member fits (:data:`MAX_FAMILY_ENTRIES`, and an exact
$\kappa_{\rm eff}$) and its compilation succeeds; beyond that, and at sizes that are not a
multiple of $n_0$, the formulas extrapolate from the largest built member below (holding its
sparsity, $\alpha$, $\Lambda$ and $g$).

Each point says where its figures come from: ``built`` when $\kappa_{\rm eff}$ is the exact one
of the assembled $\mathbf L$ (dense SVD or Lanczos), ``formula`` when it is the window-norm
bound of a built system, ``extrapolated`` when the model size is not one that was built. The
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

from qrtc.errors import BackendError, QrtError
from qrtc.frontend.check import check
from qrtc.ir.spec import Spec
from qrtc.resources.estimate import ResourceEstimate, estimate_resources
from qrtc.studies.family import replicate

__all__ = [
    "MAX_FAMILY_ENTRIES",
    "ScalePoint",
    "ScaleStudy",
    "parse_range",
    "scale_study",
    "write_family_specs",
    "write_scale_plots",
]

Axis = Literal["horizon", "params"]
AXES: tuple[Axis, ...] = ("horizon", "params")
_DPI = 100

MAX_FAMILY_ENTRIES = 100_000
"""Most data entries $(Mr)(dr)$ of a family member the study builds (its ``.qrt`` text is parsed
again, about 4 s per $10^5$ numbers)."""


@dataclass(frozen=True, slots=True)
class ScalePoint:
    """One estimate of the study and where its figures come from."""

    axis: Axis
    value: int
    estimate: ResourceEstimate

    @property
    def built_from(self) -> str:
        """The file name of the spec (the user's, or a family member written by
        :func:`write_family_specs`) the figures were computed from."""
        return Path(self.estimate.spec_file).name

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
    notes: tuple[str, ...] = ()
    members: tuple[Spec, ...] = ()
    """The built family members (not the user's spec), for :func:`write_family_specs`."""

    def along(self, axis: Axis) -> list[ScalePoint]:
        return [point for point in self.points if point.axis == axis]

    def built_growth(self) -> tuple[float, int, int] | None:
        r"""``(exponent, low, high)``: the log-log slope of the queries over the sizes along
        ``params`` whose $\kappa_{\rm eff}$ is exact (``built``), if there are two or more; the
        bounds are too loose to fit."""
        built = [p for p in self.along("params") if p.source == "built"]
        if len(built) < 2:
            return None
        n = np.log([p.value for p in built])
        queries = np.log([p.estimate.queries for p in built])
        slope = float(np.polyfit(n, queries, 1)[0])
        return slope, built[0].value, built[-1].value

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
                    "built_from": point.built_from,
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
            "built_query_exponent": (
                None if (growth := self.built_growth()) is None else growth[0]
            ),
            "notes": list(self.notes),
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
            if axis == "params" and (growth := self.built_growth()) is not None:
                exponent, low, high = growth
                lines.append(
                    f"  params: over the built sizes with exact kappa, n = {low:,}..{high:,}, the "
                    "queries grow as "
                    f"n^{exponent:.2f} (polylog in n would be an exponent near 0)"
                )
        lines.extend(f"  note: {note}" for note in self.notes)
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
    notes: list[str] = []
    members: list[Spec] = []
    for axis, values in over.items():
        if axis == "horizon":
            points.extend(
                ScalePoint(axis, value, estimate_resources(spec, horizon=value)) for value in values
            )
        else:
            points.extend(_along_params(spec, values, notes, members))
    return ScaleStudy(str(spec.file), tuple(points), tuple(notes), tuple(members))


def _along_params(
    spec: Spec, values: list[int], notes: list[str], members: list[Spec]
) -> list[ScalePoint]:
    """Built family members where they fit, formulas from the largest one below elsewhere."""
    own = estimate_resources(spec)
    unit = own.n_params_spec
    problem = check(spec)
    built: dict[int, tuple[Spec, ResourceEstimate]] = {unit: (spec, own)}
    stopped: str | None = None
    # Powers of two copies as well, so that a wide decade grid still gets built points.
    doublings = [unit << k for k in range(1, max(values).bit_length()) if unit << k <= max(values)]
    candidates = sorted({*values, *(n for n in doublings if n >= min(values))})
    for value in candidates:
        copies, remainder = divmod(value, unit)
        if remainder or copies < 2 or stopped is not None:
            continue
        entries = problem.n_samples * problem.input_size * copies * copies
        if entries > MAX_FAMILY_ENTRIES:
            stopped = (
                f"family members beyond n = {max(built):,} are not built: n = {value:,} would "
                f"hold {entries:,} data entries (more than {MAX_FAMILY_ENTRIES:,})"
            )
            continue
        try:
            member = replicate(spec, copies)
            # A member's window bound is too loose to show a trend: members stop at exact kappa.
            built[value] = (member, estimate_resources(member, exact_kappa=True))
        except QrtError as error:
            stopped = (
                f"family members beyond n = {max(built):,} are not built: n = {value:,} "
                f"failed: {error.message}"
            )
    members.extend(member for member, _ in built.values() if member is not spec)
    if len(built) > 1:
        notes.append(
            f"params: n = {', '.join(f'{n:,}' for n in sorted(built))} are built members of the "
            f"sparse family of {Path(str(spec.file)).name} "
            "(qrtc.studies.family.replicate: copies with "
            "their own parameters and samples, lr x copies)"
        )
        if problem.attack.support == "all":
            notes.append(
                "params: the attack has support = all, so it perturbs each sample's zero "
                "features outside its copy and couples the copies; support = data keeps them "
                "apart"
            )
    if stopped is not None:
        notes.append("params: " + stopped)
    points = []
    for value in sorted({*values, *(n for n in built if min(values) <= n <= max(values))}):
        if value in built:
            points.append(ScalePoint("params", value, built[value][1]))
            continue
        # From the largest member below whose kappa is exact: a bound's slack would carry over.
        exact = [n for n in built if n <= value and built[n][1].kappa_source.startswith("exact")]
        below = exact or [n for n in built if n <= value]
        base, at_base = built[max(below) if below else unit]
        known = (at_base.kappa, at_base.kappa_source)
        estimate = estimate_resources(base, params=value, known_kappa=known)
        points.append(ScalePoint("params", value, estimate))
    return points


def write_family_specs(study: ScaleStudy, out_dir: Path) -> list[Path]:
    """Each built family member as ``out_dir/family/<name>.qrt``, to inspect or re-run.

    Raises:
        BackendError: ``out_dir`` cannot be written.
    """
    written = []
    for member in study.members:
        path = out_dir / "family" / Path(member.file).name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(member.text, encoding="utf-8")
        except OSError as error:
            raise BackendError(f"cannot write {path}: {error.strerror}") from None
        written.append(path)
    return written


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
    markers["extrapolated"] = ("s", "extrapolated (formulas)")

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
        growth = study.built_growth() if axis == "params" else None
        if growth is not None:
            exponent, low, _ = growth
            start = next(p for p in points if p.value == low).estimate.queries
            ax.plot(
                x,
                start * (x / low) ** exponent,
                "--",
                color="gray",
                linewidth=1,
                label=f"queries ~ n^{exponent:.2f} (fit to built points)",
            )
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
