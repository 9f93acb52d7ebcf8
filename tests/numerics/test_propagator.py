"""Window norms and the bound on |L^-1| against dense SVDs of assembled systems."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse.linalg

import qrtc.numerics.conditioning as conditioning
import qrtc.numerics.propagator as propagator
from qrtc.frontend.parse import parse_file
from qrtc.numerics.block_matrix import assemble_matrix
from qrtc.numerics.conditioning import effective_condition_number
from qrtc.passes.assemble_block_system import assemble_block_system
from qrtc.pipeline import compile_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _carleman(name: str, horizon: int):  # type: ignore[no-untyped-def]
    compilation = compile_spec(parse_file(EXAMPLES / f"{name}.qrt"), until="carleman")
    assert compilation.carleman is not None and compilation.problem is not None
    return dataclasses.replace(compilation.carleman, horizon=horizon), compilation.problem.options


def _brute_windows(carleman, substeps: int) -> float:  # type: ignore[no-untyped-def]
    dense = {s: carleman.matrix_at(s).matrix.toarray() for s in range(1, substeps + 1)}
    largest = 1.0
    for start in range(substeps):
        product = np.eye(carleman.lifted_size)
        for stop in range(start + 1, substeps + 1):
            product = dense[stop] @ product
            largest = max(largest, float(np.linalg.norm(product, 2)))
    return largest


@pytest.mark.parametrize("name", ["tiny_robust", "robust_linreg", "l2_inactive", "csv_regression"])
def test_the_tail_bounds_every_window_beyond_the_cap(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    carleman, _ = _carleman(name, horizon=40)
    monkeypatch.setattr(propagator, "_MAX_LENGTH", 24)
    windows = propagator.window_norms(carleman)
    assert windows.cap == 24 and windows.tail_kind == "spectral projector"
    exact = _brute_windows(carleman, carleman.n_substeps)
    assert exact <= windows.propagator(carleman.n_substeps)


@pytest.mark.parametrize(
    "name",
    ["tiny_robust", "robust_linreg", pytest.param("csv_regression", marks=pytest.mark.slow)],
)
@pytest.mark.parametrize("capped", [False, True])
def test_the_inverse_norm_bound_holds_and_beats_n_blocks_lambda(
    name: str, capped: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    carleman, options = _carleman(name, horizon=12)
    if capped:
        monkeypatch.setattr(propagator, "_MAX_LENGTH", 16)
    system = assemble_block_system(carleman, options=options)
    inverse_norm = 1 / scipy.linalg.svdvals(assemble_matrix(system).toarray())[-1]
    assert inverse_norm <= system.inverse_norm_bound
    if not capped:
        assert system.inverse_norm_bound < system.n_blocks * system.propagator_bound
        assert system.inverse_norm_bound <= 2.5 * inverse_norm


@pytest.mark.slow
def test_a_growing_period_map_falls_back_to_per_step_norms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # two_layer_quadratic's period propagator is defective at 1: its powers grow without
    # bound, so no projector tail exists.
    carleman, _ = _carleman("two_layer_quadratic", horizon=3)
    monkeypatch.setattr(propagator, "_MAX_LENGTH", 4)
    windows = propagator.window_norms(carleman)
    assert windows.tail_kind == "per-step norms"
    assert windows.propagator(carleman.n_substeps) == pytest.approx(
        max(
            windows.per_step ** math.ceil(carleman.n_substeps / windows.period),
            float(windows.by_phase.max()),
        )
    )


def test_a_million_step_horizon_is_bounded_in_well_under_a_second() -> None:
    carleman, _ = _carleman("robust_linreg", horizon=10**6)
    windows = propagator.window_norms(carleman)
    assert windows.tail_kind == "spectral projector"
    # The windows settle near their limit: the tail is within 1 % of the longest exact window.
    assert windows.tail == pytest.approx(float(windows.by_phase[:, -1].max()), rel=1e-2)
    bound = propagator.inverse_norm_bound(windows, carleman.n_substeps, carleman.n_substeps)
    assert math.isfinite(bound) and bound < 2 * carleman.n_substeps * windows.tail


@pytest.mark.parametrize("padding", [0, 5, None])
def test_idle_coordinates_drop_out_of_the_exact_kappa_and_the_windows(
    padding: int | None,
) -> None:
    # support = data pins 8 of sparse_features' 16 perturbation coordinates to 0: they are idle.
    carleman, options = _carleman("sparse_features", horizon=3)
    live = propagator.live_coordinates(carleman)
    assert live.size == carleman.lifted_size - 8
    system = assemble_block_system(carleman, options=dataclasses.replace(options, padding=padding))
    full = float(scipy.linalg.svdvals(assemble_matrix(system).toarray())[-1])
    kappa, exact = effective_condition_number(system, alpha=1.0)
    assert exact and kappa == pytest.approx(max(1.0, 1.0 / full), rel=1e-10)
    windows = propagator.window_norms(carleman)
    assert windows.exact and windows.cap >= carleman.n_substeps
    assert windows.propagator(carleman.n_substeps) == pytest.approx(
        _brute_windows(carleman, carleman.n_substeps), rel=1e-10
    )


@pytest.mark.parametrize(
    ("name", "horizon", "padding"),
    [("robust_linreg", 12, None), ("tiny_robust", 40, 3), ("sparse_features", 3, 0)],
)
def test_lanczos_on_the_inverse_gives_the_dense_svd_kappa(
    name: str, horizon: int, padding: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    carleman, options = _carleman(name, horizon=horizon)
    system = assemble_block_system(carleman, options=dataclasses.replace(options, padding=padding))
    dense = 1.0 / float(scipy.linalg.svdvals(assemble_matrix(system).toarray())[-1])
    monkeypatch.setattr(conditioning, "MAX_EXACT_KAPPA_DIM", 0)
    assert conditioning.exact_kappa_method(system.dim) == "Lanczos"
    kappa, exact = effective_condition_number(system, alpha=1.0)
    assert exact and kappa == pytest.approx(max(1.0, dense), rel=1e-10)


def test_lanczos_that_does_not_converge_falls_back_to_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    carleman, options = _carleman("robust_linreg", horizon=12)
    system = assemble_block_system(carleman, options=options)

    def no_convergence(*args: object, **kwargs: object) -> None:
        raise scipy.sparse.linalg.ArpackNoConvergence("no", np.zeros(0), np.zeros((0, 0)))

    monkeypatch.setattr(conditioning, "MAX_EXACT_KAPPA_DIM", 0)
    monkeypatch.setattr(scipy.sparse.linalg, "svds", no_convergence)
    kappa, exact = effective_condition_number(system, alpha=1.0)
    assert not exact and kappa == max(1.0, system.inverse_norm_bound)
