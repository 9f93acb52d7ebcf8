"""The plotting backend: valid, deterministic PNGs, and the plotted numbers checked independently.

The terminal errors are compared with the block system solved by ``spsolve`` (paper.md §8 items
3-4): a second route to $\\hat\\theta_T(N)$ that shares no code with the plotted recurrence.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse.linalg

import qrtc
from qrtc.backends.plots import (
    carleman_runs,
    carleman_terminal_errors,
    default_max_order,
    write_plots,
)
from qrtc.ir.carleman import CarlemanMaps
from qrtc.numerics.block_matrix import assemble_matrix, assemble_rhs
from qrtc.pipeline import Compilation, compile_spec

matplotlib_image = pytest.importorskip("matplotlib.image")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PLOTTED = ["robust_linreg", "l2_inactive"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@functools.cache
def _compiled(name: str) -> Compilation:
    return compile_spec(qrtc.parse_file(str(EXAMPLES / f"{name}.qrt")), until="maps", verify=True)


def _parts(name: str) -> tuple[qrtc.Problem, qrtc.Trajectory, tuple[CarlemanMaps, ...]]:
    compiled = _compiled(name)
    return compiled.problem, compiled.trajectory, _embedded(name, 1, 4)


@functools.cache
def _embedded(name: str, first: int, last: int) -> tuple[CarlemanMaps, ...]:
    return _compiled(name).carleman_by_order(range(first, last + 1))


@functools.cache
def _errors(name: str) -> dict[int, float]:
    _, trajectory, embedded = _parts(name)
    return carleman_terminal_errors(trajectory, embedded)


@pytest.mark.slow
@pytest.mark.parametrize("name", PLOTTED)
def test_write_plots_writes_two_valid_non_blank_pngs(name: str, tmp_path: Path) -> None:
    problem, trajectory, embedded = _parts(name)
    paths = write_plots(problem, trajectory, embedded, tmp_path / "out")
    assert [path.name for path in paths] == ["trajectories.png", "truncation_error.png"]
    for path, (height, width) in zip(paths, [(480, 1200), (480, 640)], strict=True):
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        pixels = matplotlib_image.imread(path)
        assert pixels.shape[:2] == (height, width)  # figsize x dpi, fixed
        # Non-blank: a white canvas with some ink on it (axes, text, lines) in several colours.
        rgb = pixels[..., :3]
        ink = np.any(rgb < 0.9, axis=-1).mean()
        assert 0.01 < ink < 0.5, ink
        assert np.ptp(rgb[..., 0] - rgb[..., 2]) > 0.5  # not grey only: coloured lines


@pytest.mark.slow
def test_plots_are_deterministic(tmp_path: Path) -> None:
    problem, trajectory, _ = _parts("l2_inactive")
    embedded = _embedded("l2_inactive", 1, 2)
    first, second = (
        write_plots(problem, trajectory, embedded, tmp_path / run) for run in ("a", "b")
    )
    for one, other in zip(first, second, strict=True):
        assert one.read_bytes() == other.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("name", PLOTTED)
@pytest.mark.parametrize("order", [1, 2])
def test_terminal_error_matches_the_solved_block_system(name: str, order: int) -> None:
    _, trajectory, _ = _parts(name)
    # The block system at this order, by the driver: its own route from the maps.
    system = _compiled(name).derive(carleman_order=order).block_system
    solution = scipy.sparse.linalg.spsolve(assemble_matrix(system).tocsc(), assemble_rhs(system))
    expected = float(np.linalg.norm(system.read_theta(solution) - trajectory.final_theta))
    # Same theta_T(N) in float64 by two routes (sparse LU vs the recurrence); |theta| ~ 0.1,
    # so 1e-12 is ~1e4 ulps of theta, far below the errors themselves (> 1e-5 at N <= 2).
    assert _errors(name)[order] == pytest.approx(expected, rel=0, abs=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("name", PLOTTED)
def test_terminal_error_falls_with_order_and_stays_below_the_bound(name: str) -> None:
    errors = _errors(name)
    assert sorted(errors) == [1, 2, 3, 4]
    # Not monotone step by step on these cubic maps (robust_linreg: N = 2 is worse than N = 1),
    # but every two orders it falls, by more than 10x from {1, 2} to {3, 4}.
    for order in (1, 2):
        assert errors[order + 2] < errors[order] / 10
    _, _, embedded = _parts(name)
    for run in carleman_runs(embedded):
        bound = run.carleman.truncation_error_bound
        assert bound is not None and errors[run.order] <= bound  # paper.md §8 item 4


def test_runs_stop_at_the_first_order_the_pass_refuses() -> None:
    # N = 5 needs ~4e7 Kronecker entries per map, above carleman_embed's limit.
    embedded = _embedded("l2_inactive", 4, 7)
    assert [carleman.order for carleman in embedded] == [4]


def test_an_order_refused_first_is_raised() -> None:
    with pytest.raises(qrtc.CompileError):
        _compiled("l2_inactive").carleman_by_order(range(5, 7))


def test_default_max_order_keeps_the_lifted_size_small() -> None:
    assert default_max_order(8) == 4  # D_4 = 4681
    assert default_max_order(20) == 3  # D_3 = 8421, D_4 = 168421
    assert default_max_order(200) == 1  # D_2 = 40201
    assert default_max_order(1) == 4


def test_missing_matplotlib_is_a_backend_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = _compiled("l2_inactive")
    problem, trajectory, embedded = (
        compiled.problem,
        compiled.trajectory,
        _embedded("l2_inactive", 1, 1),
    )
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(qrtc.BackendError, match=r"pip install 'qrtc\[plot\]'"):
        write_plots(problem, trajectory, embedded, tmp_path)


def test_nothing_to_plot_is_a_backend_error(tmp_path: Path) -> None:
    compiled = _compiled("l2_inactive")
    problem, trajectory = compiled.problem, compiled.trajectory
    with pytest.raises(qrtc.BackendError, match="no Carleman order was embedded"):
        write_plots(problem, trajectory, (), tmp_path)
