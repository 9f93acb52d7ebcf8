r"""Stage 2 IR: the attack and learner sub-maps as sparse polynomial coefficient tensors.

On the joint state $z = (\theta, \delta_1, \dots, \delta_M) \in \mathbb{R}^{d_z}$, $d_z = n + Md$,
(layout: $\theta$ first, then $\delta_i$ flattened row-major, sample by sample, so $\delta_{i,a}$ is
coordinate $n + i d + a$), each PGD sub-step is a polynomial map in the deviation
$u = z - z^\star$ from the expansion point $z^\star$ (paper.md §2 A0):

$$\mathcal F(z^\star + u) = z^\star + b_0 + \sum_{k=1}^{q} A_k\,u^{\otimes k},
\qquad b_0 \in \mathbb{R}^{d_z},\ A_k \in \mathbb{R}^{d_z \times d_z^k}.$$

For the polynomial models qrtc accepts, $z^\star = 0$ and the maps are exact (design.md §2 item 5):
the attack map $\mathcal A(\theta, \delta) = (\theta, \Pi(\delta + \alpha\sigma(\nabla_\delta L)))$
and the learner map $\mathcal L(\theta, \delta) = (\theta - \frac{\eta}{M}\sum_i \nabla_\theta L_i,
\rho(\delta))$ (paper.md §1.4), with $\sigma$ and $\Pi$ made affine by freezing the sign pattern and
the clip active set seen on the reference trajectory (paper.md §3.3).

A column of $A_k$ is a multi-index $(a_1, \dots, a_k)$ into $u^{\otimes k}$; its flat index is
$\sum_i a_i d_z^{k-i}$ (row-major, the order of ``numpy.kron``). Since $u^{\otimes k}$ is symmetric
under permuting its factors, each monomial is stored once, at its non-decreasing multi-index
$a_1 \le \dots \le a_k$ (any symmetrisation gives the same map).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from qrtc.errors import SourceSpan
from qrtc.ir import _text
from qrtc.ir.expr import freeze_array

__all__ = ["FrozenPattern", "PolynomialMap", "PolynomialMaps", "SparseTensor"]


def _span() -> SourceSpan | None:
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SparseTensor:
    r"""$A \in \mathbb{R}^{d \times d^k}$ acting as $u \mapsto A\,u^{\otimes k}$, in COO form.

    Attributes:
        degree: $k \ge 1$.
        size: $d$ (rows, and the length of $u$).
        rows: shape ``(nnz,)``, int64 in ``[0, d)``.
        columns: shape ``(nnz, k)``, int64 in ``[0, d)``, each row non-decreasing.
        values: shape ``(nnz,)``, float64, no zeros.

    Invariant: the pairs ``(rows[e], columns[e])`` are distinct and sorted lexicographically.
    """

    degree: int
    size: int
    rows: NDArray[np.int64]
    columns: NDArray[np.int64]
    values: NDArray[np.float64]

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", _frozen_int(self.rows))
        object.__setattr__(self, "columns", _frozen_int(self.columns).reshape(-1, self.degree))
        object.__setattr__(self, "values", freeze_array(self.values))
        assert self.degree >= 1 and self.size >= 1
        assert self.rows.shape == self.values.shape == (self.columns.shape[0],)

    @property
    def nnz(self) -> int:
        return int(self.values.shape[0])

    def verify(self) -> None:
        """Check every invariant (O(nnz log nnz))."""
        assert np.all((self.rows >= 0) & (self.rows < self.size))
        assert np.all((self.columns >= 0) & (self.columns < self.size))
        assert np.all(np.diff(self.columns, axis=1) >= 0), "multi-indices must be non-decreasing"
        assert np.all(self.values != 0), "explicit zeros"
        assert np.all(np.isfinite(self.values)), "non-finite coefficients"
        keys = np.column_stack([self.rows, self.columns])
        order = np.lexsort(keys.T[::-1])
        assert np.array_equal(order, np.arange(self.nnz)), "entries must be sorted"
        if self.nnz > 1:
            assert np.all(np.any(np.diff(keys, axis=0) != 0, axis=1)), "duplicate entries"

    def flat_columns(self) -> NDArray[np.int64]:
        r"""Flat column indices $\sum_i a_i d^{k-i}$; needs $d^k < 2^{63}$."""
        assert self.size**self.degree < 2**63, "flat column index overflows int64"
        flat = np.zeros(self.nnz, dtype=np.int64)
        for position in range(self.degree):
            flat = flat * self.size + self.columns[:, position]
        return flat


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PolynomialMap:
    r"""$u \mapsto b_0 + \sum_{k=1}^{q} A_k u^{\otimes k}$ on $\mathbb{R}^{d_z}$.

    Attributes:
        kind: ``"attack"`` ($\mathcal A$) or ``"learner"`` ($\mathcal L$).
        constant: $b_0$, shape ``(d_z,)``.
        terms: $A_1, \dots, A_q$; ``terms[k - 1].degree == k`` (a degree with no monomial is
            an empty tensor); $q \ge 1$.
    """

    kind: Literal["attack", "learner"]
    constant: NDArray[np.float64]
    terms: tuple[SparseTensor, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "constant", freeze_array(self.constant))
        assert self.terms, "a map has at least the linear term"
        for k, term in enumerate(self.terms, start=1):
            assert term.degree == k and term.size == self.state_size

    @property
    def state_size(self) -> int:
        """$d_z$."""
        return int(self.constant.shape[0])

    @property
    def degree(self) -> int:
        """$q$: the highest degree with a non-zero coefficient (at least 1)."""
        nonzero = [term.degree for term in self.terms if term.nnz]
        return max(nonzero, default=1)

    def verify(self) -> None:
        assert np.all(np.isfinite(self.constant)), f"{self.kind}: b_0 is not finite"
        for term in self.terms:
            term.verify()

    def _text_lines(self, *, entries: int = 16) -> list[str]:
        """The ``to_text`` lines of this map: $b_0$, then each $A_k$ (entries listed when few)."""
        lines = [
            f"  {self.kind} {{",
            f"    degree = {self.degree}",
            f"    b0: nnz = {int(np.count_nonzero(self.constant))},"
            f" |b0|_2 = {_text.number(float(np.linalg.norm(self.constant)))}",
        ]
        for term in self.terms:
            largest = float(np.max(np.abs(term.values), initial=0.0))
            lines.append(
                f"    A_{term.degree}: nnz = {term.nnz}, max |entry| = {_text.number(largest)},"
                f" |A|_F = {_text.number(float(np.linalg.norm(term.values)))}"
            )
            if term.nnz <= entries:
                lines += [
                    f"      [{row}; {', '.join(str(c) for c in columns)}] = {_text.number(value)}"
                    for row, columns, value in zip(
                        term.rows.tolist(), term.columns.tolist(), term.values.tolist(), strict=True
                    )
                ]
        lines.append("  }")
        return lines


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FrozenPattern:
    r"""What made the attack affine on the reference trajectory (paper.md §3.3, A1(a)).

    Attributes:
        sign: $\mathrm{sign}(\nabla_\delta L_i)$, shape ``(M, d)`` in $\{-1, 0, 1\}$, constant over
            every attack sub-step; None unless ``grad = sign``.
        clipped: the linf clip's active set, shape ``(M, d)``: $+1$ (clipped to $+\epsilon$),
            $-1$ (to $-\epsilon$) or 0 (free), constant over every attack sub-step; None for
            l2 (whose projection must never bind).
    """

    sign: NDArray[np.int8] | None = None
    clipped: NDArray[np.int8] | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PolynomialMaps:
    r"""The two sub-maps of one problem and how they are scheduled.

    Sub-step $s = 1..S$, $S = T(K+1)$, applies ``attack`` when $s \bmod (K+1) \ne 0$ and
    ``learner`` otherwise (paper.md §1.4 "Option A"); $z_0 = (\theta_0, 0)$.

    Attributes:
        attack, learner: $\mathcal A$ and $\mathcal L$ on the deviation $u = z - z^\star$.
        expansion_point: $z^\star$, shape ``(d_z,)`` (zeros for polynomial models).
        initial_state: $z_0$, shape ``(d_z,)``.
        n_params, n_samples, input_size: $n$, $M$, $d$; $d_z = n + M d$.
        horizon, pgd_steps: $T$, $K$.
        pattern: the frozen sign pattern and clip active set.
        origin: the spec's attack block, for errors raised by later passes.
    """

    attack: PolynomialMap
    learner: PolynomialMap
    expansion_point: NDArray[np.float64]
    initial_state: NDArray[np.float64]
    n_params: int
    n_samples: int
    input_size: int
    horizon: int
    pgd_steps: int
    pattern: FrozenPattern = field(default_factory=FrozenPattern)
    origin: SourceSpan | None = _span()

    def __post_init__(self) -> None:
        object.__setattr__(self, "expansion_point", freeze_array(self.expansion_point))
        object.__setattr__(self, "initial_state", freeze_array(self.initial_state))
        d_z = self.n_params + self.n_samples * self.input_size
        assert self.attack.state_size == self.learner.state_size == d_z
        assert self.expansion_point.shape == self.initial_state.shape == (d_z,)
        assert self.attack.kind == "attack" and self.learner.kind == "learner"

    @property
    def state_size(self) -> int:
        """$d_z$."""
        return self.n_params + self.n_samples * self.input_size

    @property
    def n_substeps(self) -> int:
        """$S = T (K + 1)$."""
        return self.horizon * (self.pgd_steps + 1)

    @property
    def degree(self) -> int:
        """$q$, the larger degree of the two maps."""
        return max(self.attack.degree, self.learner.degree)

    def map_at(self, substep: int) -> PolynomialMap:
        """The map applied by sub-step ``substep`` (1-based)."""
        assert 1 <= substep <= self.n_substeps
        return self.attack if substep % (self.pgd_steps + 1) else self.learner

    def verify(self) -> None:
        """Both maps' tensors; finite $z^\\star$, $z_0 = (\\theta_0, 0)$; the attack map keeps
        $\\theta$ ($b_0$ and $A_{k \\ge 2}$ vanish on the $\\theta$ rows, $A_1$ is the identity
        there); the frozen pattern has shape ``(M, d)`` and entries in $\\{-1, 0, 1\\}$."""
        self.attack.verify()
        self.learner.verify()
        n = self.n_params
        assert self.horizon >= 1 and self.pgd_steps >= 1, (self.horizon, self.pgd_steps)
        assert np.all(np.isfinite(self.expansion_point)), "z* is not finite"
        assert np.all(np.isfinite(self.initial_state)), "z_0 is not finite"
        assert not np.any(self.initial_state[n:]), "z_0 = (theta_0, 0): delta_0 must be 0"
        assert not np.any(self.attack.constant[:n]), "the attack map moves theta (b_0)"
        linear = self.attack.terms[0]
        on_theta = linear.rows < n
        assert np.array_equal(linear.rows[on_theta], np.arange(n)) and np.array_equal(
            linear.columns[on_theta, 0], np.arange(n)
        ), "the attack map's linear term is not the identity on theta"
        assert np.all(linear.values[on_theta] == 1), "the attack map scales theta"
        for term in self.attack.terms[1:]:
            assert not np.any(term.rows < n), f"the attack map moves theta (A_{term.degree})"
        for name in ("sign", "clipped"):
            pattern = getattr(self.pattern, name)
            if pattern is not None:
                assert pattern.shape == (self.n_samples, self.input_size), (
                    f"pattern.{name} has shape {pattern.shape}, not (M, d)"
                )
                assert np.all(np.isin(pattern, (-1, 0, 1))), f"pattern.{name} outside {{-1, 0, 1}}"

    def to_text(self) -> str:
        """A deterministic summary for ``qrtc compile --emit maps``: sizes, schedule, $z^\\star$,
        $z_0$, the frozen pattern and each coefficient tensor (entries listed when few)."""

        def pattern(values: NDArray[np.int8] | None) -> str:
            if values is None:
                return "none"
            counts = {v: int(np.count_nonzero(values == v)) for v in (1, -1, 0)}
            return f"shape {values.shape}, +1: {counts[1]}, -1: {counts[-1]}, 0: {counts[0]}"

        lines = [
            "polynomial_maps {",
            f"  z = (theta, delta): n = {self.n_params}, M = {self.n_samples},"
            f" d = {self.input_size}, d_z = {self.state_size}",
            f"  substeps S = {self.n_substeps}  (T = {self.horizon}, K = {self.pgd_steps})",
            f"  degree q = {self.degree}",
            f"  expansion_point z* = {_text.array(self.expansion_point)}",
            f"  initial_state z0 = {_text.array(self.initial_state)}",
            f"  frozen sign pattern: {pattern(self.pattern.sign)}",
            f"  frozen clip pattern: {pattern(self.pattern.clipped)}",
            *self.attack._text_lines(),
            *self.learner._text_lines(),
            "}",
        ]
        return "\n".join(lines) + "\n"


def _frozen_int(array: NDArray[np.int64]) -> NDArray[np.int64]:
    frozen = np.array(array, dtype=np.int64, copy=True)
    frozen.flags.writeable = False
    return frozen
