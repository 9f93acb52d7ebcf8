r"""Carleman-embed the two polynomial sub-maps: :class:`PolynomialMaps` -> :class:`CarlemanMaps`.

Implements the discrete-time Carleman embedding with level 0 kept, truncation order $N$ and
rescaling $\gamma$ of paper.md §3.2 ("Carleman/QLSA literature, see paper.md §3"), and the
truncation-error estimates of §3.4 in the forms stated in :class:`qrtc.ir.carleman.CarlemanMaps`.

``carleman_order = auto`` takes the smallest $N \le$ ``MAX_ORDER`` whose truncation error is at most
``options.precision``, among the orders whose matrices stay buildable ($D_N \le$ ``MAX_LIFTED_SIZE``
and at most ``MAX_KRON_ENTRIES`` Kronecker-product entries per map). The error it tests is the
measured one (the forward recurrence against the maps' orbit; paper.md §9 item 8 allows choosing
$N$ "empirically") when that recurrence is cheap, and the a-priori bound otherwise.

``scale = auto`` minimises the $\gamma$-dependent norm-form bound
(``CarlemanMaps.scaled_error_bound``) by a 1-D search over $\log_{10}\gamma$: 121 grid points over
six decades centred on the orbit radius $\max_s\|u_s\|$, then a bounded scalar minimisation
between the best point's neighbours. Where the bound does not depend on $\gamma$ (only level 1
carries errors, $N = 1$; or nothing is truncated, affine maps) the grid point nearest the orbit
radius is taken, so that $\max_s\|\tilde u_s\| \approx 1$.

Every matrix is first built at $\gamma = 1$ and then rescaled as the similarity
$C_{j,m} \mapsto \gamma^{m-j}C_{j,m}$ (paper.md §3.2), which is what $u = \gamma\tilde u$ does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse
import scipy.special
from numpy.typing import NDArray

from qrtc.errors import AssumptionError, CompileError
from qrtc.ir.carleman import (
    CarlemanMaps,
    CarlemanMatrix,
    freeze_sparse,
    level_offset,
    lifted_size,
)
from qrtc.ir.polynomial_maps import PolynomialMap, PolynomialMaps, SparseTensor
from qrtc.ir.problem import CompileOptions
from qrtc.numerics.sparse_tensors import apply_tensor

__all__ = [
    "MAX_KRON_ENTRIES",
    "MAX_LIFTED_SIZE",
    "MAX_ORDER",
    "carleman_embed",
    "spectral_norm",
]

MAX_ORDER = 16
MAX_LIFTED_SIZE = 4_000_000
MAX_KRON_ENTRIES = 30_000_000
# The orbit (error estimates, auto scale) is iterated up to this many sub-steps x map entries;
# beyond, no error is estimated and both options must be given.
_MAX_ORBIT_STEPS = 200_000
_MAX_ORBIT_WORK = 200_000_000
# The forward recurrence (measured error) runs up to this many sub-steps x Carleman entries.
_MAX_RECURRENCE_WORK = 200_000_000
# ||C||_2 exactly (dense) up to this D_N, an upper bound beyond; ||A_k||_2 exactly up to this d_z.
_EXACT_NORM_SIZE = 1000
_EXACT_COEFFICIENT_NORM_SIZE = 1024

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Csr = scipy.sparse.csr_array


def carleman_embed(maps: PolynomialMaps, *, options: CompileOptions) -> CarlemanMaps:
    r"""Lift both sub-maps to their truncated, rescaled Carleman matrices (paper.md §3.2).

    Args:
        maps: the attack and learner maps on $u = z - z^\star$, with the schedule.
        options: ``carleman_order`` ($N$, None = auto), ``scale`` ($\gamma$, None = auto) and
            ``precision`` (target of the auto order: the 2-norm error of the read-out
            $\hat\theta_T$, in the units of $\theta$).

    Returns:
        $C_{\mathcal A}$, $C_{\mathcal L}$ as CSR with their norms and sparsities, and the
        truncation error of the read-out after $S$ sub-steps: measured (on $\theta$), bounded a
        priori (on all of $z$), and the $\gamma$-dependent bound that the auto scale minimises.

    Raises:
        CompileError: no buildable order meets the precision, a given order is not buildable, the
            scale is not a positive finite number, or ``auto`` needs the orbit of a horizon too
            long to iterate.
        AssumptionError: the maps' own orbit from $z_0$ overflows.
    """
    span = options.span or maps.origin
    profiles = (_MapProfile.of(maps.attack), _MapProfile.of(maps.learner))
    orbit = _Orbit.of(maps)
    # 0 (attack) or 1 (learner) for sub-steps 1..S; only where the orbit is short enough.
    steps = np.arange(1, maps.n_substeps + 1) if orbit is not None else np.zeros(0, np.intp)
    schedule = (steps % (maps.pgd_steps + 1) == 0).astype(np.intp)
    for option in ("carleman_order", "scale"):
        if getattr(options, option) is None and orbit is None:
            raise CompileError(
                f"{option} = auto needs the orbit of all {maps.n_substeps} sub-steps, "
                "which is too long to iterate",
                span=span,
                hint="give carleman_order and scale explicitly",
            )

    if options.carleman_order is None:
        assert orbit is not None
        order, unit = _auto_order(maps, profiles, orbit, schedule, options)
    else:
        order = options.carleman_order
        if order < 1:
            raise CompileError(f"carleman_order must be at least 1, not {order!r}", span=span)
        reason = _unbuildable(profiles, maps.state_size, order)
        if reason:
            raise CompileError(
                f"carleman_order = {order} is too large: {reason}",
                span=span,
                hint="lower carleman_order, or shrink the model or the batch",
            )
        unit = (_carleman_csr(maps.attack, order), _carleman_csr(maps.learner, order))

    measured = bound = None
    if orbit is not None:
        tails = _exact_tails(orbit.grams, order)
        bound = _error_bound(profiles, order, tails, schedule)
        measured = _measured_error(unit, order, orbit, schedule, maps.n_params)

    if options.scale is None:
        assert orbit is not None
        scale = _auto_scale(profiles, order, orbit, tails, schedule)
    else:
        scale = float(options.scale)
        if not (math.isfinite(scale) and scale > 0):
            raise CompileError(f"scale must be a positive number, not {scale!r}", span=span)
    scaled_bound = None
    if orbit is not None:
        scaled_bound = float(
            _scaled_error_bounds(profiles, order, tails, schedule, np.array([scale]))[0]
        )

    attack, learner = (
        _carleman_matrix(
            polynomial, profile, _rescaled(matrix, maps.state_size, order, scale), order, scale
        )
        for polynomial, profile, matrix in zip(
            (maps.attack, maps.learner), profiles, unit, strict=True
        )
    )
    return CarlemanMaps(
        attack=attack,
        learner=learner,
        order=order,
        scale=scale,
        degree=maps.degree,
        state_size=maps.state_size,
        n_params=maps.n_params,
        horizon=maps.horizon,
        pgd_steps=maps.pgd_steps,
        expansion_point=maps.expansion_point,
        initial_state=maps.initial_state,
        orbit_radius=None if orbit is None else float(np.max(orbit.norms)),
        truncation_error=measured,
        truncation_error_bound=bound,
        scaled_error_bound=scaled_bound,
        order_is_auto=options.carleman_order is None,
        scale_is_auto=options.scale is None,
        origin=maps.origin,
    )


# ---------------------------------------------------------------------------------------------
# Coefficient norms, sparsities and their polynomial powers (paper.md §3.4, §4.2).


@dataclass(frozen=True, slots=True)
class _MapProfile:
    r"""Unscaled $(\|b_0\|, \|A_1\|, \dots)$, entry counts, largest row / column counts."""

    norms: FloatArray  # shape (q + 1,)
    entries: tuple[int, ...]  # nnz of b0, A_1, ..., A_q
    row_counts: tuple[int, ...]  # 1 if b0 != 0 else 0, then the largest row count of each A_k
    column_counts: tuple[int, ...]  # nnz(b0), then the largest column count of each A_k

    @staticmethod
    def of(polynomial: PolynomialMap) -> _MapProfile:
        b0_nnz = int(np.count_nonzero(polynomial.constant))
        norms = [float(np.linalg.norm(polynomial.constant))]
        entries, rows, columns = [b0_nnz], [min(b0_nnz, 1)], [b0_nnz]
        for term in polynomial.terms:
            norm, row_count, column_count = _tensor_statistics(term)
            norms.append(norm)
            entries.append(term.nnz)
            rows.append(row_count)
            columns.append(column_count)
        return _MapProfile(np.array(norms), tuple(entries), tuple(rows), tuple(columns))

    def block_bounds(self, order: int) -> FloatArray:
        r"""$[x^m]P(x)^j$, $j = 1..N$, $m = 1..N$: bounds on $\|C_{j,m}\|_2$ at $\gamma = 1$."""
        return _polynomial_powers(self.norms, order)[1:, 1 : order + 1]


def _tensor_statistics(term: SparseTensor) -> tuple[float, int, int]:
    r"""$\|A_k\|_2$ (or the bound $\sqrt{\|A\|_1\|A\|_\infty}$ beyond
    ``_EXACT_COEFFICIENT_NORM_SIZE``), largest row count, largest column count."""
    if term.nnz == 0:
        return 0.0, 0, 0
    _, column_ids = np.unique(term.columns, axis=0, return_inverse=True)
    column_ids = column_ids.reshape(-1)
    n_columns = int(column_ids.max()) + 1
    compressed = scipy.sparse.csr_array(
        (term.values, (term.rows, column_ids)), shape=(term.size, n_columns)
    )
    if term.size <= _EXACT_COEFFICIENT_NORM_SIZE:
        norm = spectral_norm(compressed.T.toarray())
    else:
        norm = _schur_bound(compressed)
    row_count = int(np.max(np.bincount(term.rows)))
    return norm, row_count, int(np.max(np.bincount(column_ids)))


def spectral_norm(matrix: FloatArray) -> float:
    r"""$\|M\|_2 = \sqrt{\lambda_{\max}(M^\top M)}$ of a dense matrix (a symmetric eigenvalue
    problem, several times cheaper than an SVD)."""
    return math.sqrt(max(float(np.linalg.eigvalsh(matrix.T @ matrix)[-1]), 0.0))


def _schur_bound(matrix: Csr) -> float:
    r"""$\sqrt{\|M\|_1\|M\|_\infty} \ge \|M\|_2$."""
    magnitudes = abs(matrix)
    return math.sqrt(float(magnitudes.sum(axis=0).max()) * float(magnitudes.sum(axis=1).max()))


def _polynomial_powers(coefficients: FloatArray, order: int) -> FloatArray:
    r"""$[x^m]P(x)^j$ for $j = 0..N$, $m = 0..Nq$, shape ``(N + 1, N q + 1)``."""
    degree = len(coefficients) - 1
    powers = np.zeros((order + 1, order * degree + 1))
    powers[0, 0] = 1.0
    for j in range(1, order + 1):
        product = np.convolve(powers[j - 1, : (j - 1) * degree + 1], coefficients)
        powers[j, : product.shape[0]] = product
    return powers


def _integer_powers(counts: tuple[int, ...], order: int) -> list[list[int]]:
    """``[x^m] (sum_k counts[k] x^k)^j`` for j, m = 0..N, in exact integers."""
    powers = [[1] + [0] * order]
    for _ in range(order):
        previous = powers[-1]
        powers.append(
            [
                sum(counts[k] * previous[m - k] for k in range(min(m, len(counts) - 1) + 1))
                for m in range(order + 1)
            ]
        )
    return powers


def _unbuildable(profiles: tuple[_MapProfile, ...], state_size: int, order: int) -> str:
    """Why order N cannot be built ('' if it can)."""
    size = lifted_size(state_size, order)
    if size > MAX_LIFTED_SIZE:
        return f"the lifted dimension D_N = {size} exceeds {MAX_LIFTED_SIZE}"
    for profile in profiles:
        entries = sum(sum(row) for row in _integer_powers(profile.entries, order))
        if entries > MAX_KRON_ENTRIES:
            return f"a Carleman matrix could hold {entries} entries (limit {MAX_KRON_ENTRIES})"
    return ""


# ---------------------------------------------------------------------------------------------
# The orbit and the truncation-error estimates (paper.md §3.4).


@dataclass(frozen=True, slots=True)
class _Orbit:
    r"""The maps' exact orbit $u_{s+1} = F_{s+1}(u_s)$ from $u_0 = z_0 - z^\star$.

    ``grams[s]`` is $G_{kk'} = \langle v_k, v_{k'}\rangle$ with $v_0 = b_0$,
    $v_k = A_k u_s^{\otimes k}$ of the map of sub-step $s+1$ (so $u_{s+1} = \sum_k v_k$).
    """

    norms: FloatArray  # ||u_s||, s = 0..S
    grams: FloatArray  # shape (S, Q + 1, Q + 1)
    initial: FloatArray  # u_0
    final: FloatArray  # u_S

    @staticmethod
    def of(maps: PolynomialMaps) -> _Orbit | None:
        entries = sum(t.nnz for t in maps.attack.terms + maps.learner.terms) + maps.state_size
        if maps.n_substeps > _MAX_ORBIT_STEPS or maps.n_substeps * entries > _MAX_ORBIT_WORK:
            return None
        width = max(len(maps.attack.terms), len(maps.learner.terms)) + 1
        grams = np.zeros((maps.n_substeps, width, width))
        norms = np.empty(maps.n_substeps + 1)
        initial = deviation = maps.initial_state - maps.expansion_point
        norms[0] = np.linalg.norm(deviation)
        with np.errstate(all="ignore"):
            for substep in range(1, maps.n_substeps + 1):
                polynomial = maps.map_at(substep)
                images = [polynomial.constant] + [
                    apply_tensor(term, deviation) for term in polynomial.terms
                ]
                stacked = np.array(images)
                grams[substep - 1, : len(images), : len(images)] = stacked @ stacked.T
                deviation = stacked.sum(axis=0)
                norms[substep] = np.linalg.norm(deviation)
                if not norms[substep] <= 1e100:
                    raise AssumptionError(
                        f"the polynomial maps' orbit from z0 diverges: |z - z*| = "
                        f"{norms[substep]:.3g} after sub-step {substep} of {maps.n_substeps}",
                        span=maps.origin,
                        hint="lower the step sizes or the horizon "
                        "(local stability, paper.md §2 A1)",
                    )
        return _Orbit(norms, grams, initial, deviation)


def _exact_tails(grams: FloatArray, order: int) -> FloatArray:
    r"""$\|\tau_s^{(j)}\|$, shape ``(S, N)``, with no matrix built.

    $\tau_s^{(j)} = \sum_{k_1 + \dots + k_j > N} v_{k_1} \otimes \cdots \otimes v_{k_j}$, so
    $\|\tau^{(j)}\|^2 = \sum_{c, c'} \prod_i G_{c_i c'_i}$ over pairs of such compositions: a
    dynamic programme over the factors whose state is the two partial degrees, every degree
    above $N$ merged into one bin (``shifts[k]`` adds $k$ to a degree, saturating).
    """
    steps, width, _ = grams.shape
    bins = order + 2
    shifts = np.zeros((width, bins, bins))
    for k in range(width):
        shifts[k, np.minimum(np.arange(bins) + k, bins - 1), np.arange(bins)] = 1.0
    tails = np.zeros((steps, order))
    for start in range(0, steps, 4096):
        gram = grams[start : start + 4096]
        table = np.zeros((gram.shape[0], bins, bins))
        table[:, 0, 0] = 1.0
        for level in range(order):
            left = np.einsum("kab,sbc->skac", shifts, table)
            mixed = np.einsum("skl,skac->slac", gram, left)
            table = np.einsum("slac,ldc->sad", mixed, shifts)
            tails[start : start + 4096, level] = np.sqrt(np.maximum(table[:, -1, -1], 0.0))
    return tails


def _error_bound(
    profiles: tuple[_MapProfile, ...], order: int, tails: FloatArray, schedule: NDArray[np.intp]
) -> float:
    r"""$(E_S)_1$ with $E_{s+1} = M_{s+1}E_s + \|\tau_s^{(\cdot)}\|$, $E_0 = 0$."""
    propagators = [profile.block_bounds(order) for profile in profiles]
    bound = np.zeros(order)
    with np.errstate(all="ignore"):
        for step, kind in enumerate(schedule):
            bound = propagators[kind] @ bound + tails[step]
    value = float(bound[0])
    return value if math.isfinite(value) else math.inf


def _measured_error(
    unit: tuple[Csr, Csr],
    order: int,
    orbit: _Orbit,
    schedule: NDArray[np.intp],
    n_params: int,
) -> float | None:
    r"""$\|\hat u_{\theta,S} - u_{\theta,S}\|_2$ (level 1, first $n$ coordinates) from the
    recurrence $\hat Y_{s+1} = C_{s+1}\hat Y_s$ at $\gamma = 1$."""
    if len(schedule) * max(matrix.nnz for matrix in unit) > _MAX_RECURRENCE_WORK:
        return None
    state = _kron_lift(orbit.initial, order)
    with np.errstate(all="ignore"):
        for kind in schedule:
            state = unit[kind] @ state
        value = float(np.linalg.norm(state[1 : 1 + n_params] - orbit.final[:n_params]))
    return value if math.isfinite(value) else math.inf


def _kron_lift(deviation: FloatArray, order: int) -> FloatArray:
    r"""$(1, u, u^{\otimes 2}, \dots, u^{\otimes N})$ at $\gamma = 1$."""
    levels: list[FloatArray] = [np.ones(1)]
    for _ in range(order):
        levels.append(np.asarray(np.kron(levels[-1], deviation), dtype=np.float64))
    return np.concatenate(levels)


def _scaled_error_bounds(
    profiles: tuple[_MapProfile, ...],
    order: int,
    tails: FloatArray,
    schedule: NDArray[np.intp],
    scales: FloatArray,
) -> FloatArray:
    r"""$\gamma\sum_{s<S}\prod_{s'=s+2}^{S}\|\tilde M_{s'}\|_2\,\|\tilde\tau_s\|$ for each $\gamma$.

    Rescaled, the level-$j$ tail is $\gamma^{-j}$ times the unscaled one and the block bound of
    $C_{j,m}$ is $\gamma^{m-j}[x^m]P^j$ (levels $\ge 1$: level 0 of the error is 0).
    """
    levels = np.arange(1, order + 1, dtype=np.float64)
    blocks = [profile.block_bounds(order) for profile in profiles]
    learner_after = np.concatenate([np.cumsum(schedule[::-1])[::-1][1:], [0]])
    attack_after = len(schedule) - 1 - np.arange(len(schedule)) - learner_after
    results = np.empty(len(scales))
    with np.errstate(all="ignore"):
        for index, scale in enumerate(scales):
            similarity = scale ** (levels[None, :] - levels[:, None])
            log_norms = [np.log(np.linalg.norm(similarity * block, 2)) for block in blocks]
            log_tails = np.log(np.linalg.norm(tails * scale ** (-levels), axis=1))
            log_weights = np.where(attack_after > 0, attack_after * log_norms[0], 0.0)
            log_weights += np.where(learner_after > 0, learner_after * log_norms[1], 0.0)
            total = float(scipy.special.logsumexp(log_weights + log_tails))
            results[index] = scale * math.exp(total) if total < 700 else math.inf
    return np.nan_to_num(results, nan=math.inf)


def _auto_order(
    maps: PolynomialMaps,
    profiles: tuple[_MapProfile, ...],
    orbit: _Orbit,
    schedule: NDArray[np.intp],
    options: CompileOptions,
) -> tuple[int, tuple[Csr, Csr]]:
    tried: list[str] = []
    for order in range(1, MAX_ORDER + 1):
        reason = _unbuildable(profiles, maps.state_size, order)
        if reason:
            tried.append(f"N = {order}: {reason}")
            break
        unit = (_carleman_csr(maps.attack, order), _carleman_csr(maps.learner, order))
        error = _measured_error(unit, order, orbit, schedule, maps.n_params)
        if error is None:
            tails = _exact_tails(orbit.grams, order)
            error = _error_bound(profiles, order, tails, schedule)
        if error <= options.precision:
            return order, unit
        tried.append(f"N = {order}: error {error:.3g}")
    raise CompileError(
        f"no Carleman order meets precision {options.precision:g}: " + "; ".join(tried),
        span=options.span or maps.origin,
        hint="raise precision, shorten the horizon or the attack, or give carleman_order",
    )


def _auto_scale(
    profiles: tuple[_MapProfile, ...],
    order: int,
    orbit: _Orbit,
    tails: FloatArray,
    schedule: NDArray[np.intp],
) -> float:
    radius = float(np.max(orbit.norms))
    centre = math.log10(radius) if radius > 0 else 0.0
    grid = np.linspace(centre - 3.0, centre + 3.0, 121)
    values = _scaled_error_bounds(profiles, order, tails, schedule, 10.0**grid)
    lowest = float(np.min(values))
    if not math.isfinite(lowest):
        return float(10.0**centre)
    # Among the (near-)minimisers, the one nearest the orbit radius: the bound is flat in gamma
    # when only level 1 carries errors (N = 1) and 0 when nothing is truncated.
    near = np.flatnonzero(values <= lowest * (1 + 1e-6))
    best = int(near[np.argmin(np.abs(grid[near] - centre))])
    if values[best] == 0 or len(near) > 1:
        return float(10.0 ** grid[best])

    def objective(log_scale: float) -> float:
        scales = np.array([10.0**log_scale])
        return float(_scaled_error_bounds(profiles, order, tails, schedule, scales)[0])

    step = float(grid[1] - grid[0])
    result = scipy.optimize.minimize_scalar(
        objective, bounds=(grid[best] - step, grid[best] + step), method="bounded"
    )
    refined = float(result.x)
    return float(10.0 ** (refined if objective(refined) < values[best] else float(grid[best])))


# ---------------------------------------------------------------------------------------------
# The Carleman matrix, from COO index arithmetic (paper.md §3.2).


@dataclass(frozen=True, slots=True)
class _Coo:
    rows: IntArray
    columns: IntArray
    values: FloatArray
    shape: tuple[int, int]


def _canonical(pieces: list[_Coo], shape: tuple[int, int]) -> _Coo:
    """The sum of ``pieces`` with duplicates summed and cancelled entries dropped."""
    if not pieces:
        empty = np.zeros(0, dtype=np.int64)
        return _Coo(empty, empty, np.zeros(0), shape)
    matrix = scipy.sparse.coo_array(
        (
            np.concatenate([p.values for p in pieces]),
            (np.concatenate([p.rows for p in pieces]), np.concatenate([p.columns for p in pieces])),
        ),
        shape=shape,
    ).tocsr()
    matrix.eliminate_zeros()
    coo = matrix.tocoo()
    return _Coo(coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data, shape)


def _kron(left: _Coo, right: _Coo) -> _Coo:
    r"""$A \otimes B$ (row-major, as ``numpy.kron``), duplicates not summed."""
    rows = (left.rows[:, None] * right.shape[0] + right.rows[None, :]).reshape(-1)
    columns = (left.columns[:, None] * right.shape[1] + right.columns[None, :]).reshape(-1)
    values = (left.values[:, None] * right.values[None, :]).reshape(-1)
    shape = (left.shape[0] * right.shape[0], left.shape[1] * right.shape[1])
    return _Coo(rows, columns, values, shape)


def _carleman_csr(polynomial: PolynomialMap, order: int) -> Csr:
    r"""$C$ at $\gamma = 1$, level by level: with $R_1(x) = \sum_k A_k x^k$ ($A_0 = b_0$) and
    $R_j = R_1 \otimes R_{j-1}$, $C_{j,m} = [x^m]R_j$, each partial product truncated at
    $m \le N$ (degrees only add, so truncating early drops nothing that is kept)."""
    d = polynomial.state_size
    nonzero = np.flatnonzero(polynomial.constant).astype(np.int64)
    first = [_Coo(nonzero, np.zeros_like(nonzero), polynomial.constant[nonzero], (d, 1))]
    for term in polynomial.terms[:order]:
        shape = (d, d**term.degree)
        first.append(_Coo(term.rows.astype(np.int64), term.flat_columns(), term.values, shape))
    first += [_canonical([], (d, d**m)) for m in range(len(first), order + 1)]
    pieces = [_Coo(np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1), (1, 1))]
    current = first
    for level in range(1, order + 1):
        if level > 1:
            current = [
                _canonical(
                    [_kron(first[k], current[m - k]) for k in range(m + 1)],
                    (d**level, d**m),
                )
                for m in range(order + 1)
            ]
        for m, block in enumerate(current):
            rows, columns = block.rows + level_offset(d, level), block.columns + level_offset(d, m)
            pieces.append(_Coo(rows, columns, block.values, block.shape))
    size = lifted_size(d, order)
    matrix = _canonical(pieces, (size, size))
    return scipy.sparse.csr_array(
        (matrix.values, (matrix.rows, matrix.columns)), shape=(size, size)
    )


def _levels(indices: NDArray[np.integer], state_size: int, order: int) -> IntArray:
    """The Carleman level of each lifted index."""
    offsets = np.array([level_offset(state_size, j) for j in range(order + 2)], dtype=np.int64)
    return np.searchsorted(offsets, indices, side="right").astype(np.int64) - 1


def _rescaled(unit: Csr, state_size: int, order: int, scale: float) -> Csr:
    r"""$C_{j,m} \mapsto \gamma^{m-j}C_{j,m}$: the matrix of the rescaled map."""
    size = unit.shape[0]
    row_levels = np.repeat(_levels(np.arange(size), state_size, order), np.diff(unit.indptr))
    column_levels = _levels(unit.indices, state_size, order)
    values = unit.data * np.float64(scale) ** (column_levels - row_levels).astype(np.float64)
    matrix = scipy.sparse.csr_array((values, unit.indices, unit.indptr), shape=unit.shape)
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return freeze_sparse(matrix)


def _carleman_matrix(
    polynomial: PolynomialMap, profile: _MapProfile, matrix: Csr, order: int, scale: float
) -> CarlemanMatrix:
    scaled_norms = profile.norms * scale ** (np.arange(len(profile.norms)) - 1.0)
    if matrix.shape[0] <= _EXACT_NORM_SIZE:
        norm, exact = spectral_norm(matrix.toarray()), True
    else:
        blocks = _polynomial_powers(scaled_norms, order)[:, : order + 1]
        norm, exact = min(_schur_bound(matrix), float(np.linalg.norm(blocks, 2))), False
    row_powers = _integer_powers(profile.row_counts, order)
    column_powers = _integer_powers(profile.column_counts, order)
    return CarlemanMatrix(
        kind=polynomial.kind,
        matrix=matrix,
        coefficient_norms=tuple(float(v) for v in scaled_norms),
        norm=norm,
        norm_is_exact=exact,
        row_sparsity=int(np.max(np.diff(matrix.indptr))),
        column_sparsity=int(np.max(np.bincount(matrix.indices, minlength=matrix.shape[0]))),
        row_sparsity_bound=max(sum(row) for row in row_powers),
        column_sparsity_bound=max(sum(row[m] for row in column_powers) for m in range(order + 1)),
    )
