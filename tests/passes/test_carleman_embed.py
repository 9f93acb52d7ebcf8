"""The Carleman pass against independent references (shared/design.md §4, CarlemanMaps row).

- a naive dense Carleman matrix (itertools over compositions, ``np.kron`` of dense blocks,
  paper.md §3.2) equals the pass's CSR;
- lift consistency: ``C lift(u)`` equals ``lift(F(u))`` on levels ``j <= N // q``, with ``F``
  from ``apply_map`` and the Kronecker powers from ``np.kron`` (paper.md §8 item 2);
- rescaling is the similarity ``diag(gamma^-j)``: the recurrence in ``u~``, mapped back, equals
  the one in ``u``;
- the dropped terms (from the Gram dynamic programme) equal ``lift(F(u)) - C lift(u)`` computed
  densely; measured error <= a-priori bound <= the gamma-dependent bound;
- auto order is the smallest order that meets the precision; errors are ``QrtError``s.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

import qrtc
from qrtc.ir.carleman import CarlemanMaps, level_offset, lifted_size
from qrtc.ir.polynomial_maps import PolynomialMap, PolynomialMaps, SparseTensor
from qrtc.ir.problem import CompileOptions
from qrtc.numerics.lift import assert_lift_commutes, lift
from qrtc.numerics.sparse_tensors import apply_map, assemble_tensor_matrix
from qrtc.passes.carleman_embed import _exact_tails, _Orbit, carleman_embed

Array = NDArray[np.float64]


# ---------------------------------------------------------------------------------------------
# Builders shared with test_assemble_block_system.py.


def sparse_tensor(
    entries: Sequence[tuple[int, tuple[int, ...], float]],
    degree: int,
    size: int,
    *,
    sort: bool = True,
) -> SparseTensor:
    """``A_k`` from ``(row, multi-index, value)`` triples, duplicates summed.

    ``sort=True`` stores each monomial at its non-decreasing multi-index (the IR's convention);
    ``sort=False`` keeps the multi-index as written (valid for the maths, not for ``verify``).
    """
    summed: dict[tuple[int, tuple[int, ...]], float] = defaultdict(float)
    for row, columns, value in entries:
        summed[(row, tuple(sorted(columns)) if sort else tuple(columns))] += value
    keys = sorted(key for key, value in summed.items() if value != 0)
    return SparseTensor(
        degree=degree,
        size=size,
        rows=np.array([row for row, _ in keys], dtype=np.int64),
        columns=np.array([columns for _, columns in keys], dtype=np.int64).reshape(-1, degree),
        values=np.array([summed[key] for key in keys]),
    )


def random_map(
    rng: np.random.Generator, kind: str, size: int, degree: int, *, scale: float = 0.3
) -> PolynomialMap:
    """A random sparse map: ``A_1`` near ``0.8 I``, a few entries of every degree, maybe ``b_0``."""
    terms = []
    for k in range(1, degree + 1):
        entries = [(i, (i,), 0.8) for i in range(size)] if k == 1 else []
        for _ in range(2 * size if k > 1 else size):
            columns = tuple(int(c) for c in rng.integers(0, size, size=k))
            entries.append((int(rng.integers(size)), columns, float(rng.normal()) * scale / k))
        terms.append(sparse_tensor(entries, k, size))
    constant = rng.normal(size=size) * 0.1 * (rng.random(size) < 0.5)
    return PolynomialMap(kind=kind, constant=constant, terms=tuple(terms))  # type: ignore[arg-type]


def make_maps(
    attack: PolynomialMap,
    learner: PolynomialMap,
    initial_state: Array,
    *,
    horizon: int = 2,
    pgd_steps: int = 1,
    n_params: int | None = None,
) -> PolynomialMaps:
    size = attack.state_size
    n_params = size if n_params is None else n_params
    return PolynomialMaps(
        attack=attack,
        learner=learner,
        expansion_point=np.zeros(size),
        initial_state=initial_state,
        n_params=n_params,
        n_samples=1 if n_params < size else 0,
        input_size=size - n_params,
        horizon=horizon,
        pgd_steps=pgd_steps,
    )


def random_maps(seed: int, size: int = 2, degree: int = 2, **schedule: int) -> PolynomialMaps:
    rng = np.random.default_rng(seed)
    attack = random_map(rng, "attack", size, degree)
    learner = random_map(rng, "learner", size, degree)
    return make_maps(attack, learner, rng.normal(size=size) * 0.3, **schedule)


def kron_power(vector: Array, power: int) -> Array:
    return functools.reduce(np.kron, [vector] * power, np.ones(1))


def exact_lift(deviation: Array, order: int, scale: float = 1.0) -> Array:
    return np.concatenate([kron_power(deviation / scale, j) for j in range(order + 1)])


def dense_carleman(polynomial: PolynomialMap, order: int, scale: float) -> Array:
    """paper.md §3.2 written naively: every composition, dense ``np.kron``."""
    size = polynomial.state_size
    blocks = [polynomial.constant.reshape(size, 1) / scale]
    for term in polynomial.terms:
        blocks.append(assemble_tensor_matrix(term).toarray() * scale ** (term.degree - 1))
    degree = len(blocks) - 1
    total = lifted_size(size, order)
    carleman = np.zeros((total, total))
    carleman[0, 0] = 1.0
    for level in range(1, order + 1):
        for parts in itertools.product(range(degree + 1), repeat=level):
            power = sum(parts)
            if power > order:
                continue
            product = functools.reduce(np.kron, [blocks[k] for k in parts])
            row, column = level_offset(size, level), level_offset(size, power)
            carleman[row : row + size**level, column : column + size**power] += product
    return carleman


def options(**values: object) -> CompileOptions:
    return CompileOptions(**values)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "size", "degree", "order", "scale"),
    [
        (0, 2, 2, 1, 1.0),
        (1, 2, 2, 3, 1.0),
        (2, 3, 2, 2, 0.7),
        (3, 2, 3, 3, 1.3),
        (4, 3, 3, 2, 2.0),
        (5, 1, 4, 4, 0.5),
        (6, 2, 1, 3, 1.0),
    ],
)
def test_matches_dense_reference(
    seed: int, size: int, degree: int, order: int, scale: float
) -> None:
    maps = random_maps(seed, size, degree)
    carleman = carleman_embed(maps, options=options(carleman_order=order, scale=scale))
    carleman.verify()
    assert_lift_commutes(carleman)
    for polynomial, built in ((maps.attack, carleman.attack), (maps.learner, carleman.learner)):
        expected = dense_carleman(polynomial, order, scale)
        np.testing.assert_allclose(built.matrix.toarray(), expected, rtol=1e-12, atol=1e-14)
        assert built.matrix.has_canonical_format
        assert not built.matrix.data.flags.writeable


@pytest.mark.parametrize(("degree", "order"), [(1, 1), (1, 3), (2, 2), (2, 4), (3, 3), (3, 4)])
def test_lift_consistency(degree: int, order: int) -> None:
    maps = random_maps(10 + degree, size=3, degree=degree)
    carleman = carleman_embed(maps, options=options(carleman_order=order, scale=0.8))
    exact_levels = order // degree
    stop = level_offset(3, exact_levels + 1)
    rng = np.random.default_rng(degree * 7 + order)
    for polynomial, built in ((maps.attack, carleman.attack), (maps.learner, carleman.learner)):
        for _ in range(3):
            deviation = rng.normal(size=3) * 0.4
            image = built.matrix @ lift(carleman, deviation)
            expected = exact_lift(apply_map(polynomial, deviation), order, 0.8)
            np.testing.assert_allclose(image[:stop], expected[:stop], rtol=1e-11, atol=1e-13)
            if exact_levels < order and degree > 1:
                assert not np.allclose(image[stop:], expected[stop:], rtol=1e-6, atol=1e-12)


def test_lift_check_fails_on_a_corrupted_matrix() -> None:
    """The driver's check of the carleman stage (``verify=True``) catches a wrong $C$."""
    maps = random_maps(11, size=3, degree=1)  # affine: every level is exact
    carleman = carleman_embed(maps, options=options(carleman_order=3, scale=0.8))
    assert_lift_commutes(carleman)
    matrix = carleman.attack.matrix.copy()
    matrix.data[1:] *= 1.5
    attack = dataclasses.replace(carleman.attack, matrix=matrix)
    with pytest.raises(AssertionError, match="C lift"):
        assert_lift_commutes(dataclasses.replace(carleman, attack=attack))


def test_lift_is_kron_powers() -> None:
    maps = random_maps(3, size=3)
    carleman = carleman_embed(maps, options=options(carleman_order=3, scale=2.0))
    deviation = np.array([0.2, -0.4, 1.0])
    np.testing.assert_allclose(lift(carleman, deviation), exact_lift(deviation, 3, 2.0))
    assert lift(carleman, deviation).shape == (carleman.lifted_size,) == (1 + 3 + 9 + 27,)
    lifted = lift(carleman, deviation)
    np.testing.assert_allclose(carleman.read_state(lifted), deviation)


def _recurrence(carleman: CarlemanMaps) -> Array:
    state = lift(carleman, carleman.initial_state - carleman.expansion_point)
    for substep in range(1, carleman.n_substeps + 1):
        state = carleman.matrix_at(substep).matrix @ state
    return state


@pytest.mark.parametrize(("degree", "order"), [(2, 2), (2, 3), (3, 3)])
def test_rescaling_is_a_similarity(degree: int, order: int) -> None:
    maps = random_maps(20 + order, size=2, degree=degree, horizon=3, pgd_steps=2)
    unit = carleman_embed(maps, options=options(carleman_order=order, scale=1.0))
    for scale in (0.3, 1.7):
        scaled = carleman_embed(maps, options=options(carleman_order=order, scale=scale))
        unscaled_state, scaled_state = _recurrence(unit), _recurrence(scaled)
        for level in range(order + 1):
            start, stop = level_offset(2, level), level_offset(2, level + 1)
            np.testing.assert_allclose(
                scale**level * scaled_state[start:stop], unscaled_state[start:stop], rtol=1e-10
            )
        # The truncated read-out, mapped back, is the same; for one step it is exact on the
        # levels j <= N // q.
        np.testing.assert_allclose(
            scaled.read_state(scaled_state), unit.read_state(unscaled_state), rtol=1e-10
        )
        one_step = scaled.attack.matrix @ lift(scaled, maps.initial_state)
        image = apply_map(maps.attack, maps.initial_state)
        stop = level_offset(2, order // degree + 1)
        np.testing.assert_allclose(one_step[:stop], exact_lift(image, order, scale)[:stop])
        assert scaled.truncation_error == pytest.approx(unit.truncation_error, rel=1e-6)
        assert scaled.truncation_error_bound == pytest.approx(unit.truncation_error_bound)


def _orbit(maps: PolynomialMaps) -> list[Array]:
    states = [maps.initial_state - maps.expansion_point]
    for substep in range(1, maps.n_substeps + 1):
        states.append(apply_map(maps.map_at(substep), states[-1]))
    return states


@pytest.mark.parametrize(("degree", "order"), [(2, 1), (2, 2), (3, 2), (3, 4)])
def test_dropped_terms_match_dense(degree: int, order: int) -> None:
    maps = random_maps(30 + degree, size=2, degree=degree, horizon=2, pgd_steps=1)
    orbit = _Orbit.of(maps)
    assert orbit is not None
    tails = _exact_tails(orbit.grams, order)
    states = _orbit(maps)
    np.testing.assert_allclose(orbit.norms, [np.linalg.norm(u) for u in states])
    for step in range(maps.n_substeps):
        polynomial = maps.map_at(step + 1)
        carleman = dense_carleman(polynomial, order, 1.0)
        dropped = exact_lift(states[step + 1], order) - carleman @ exact_lift(states[step], order)
        for level in range(1, order + 1):
            start, stop = level_offset(2, level), level_offset(2, level + 1)
            expected = np.linalg.norm(dropped[start:stop])
            assert tails[step, level - 1] == pytest.approx(expected, rel=1e-8, abs=1e-14)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_error_estimates_are_ordered(order: int) -> None:
    maps = random_maps(40, size=2, degree=3, horizon=3, pgd_steps=2)
    carleman = carleman_embed(maps, options=options(carleman_order=order))
    states = _orbit(maps)
    actual = float(np.linalg.norm(carleman.read_state(_recurrence(carleman)) - states[-1]))
    assert carleman.truncation_error == pytest.approx(actual, rel=1e-6, abs=1e-15)
    assert carleman.truncation_error_bound is not None
    assert carleman.scaled_error_bound is not None
    assert actual <= carleman.truncation_error_bound * (1 + 1e-9)
    assert carleman.truncation_error_bound <= carleman.scaled_error_bound * (1 + 1e-9)
    assert carleman.orbit_radius == pytest.approx(max(np.linalg.norm(u) for u in states))


def test_affine_maps_are_exact_at_order_one() -> None:
    maps = random_maps(50, size=3, degree=1, horizon=4, pgd_steps=2)
    carleman = carleman_embed(maps, options=options())
    assert carleman.order == 1
    assert carleman.truncation_error == pytest.approx(0.0, abs=1e-14)
    assert carleman.truncation_error_bound == 0.0
    assert carleman.scale == pytest.approx(carleman.orbit_radius, rel=0.07)


@pytest.mark.parametrize("precision", [1e-2, 1e-4, 1e-6])
def test_auto_order_is_the_smallest_that_meets_precision(precision: float) -> None:
    maps = random_maps(60, size=2, degree=2, horizon=2, pgd_steps=2)
    carleman = carleman_embed(maps, options=options(precision=precision))
    assert carleman.order_is_auto and carleman.scale_is_auto
    assert carleman.truncation_error is not None
    assert carleman.truncation_error <= precision
    if carleman.order > 1:
        lower = carleman_embed(maps, options=options(carleman_order=carleman.order - 1))
        assert lower.truncation_error is not None and lower.truncation_error > precision


def test_auto_scale_minimises_the_scaled_bound() -> None:
    maps = random_maps(61, size=2, degree=2, horizon=3, pgd_steps=1)
    chosen = carleman_embed(maps, options=options(carleman_order=3))
    assert chosen.scaled_error_bound is not None
    for factor in (0.25, 0.5, 0.8, 1.25, 2.0, 4.0):
        other = carleman_embed(maps, options=options(carleman_order=3, scale=chosen.scale * factor))
        assert other.scaled_error_bound is not None
        assert chosen.scaled_error_bound <= other.scaled_error_bound * (1 + 1e-9)


def test_no_order_meets_precision() -> None:
    rng = np.random.default_rng(70)
    attack = random_map(rng, "attack", 30, 3)
    learner = random_map(rng, "learner", 30, 3)
    maps = make_maps(attack, learner, np.full(30, 0.1), horizon=2)
    with pytest.raises(qrtc.CompileError, match="no Carleman order meets precision 1e-12") as error:
        carleman_embed(maps, options=options(precision=1e-12))
    # It says what each order gave and why it stopped.
    assert "N = 1: error" in str(error.value) and "could hold" in str(error.value)


def test_invalid_options_are_compile_errors() -> None:
    maps = random_maps(80, size=8, degree=2)
    with pytest.raises(qrtc.CompileError, match="carleman_order = 9 is too large"):
        carleman_embed(maps, options=options(carleman_order=9, scale=1.0))
    with pytest.raises(qrtc.CompileError, match="carleman_order must be at least 1"):
        carleman_embed(maps, options=options(carleman_order=0, scale=1.0))
    with pytest.raises(qrtc.CompileError, match="scale must be a positive number"):
        carleman_embed(maps, options=options(carleman_order=1, scale=-1.0))
    with pytest.raises(qrtc.CompileError, match="scale must be a positive number"):
        carleman_embed(maps, options=options(carleman_order=1, scale=math.inf))


def test_divergent_orbit_is_an_assumption_error() -> None:
    size = 1
    growth = sparse_tensor([(0, (0, 0), 3.0)], 2, size)
    linear = sparse_tensor([(0, (0,), 1.0)], 1, size)
    attack = PolynomialMap(kind="attack", constant=np.zeros(1), terms=(linear, growth))
    learner = PolynomialMap(kind="learner", constant=np.zeros(1), terms=(linear, growth))
    maps = make_maps(attack, learner, np.ones(1), horizon=20)
    with pytest.raises(qrtc.AssumptionError, match="orbit from z0 diverges"):
        carleman_embed(maps, options=options())


def test_long_horizon_needs_explicit_options() -> None:
    maps = random_maps(90, size=2, degree=2, horizon=300_000, pgd_steps=1)
    with pytest.raises(qrtc.CompileError, match="carleman_order = auto needs the orbit"):
        carleman_embed(maps, options=options())
    carleman = carleman_embed(maps, options=options(carleman_order=2, scale=1.0))
    assert carleman.truncation_error is None and carleman.orbit_radius is None
    assert "truncation_error = n/a" in carleman.to_text()


def test_norms_and_sparsity() -> None:
    maps = random_maps(100, size=3, degree=3, horizon=2)
    carleman = carleman_embed(maps, options=options(carleman_order=3, scale=0.9))
    for polynomial, built in ((maps.attack, carleman.attack), (maps.learner, carleman.learner)):
        dense = built.matrix.toarray()
        assert built.norm_is_exact
        assert built.norm == pytest.approx(np.linalg.norm(dense, 2), rel=1e-9)
        expected = [np.linalg.norm(polynomial.constant) / 0.9]
        expected += [
            np.linalg.norm(assemble_tensor_matrix(t).toarray(), 2) * 0.9 ** (t.degree - 1)
            for t in polynomial.terms
        ]
        np.testing.assert_allclose(built.coefficient_norms, expected, rtol=1e-9, atol=1e-15)
        assert built.row_sparsity == max(np.count_nonzero(dense, axis=1))
        assert built.column_sparsity == max(np.count_nonzero(dense, axis=0))
        assert built.row_sparsity <= built.row_sparsity_bound
        assert built.column_sparsity <= built.column_sparsity_bound
        assert built.max_abs_entry == pytest.approx(np.max(np.abs(dense)))


def test_to_text_is_deterministic() -> None:
    maps = random_maps(110, size=2, degree=2)
    first = carleman_embed(maps, options=options()).to_text()
    second = carleman_embed(maps, options=options()).to_text()
    assert first == second
    assert first.startswith("carleman_maps {\n")
    assert "(auto)" in first and "lifted_size D_N =" in first and "attack {" in first
