r"""Norms of products of the Carleman step matrices over windows of the schedule (paper.md §5).

A window of length $\ell$ starting after sub-step $s$ is $W = C_{s+\ell}\cdots C_{s+1}$ (the
empty window is $I$). The schedule has period $K+1$ (sub-steps $1..K$ attack, $K+1$ learner), so
a window is fixed by its start phase $\varphi = s \bmod (K+1)$ and its length. This module
computes $M_\ell = \max_\varphi \|W(\varphi, \ell)\|_2$ exactly (dense products) up to a cap,
and bounds every longer window by a *tail* constant:

* **spectral projector** (the usual case: the lifted constant makes 1 an eigenvalue of the
  period propagator $P = C_{K+1}\cdots C_1$, and an undamped rotation gives a unimodular pair):
  when the eigenvalues $\lambda_c$ of modulus 1 are semisimple and every other one has modulus
  $< 1$, $P^m = \sum_c \lambda_c^m\Pi_c + R^m$ with $\Pi_c$ the spectral projectors and
  $\rho(R) < 1$, so with $W = \mathrm{pre}\,P^m\,\mathrm{suf}$,
  $\|W\| \le \sum_c\|\mathrm{pre}\,\Pi_c\,\mathrm{suf}\| +
  \|\mathrm{pre}\|\|\mathrm{suf}\|\|R^m\|$ and
  $\|R^{q m_0 + r}\| \le \|R^{m_0}\|^q \max_{r < m_0}\|R^r\|$ (sub-multiplicativity). The bound
  tends to the true limit as the cap grows; it is computed in floating point, with a relative
  slack of ``_SLACK``.
* **per-step norms** otherwise: $\|W\| \le \prod \max(1, \|C\|)$, which grows geometrically in
  the horizon (the paper's $\Lambda$ is then not $O(1)$: assumption A3 fails).

:func:`inverse_norm_bound` turns the window norms into a bound on $\|\mathbf L^{-1}\|$ by the
Schur test on the matrix of block norms, much tighter than $n_b\Lambda$ (paper.md §5) when the
dynamics settle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from qrtc.ir.carleman import CarlemanMaps

__all__ = ["WindowNorms", "inverse_norm_bound", "live_coordinates", "window_norms"]

# Dense products only while (K+1) * cap * D^3 stays below this many flops, and D below
# _MAX_DENSE_SIZE; the cap on the window length keeps the estimate fast at any horizon.
_MAX_WORK = 5e8
_MAX_DENSE_SIZE = 600
_MAX_LENGTH = 4096
_SLACK = 1e-9
_BATCH = 256
# ||R^m0|| <= 1/2 must come within this many periods for the projector tail.
_MAX_CONTRACTION_PERIODS = 4096
# The projector tail takes (K+1)^2 dense norms for its prefix/suffix pairs plus m0 for the decay
# (m0 = 1024 periods for sparse_features x32, 26 s): up to this many more, take every window.
_MIN_TAIL_NORMS = 64

TailKind = Literal["none", "spectral projector", "per-step norms"]


@dataclass(frozen=True, slots=True)
class WindowNorms:
    r"""Window norms of one schedule.

    Attributes:
        by_phase: ``by_phase[phi, l]`` $= \|W(\varphi, \ell)\|_2$ for $\ell \le$ ``cap``,
            shape ``(K + 1, cap + 1)``; exact (dense) when ``exact``, else all 1 (unknown).
        tail: a bound on $\|W\|$ for every window longer than ``cap`` ($\infty$ if none).
        tail_kind: how ``tail`` was found.
        exact: the computed norms are exact.
        per_step: $\max(1,\|C_{\mathcal A}\|)^K\max(1,\|C_{\mathcal L}\|)$, the per-period growth
            of the per-step bound.
    """

    by_phase: NDArray[np.float64]
    tail: float
    tail_kind: TailKind
    exact: bool
    per_step: float

    @property
    def cap(self) -> int:
        return int(self.by_phase.shape[1] - 1)

    @property
    def period(self) -> int:
        return int(self.by_phase.shape[0])

    def _per_step_bound(self, length: int) -> float:
        log = math.ceil(length / self.period) * math.log(self.per_step)
        return math.exp(log) if log < 700 else math.inf

    def tail_bound(self, substeps: int) -> float:
        """A bound on every window of length in ``(cap, substeps]``."""
        if substeps <= self.cap:
            return 0.0
        if self.tail_kind == "spectral projector":
            return self.tail
        return self._per_step_bound(substeps)

    def propagator(self, substeps: int) -> float:
        r"""$\Lambda = \max(1, \max \|W\|)$ over the windows inside sub-steps $1..S$."""
        largest = 1.0
        for phase in range(min(self.period, substeps)):
            largest = max(largest, float(np.max(self.by_phase[phase, : substeps - phase + 1])))
        return max(largest, self.tail_bound(substeps))

    def propagator_is_exact(self, substeps: int) -> bool:
        return self.exact and substeps <= self.cap

    def window_sum(self, substeps: int) -> float:
        r"""$\sum_{\ell=0}^{S} M_\ell$, $M_\ell$ the largest window norm of length $\ell$."""
        largest = np.max(self.by_phase[:, : substeps + 1], axis=0)
        return float(np.sum(largest)) + max(0, substeps - self.cap) * self.tail_bound(substeps)


def inverse_norm_bound(windows: WindowNorms, substeps: int, padding: int) -> float:
    r"""$\|\mathbf L^{-1}\|_2 \le \min(n_b\Lambda, \sqrt{(\Sigma_S + p)(\Sigma_S + p\Lambda)})$.

    Block $(i, j)$ of $\mathbf L^{-1}$ is the window from block $j$ to block $i$ (idling blocks
    multiply by $I$), so a block row sums to at most $\Sigma_S + p$ and a block column to at
    most $\Sigma_S + p\Lambda$, with $\Sigma_S = \sum_{\ell \le S} M_\ell$; the Schur test on
    the block-norm matrix bounds $\|\mathbf L^{-1}\|_2$ by the geometric mean.
    """
    propagator = windows.propagator(substeps)
    n_blocks = substeps + 1 + padding
    total = windows.window_sum(substeps)
    schur = math.sqrt((total + padding) * (total + padding * propagator))
    return min(n_blocks * propagator, schur)


def live_coordinates(carleman: CarlemanMaps) -> NDArray[np.intp]:
    r"""The lifted coordinates $C_{\mathcal A}$ or $C_{\mathcal L}$ reads or writes, in order.

    Every other coordinate is idle: its row and column are zero in both (a perturbation that
    ``support = data`` pins to 0, and the monomials that contain it), so a product of steps is
    zero there and $\mathbf L$ restricted to it is $I$ over the Carleman blocks and the padding
    chain $I - N$ over the last $p + 1$ blocks.
    """
    touched = np.zeros(carleman.lifted_size, dtype=bool)
    for step in (carleman.attack.matrix, carleman.learner.matrix):
        coo = step.tocoo()
        nonzero = coo.data != 0
        touched[coo.row[nonzero]] = True
        touched[coo.col[nonzero]] = True
    return np.flatnonzero(touched)


def window_norms(carleman: CarlemanMaps, substeps: int | None = None) -> WindowNorms:
    """The window norms of ``carleman``'s schedule, exact up to ``min(substeps, cap)``.

    The products are taken on the live coordinates only: a window of length >= 1 is zero on the
    idle ones, so its norm is that of its live part.
    """
    live = live_coordinates(carleman)
    size, period = live.size, carleman.pgd_steps + 1
    substeps = carleman.n_substeps if substeps is None else substeps
    per_step = max(1.0, carleman.attack.norm) ** carleman.pgd_steps * max(
        1.0, carleman.learner.norm
    )
    cap = min(substeps, _MAX_LENGTH, int(_MAX_WORK // (period * size**3)))
    if period * substeps <= period**2 + _MIN_TAIL_NORMS:
        # Every window is no more dense norms than the projector tail would take.
        cap = min(substeps, _MAX_LENGTH)
    if size > _MAX_DENSE_SIZE or cap < 1:
        return WindowNorms(np.ones((period, 1)), math.inf, "per-step norms", False, per_step)
    attack = carleman.attack.matrix[live][:, live].toarray()
    learner = carleman.learner.matrix[live][:, live].toarray()
    steps = [attack] * carleman.pgd_steps + [learner]  # sub-steps 1..K+1 of one period
    by_phase = np.ones((period, cap + 1))
    for phase in range(period):
        product = np.eye(size)
        batch: list[NDArray[np.float64]] = []
        for length in range(1, cap + 1):
            product = steps[(phase + length - 1) % period] @ product
            batch.append(product)
            if len(batch) == _BATCH or length == cap:
                first = length - len(batch) + 1
                by_phase[phase, first : length + 1] = np.linalg.norm(
                    np.stack(batch), ord=2, axis=(1, 2)
                )
                batch = []
    tail, kind = math.inf, "per-step norms"
    if substeps > cap:
        projector_tail = _projector_tail(steps, cap)
        if projector_tail is not None:
            tail, kind = projector_tail, "spectral projector"
    return WindowNorms(by_phase, tail, kind, True, per_step)  # type: ignore[arg-type]


def _projector_tail(steps: list[NDArray[np.float64]], cap: int) -> float | None:
    r"""A bound on every window longer than ``cap`` from the spectral projector of $P$ at 1."""
    period, size = len(steps), steps[0].shape[0]
    propagator = np.eye(size)
    for step in steps:
        propagator = step @ propagator
    values, vectors = np.linalg.eig(propagator)
    peripheral = np.abs(np.abs(values) - 1.0) < 1e-8
    if np.any(np.abs(values[~peripheral]) >= 1.0 - 1e-9):
        return None
    if np.linalg.cond(vectors) > 1e8:
        return None  # defective or nearly so: the projectors are not to be trusted
    left = np.linalg.inv(vectors)
    # One spectral projector per distinct unimodular eigenvalue (1, or a rotation pair).
    clusters: list[tuple[complex, NDArray[np.complex128]]] = []
    remaining = list(np.flatnonzero(peripheral))
    while remaining:
        value = values[remaining[0]]
        members = [k for k in remaining if abs(values[k] - value) < 1e-8]
        remaining = [k for k in remaining if k not in members]
        clusters.append((complex(value), vectors[:, members] @ left[members, :]))
    scale = max(1.0, float(np.linalg.norm(propagator, 2)))
    rest = propagator.astype(np.complex128)
    for value, projector in clusters:
        if np.linalg.norm(propagator @ projector - value * projector, 2) > 1e-8 * scale:
            return None
        rest = rest - value * projector
    # Windows longer than cap hold at least m_min whole periods. With ||R^m0|| <= 1/2
    # (m0 = 2^k, by repeated squaring), every m >= m_min is j + q m0 with j in
    # [m_min, m_min + m0), so sup_{m >= m_min} ||R^m|| <= max over that range of ||R^j||.
    m_min = max(1, (cap + 1 - 2 * (period - 1)) // period)
    power, m0 = rest, 1
    while float(np.linalg.norm(power, 2)) > 0.5:
        if m0 >= _MAX_CONTRACTION_PERIODS:
            return None
        power, m0 = power @ power, 2 * m0
    power = np.linalg.matrix_power(rest, m_min)
    decay = 0.0
    for _ in range(m0):
        decay = max(decay, float(np.linalg.norm(power, 2)))
        power = rest @ power
    if not math.isfinite(decay):
        return None
    prefixes = [np.eye(size)]
    for step in steps[:-1]:
        prefixes.append(step @ prefixes[-1])
    suffixes = [np.eye(size)]
    for step in reversed(steps[1:]):
        suffixes.append(suffixes[-1] @ step)
    bound = 0.0
    for before in prefixes:
        for after in suffixes:
            # sup over m of |sum_c value_c^m before Pi_c after| <= sum_c |before Pi_c after|.
            limit = sum(
                float(np.linalg.norm(before @ projector @ after, 2)) for _, projector in clusters
            )
            rest_part = float(np.linalg.norm(before, 2) * np.linalg.norm(after, 2)) * decay
            bound = max(bound, limit + rest_part)
    return bound * (1 + _SLACK) + _SLACK
