r"""Plots of the Carleman truncation against the reference trajectory (``qrtc plot``).

For each truncation order $N = 1..N_{\max}$ the maps are re-embedded with
``carleman_order = N`` (by the driver, :meth:`qrtc.pipeline.Compilation.carleman_by_order`) and
the truncated
recurrence $\hat Y_s = C_s\hat Y_{s-1}$, $\hat Y_0 = \mathrm{lift}(z_0 - z^\star)$, is run
sub-step by sub-step; $\hat\theta_s(N)$ is read back from level 1 (paper.md §3.2, §4.1). Two
figures are written:

* ``trajectories.png``: the reference $\theta_s$ (at most the first ``MAX_PLOTTED_COORDINATES``
  coordinates) and $\hat\theta_s(N)$ against the sub-step $s = 0..S$, with the deviation
  $\|\hat\theta_s(N) - \theta_s\|_2$ on a log scale beside it;
* ``truncation_error.png``: the terminal error $\|\hat\theta_T(N) - \theta_T\|_2$ against $N$
  (paper.md §3.4, §8 item 4), with the a-priori bounds the pass reports
  (``truncation_error_bound`` and the norm form ``scaled_error_bound``) and ``precision``.

matplotlib is optional (``pip install 'qrtc[plot]'``) and imported only by :func:`write_plots`;
figures are drawn on a bare :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot state) at a
fixed size and dpi, without the version stamp, so equal inputs give equal files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from qrtc.errors import BackendError
from qrtc.ir.carleman import CarlemanMaps, lifted_size
from qrtc.ir.problem import Problem
from qrtc.ir.trajectory import Trajectory
from qrtc.numerics.lift import lift

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.typing import LineStyleType

__all__ = [
    "DEFAULT_MAX_ORDER",
    "MAX_PLOTTED_COORDINATES",
    "MAX_PLOTTED_LIFTED_SIZE",
    "CarlemanRun",
    "carleman_runs",
    "carleman_terminal_errors",
    "default_max_order",
    "write_plots",
]

DEFAULT_MAX_ORDER = 4
MAX_PLOTTED_LIFTED_SIZE = 20_000
MAX_PLOTTED_COORDINATES = 6
_DPI = 100
_LINE_STYLES: tuple[LineStyleType, ...] = (
    "--",
    ":",
    "-.",
    (0, (5, 1, 1, 1, 1, 1)),
    (0, (1, 3)),
    (0, (8, 2)),
)
_MARKERS = ("o", "s", "^", "D", "v", "P")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CarlemanRun:
    r"""The truncated recurrence at one order $N$.

    Attributes:
        carleman: the maps embedded with ``carleman_order = N``.
        theta: $\hat\theta_s(N)$ for $s = 0..S$, shape ``(S + 1, n)``, units of $\theta$.
    """

    carleman: CarlemanMaps
    theta: NDArray[np.float64]

    @property
    def order(self) -> int:
        """$N$."""
        return self.carleman.order

    def terminal_error(self, trajectory: Trajectory) -> float:
        r"""$\|\hat\theta_T(N) - \theta_T\|_2$ against the reference trajectory."""
        return float(np.linalg.norm(self.theta[-1] - trajectory.final_theta))


def default_max_order(state_size: int) -> int:
    r"""The largest $N \le$ ``DEFAULT_MAX_ORDER`` with $D_N \le$ ``MAX_PLOTTED_LIFTED_SIZE``
    (at least 1)."""
    order = 1
    while (
        order < DEFAULT_MAX_ORDER and lifted_size(state_size, order + 1) <= MAX_PLOTTED_LIFTED_SIZE
    ):
        order += 1
    return order


def _run(carleman: CarlemanMaps) -> CarlemanRun:
    lifted = lift(carleman, carleman.initial_state - carleman.expansion_point)
    theta = np.empty((carleman.n_substeps + 1, carleman.n_params))
    theta[0] = carleman.read_state(lifted)[: carleman.n_params]
    for substep in range(1, carleman.n_substeps + 1):
        lifted = np.asarray(carleman.matrix_at(substep).matrix @ lifted, dtype=np.float64)
        theta[substep] = carleman.read_state(lifted)[: carleman.n_params]
    return CarlemanRun(carleman=carleman, theta=theta)


def carleman_runs(embedded: Iterable[CarlemanMaps]) -> tuple[CarlemanRun, ...]:
    r"""Run the truncated recurrence of each embedding (one per order $N$, increasing:
    :meth:`qrtc.pipeline.Compilation.carleman_by_order`)."""
    return tuple(_run(carleman) for carleman in embedded)


def carleman_terminal_errors(
    trajectory: Trajectory, embedded: Iterable[CarlemanMaps]
) -> dict[int, float]:
    r"""$N \mapsto \|\hat\theta_T(N) - \theta_T\|_2$, the numbers ``truncation_error.png`` plots.

    Args:
        trajectory: the reference PGD trajectory, $\theta_T$ = ``trajectory.final_theta``.
        embedded: the maps embedded at each order $N$, increasing.
    """
    runs = carleman_runs(embedded)
    assert all(run.theta.shape[1] == trajectory.theta.shape[1] for run in runs)
    return {run.order: run.terminal_error(trajectory) for run in runs}


def write_plots(
    problem: Problem,
    trajectory: Trajectory,
    embedded: Sequence[CarlemanMaps],
    out_dir: Path,
) -> list[Path]:
    r"""Write ``trajectories.png`` and ``truncation_error.png`` into ``out_dir``.

    Args:
        problem: the checked spec (parameter names label the $\theta$ coordinates).
        trajectory: the reference PGD trajectory.
        embedded: the maps embedded at $N = 1..N_{\max}$ (at least one; the driver's
            :meth:`~qrtc.pipeline.Compilation.carleman_by_order`, with $N_{\max}$ from
            :func:`default_max_order` by default).
        out_dir: created if missing.

    Returns:
        The written paths, in the order above.

    Raises:
        BackendError: matplotlib is not installed, no embedding was given, or ``out_dir``
            cannot be written.
    """
    try:
        import matplotlib.figure
    except ImportError:
        raise BackendError("plotting needs matplotlib: pip install 'qrtc[plot]'") from None
    if not embedded:
        raise BackendError("nothing to plot: no Carleman order was embedded")
    runs = carleman_runs(embedded)
    options = problem.options
    labels = _coordinate_labels(problem)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BackendError(f"cannot create {str(out_dir)!r}: {error.strerror}") from None

    shown = min(problem.n_params, MAX_PLOTTED_COORDINATES)
    figure = matplotlib.figure.Figure(figsize=(12.0, 4.8), dpi=_DPI, layout="constrained")
    values, deviations = figure.subplots(1, 2)
    _draw_trajectories(values, deviations, trajectory, runs, labels[:shown])
    hidden = f" (first {shown} of {problem.n_params})" if shown < problem.n_params else ""
    figure.suptitle(f"{problem.file}: reference PGD vs Carleman truncation{hidden}")
    trajectories = _save(figure, out_dir / "trajectories.png")

    figure = matplotlib.figure.Figure(figsize=(6.4, 4.8), dpi=_DPI, layout="constrained")
    _draw_truncation_error(figure.subplots(), trajectory, runs, options.precision)
    figure.suptitle(f"{problem.file}: terminal truncation error")
    errors = _save(figure, out_dir / "truncation_error.png")
    return [trajectories, errors]


def _save(figure: Figure, path: Path) -> Path:
    try:
        # No "Software" stamp: the bytes depend on the data, not on the matplotlib version.
        figure.savefig(path, format="png", dpi=_DPI, metadata={"Software": None})
    except OSError as error:
        raise BackendError(f"cannot write {str(path)!r}: {error.strerror}") from None
    return path


def _coordinate_labels(problem: Problem) -> list[str]:
    labels: list[str] = []
    for block in problem.parameters:
        for flat in range(block.size):
            if not block.shape:
                labels.append(block.name)
                continue
            index = np.unravel_index(flat, block.shape)
            labels.append(f"{block.name}[{','.join(str(int(i)) for i in index)}]")
    assert len(labels) == problem.n_params
    return labels


def _style(index: int) -> LineStyleType:
    return _LINE_STYLES[index % len(_LINE_STYLES)]


def _draw_trajectories(
    values: Axes,
    deviations: Axes,
    trajectory: Trajectory,
    runs: Sequence[CarlemanRun],
    labels: Sequence[str],
) -> None:
    from matplotlib.lines import Line2D

    substeps = np.arange(trajectory.n_substeps + 1)
    colors = [f"C{i}" for i in range(len(labels))]
    for coordinate, color in enumerate(colors):
        values.plot(substeps, trajectory.theta[:, coordinate], "-", color=color, linewidth=2.5)
        for index, run in enumerate(runs):
            values.plot(
                substeps, run.theta[:, coordinate], linestyle=_style(index), color=color, lw=1.2
            )
    handles = [
        Line2D([], [], color=color, lw=2.0, label=label)
        for color, label in zip(colors, labels, strict=True)
    ]
    handles.append(Line2D([], [], color="black", lw=2.5, label="reference PGD"))
    handles += [
        Line2D(
            [], [], color="black", lw=1.2, linestyle=_style(i), label=f"Carleman N = {run.order}"
        )
        for i, run in enumerate(runs)
    ]
    values.legend(handles=handles, fontsize="small", ncols=2)
    values.set_title(r"parameters $\theta_s$")
    values.set_xlabel("sub-step s (attack and learner steps)")
    values.set_ylabel(r"parameter value $\theta_s$ (units of $\theta$)")
    values.grid(True, alpha=0.3)

    for index, run in enumerate(runs):
        gap = np.linalg.norm(run.theta - trajectory.theta, axis=1)
        # log axes cannot show 0 (s = 0 is exact): leave those points out.
        shown = np.where(gap > 0, gap, np.nan)
        deviations.plot(
            substeps,
            shown,
            linestyle=_style(index),
            marker=_MARKERS[index % len(_MARKERS)],
            markersize=3,
            color=f"C{index}",
            label=f"N = {run.order}",
        )
    deviations.set_yscale("log")
    deviations.set_title(r"deviation $\|\hat\theta_s(N) - \theta_s\|_2$")
    deviations.set_xlabel("sub-step s (attack and learner steps)")
    deviations.set_ylabel("2-norm error (units of θ)")
    deviations.grid(True, which="both", alpha=0.3)
    deviations.legend(fontsize="small")


def _draw_truncation_error(
    axes: Axes, trajectory: Trajectory, runs: Sequence[CarlemanRun], precision: float
) -> None:
    orders = np.array([run.order for run in runs])
    measured = np.array([run.terminal_error(trajectory) for run in runs])
    bounds = {
        "a-priori bound (truncation_error_bound)": [
            run.carleman.truncation_error_bound for run in runs
        ],
        r"§3.4 norm-form bound (scaled_error_bound)": [
            run.carleman.scaled_error_bound for run in runs
        ],
    }
    finite = [v for v in measured if v > 0] + [
        v for series in bounds.values() for v in series if v is not None and math.isfinite(v)
    ]
    finite.append(precision)
    top, floor = max(finite) * 10.0, min(finite) / 10.0

    exact = measured == 0
    axes.plot(
        orders[~exact], measured[~exact], "o-", color="C0", lw=2, label="measured vs reference"
    )
    if exact.any():
        axes.plot(
            orders[exact], np.full(exact.sum(), floor), "v", color="C0", label="measured: exactly 0"
        )
    for (label, series), color, marker in zip(
        bounds.items(), ("C1", "C2"), ("s", "D"), strict=True
    ):
        known = np.array([v is not None and math.isfinite(v) for v in series])
        values = np.array(
            [v if k else np.nan for v, k in zip(series, known, strict=True)], dtype=np.float64
        )
        axes.plot(orders, values, linestyle="--", marker=marker, color=color, label=label)
        if not known.all():
            axes.plot(
                orders[~known],
                np.full((~known).sum(), top),
                linestyle="none",
                marker="x",
                color=color,
                label=f"{label.split(' (')[0]}: infinite or not computed",
            )
    axes.axhline(precision, color="grey", linestyle=":", label=f"precision = {precision:g}")
    axes.set_yscale("log")
    axes.set_ylim(floor / 2.0, top * 2.0)
    axes.set_xticks(orders)
    axes.set_xlabel("Carleman truncation order N")
    axes.set_ylabel(r"2-norm error $\|\hat\theta_T(N) - \theta_T\|_2$ (units of θ)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
