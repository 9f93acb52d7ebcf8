r"""Stage 4 IR: the sparse block linear system $\mathbf L\mathbf x = \mathbf b$ (paper.md §4.1).

With $S = T(K+1)$ sub-steps, $p$ padding (idling) blocks and $n_b = S + 1 + p$ block rows of
size $D_N$,

$$\mathbf L = I - \mathbf S,\qquad \mathbf S = \sum_{r=1}^{n_b - 1} |r\rangle\langle r-1|
\otimes B_r,\qquad B_r = \begin{cases} C_r & 1 \le r \le S\\ I & S < r < n_b\end{cases},
\qquad \mathbf b = (\tilde Y_0, 0, \dots, 0),$$

$C_r = C_{\mathcal A}$ when $r \bmod (K+1) \ne 0$ and $C_{\mathcal L}$ otherwise (paper.md §1.4
"Option A"), $\tilde Y_0 = \mathrm{lift}(z_0 - z^\star)$. The solution is the history state
$\mathbf x = (\hat Y_0, \dots, \hat Y_S, \hat Y_S, \dots, \hat Y_S)$ with $p$ copies of the
terminal block $\hat Y_S$; its level-1 $\theta$-slice, times $\gamma$, plus $\theta^\star$, is
the read-out $\hat\theta_T$ (paper.md §4.1, §4.3; design.md §2 item 10).

The global index of entry $o \in [0, D_N)$ of block $r$ is $r D_N + o$. Rows and columns are
available on demand (:func:`~qrtc.numerics.block_matrix.matrix_row`,
:func:`~qrtc.numerics.block_matrix.matrix_column`) from $C_{\mathcal A}$, $C_{\mathcal L}$ alone,
at any $\dim\mathbf L < 2^{63}$; the explicit CSR is stored only when it fits (``matrix``), or
assembled on request (:func:`~qrtc.numerics.block_matrix.assemble_matrix`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
from numpy.typing import NDArray

from qrtc.errors import SourceSpan
from qrtc.ir.carleman import CarlemanMaps
from qrtc.ir.expr import freeze_array

__all__ = ["BlockSystem"]


def _span() -> SourceSpan | None:
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class BlockSystem:
    r"""$\mathbf L = I - \mathbf S$, $\mathbf b$, the terminal read-out, and the bounds of §4-§5.

    **Sparsity** (paper.md §4.2): a row of block $r \ge 1$ holds one identity entry and one
    row of $B_r$, so $s_{\rm row}(\mathbf L) = 1 + \max(s_{\rm row}(C_{\mathcal A}),
    s_{\rm row}(C_{\mathcal L}), [p > 0])$, likewise for columns; the ``*_bound`` fields put
    the analytic bounds of the Carleman matrices in the same formula.

    **Norms and condition number** (paper.md §5): with $c_{\max} = \max_s\|C_s\|_2$ and the
    propagator bound $\Lambda = \max_{0 \le s \le s' < n_b}\|B_{s'}\cdots B_{s+1}\|_2$,

    $$\|\mathbf L\| \le 1 + \max(c_{\max}, 1),\qquad \|\mathbf L^{-1}\| \le n_b\Lambda,
    \qquad \kappa(\mathbf L) \le (1 + \max(c_{\max}, 1))\,n_b\,\Lambda,$$

    because $\mathbf L^{-1} = \sum_k \mathbf S^k$ is block lower-triangular with blocks of norm
    $\le \Lambda$ (Schur test). $\Lambda$ is exact (dense products, over every start phase of the
    periodic schedule) when ``propagator_bound_is_exact``, otherwise the per-step bound
    $\max(1, \|C_{\mathcal A}\|)^{KT}\max(1, \|C_{\mathcal L}\|)^{T}$.

    **Normalisation** (paper.md §6.2-6.3): $\alpha = s\,\max_{ij}|\mathbf L_{ij}|$ with
    $s = \max(s_{\rm row}, s_{\rm col})$.

    **Success probability** (paper.md §4.3): from the forward recurrence
    $\hat Y_{s+1} = C_{s+1}\hat Y_s$ (rescaled),
    $P_{\rm term} = (p+1)\|\hat Y_S\|^2 / (\sum_{s<S}\|\hat Y_s\|^2 + (p+1)\|\hat Y_S\|^2)$ and
    $P_\theta = \|\hat{\tilde u}_{\theta,S}\|^2 / \|\hat Y_S\|^2$.

    Attributes:
        carleman: $C_{\mathcal A}$, $C_{\mathcal L}$, $N$, $\gamma$, the schedule and $z_0$.
        padding: $p \ge 0$.
        padding_is_auto: whether $p$ was chosen by the pass ($p = S$).
        initial_block: $\tilde Y_0$, shape ``(D_N,)``, read-only.
        matrix: $\mathbf L$ as canonical CSR, shape ``(dim, dim)``, read-only; None when it
            was too large to build (use :mod:`qrtc.numerics.block_matrix`).
        nnz: non-zeros of $\mathbf L$ (exact, counted from the blocks).
        row_sparsity, column_sparsity: the largest number of non-zeros in a row / column.
        row_sparsity_bound, column_sparsity_bound: the analytic bounds (paper.md §4.2).
        max_abs_entry: $\max_{ij}|\mathbf L_{ij}|$.
        alpha: $s\max_{ij}|\mathbf L_{ij}|$.
        max_step_norm: $c_{\max}$ (an upper bound unless ``max_step_norm_is_exact``).
        max_step_norm_is_exact: both $\|C\|_2$ were computed exactly.
        propagator_bound: $\Lambda$.
        propagator_bound_is_exact: $\Lambda$ from dense products (else per-step norms).
        norm_bound, inverse_norm_bound, kappa_bound: the three bounds above.
        terminal_probability, theta_probability: $P_{\rm term}$, $P_\theta$ (None when the
            recurrence was too long to run).
        origin: the spec construct the system comes from.
    """

    carleman: CarlemanMaps
    padding: int
    padding_is_auto: bool = False
    initial_block: NDArray[np.float64]
    matrix: scipy.sparse.csr_array | None
    nnz: int
    row_sparsity: int
    column_sparsity: int
    row_sparsity_bound: int
    column_sparsity_bound: int
    max_abs_entry: float
    alpha: float
    max_step_norm: float
    max_step_norm_is_exact: bool
    propagator_bound: float
    propagator_bound_is_exact: bool
    norm_bound: float
    inverse_norm_bound: float
    kappa_bound: float
    terminal_probability: float | None
    theta_probability: float | None
    origin: SourceSpan | None = _span()

    def __post_init__(self) -> None:
        object.__setattr__(self, "initial_block", freeze_array(self.initial_block))
        assert self.padding >= 0
        assert self.initial_block.shape == (self.block_size,)
        assert self.dim < 2**63, "indices must fit in int64"
        assert self.row_sparsity <= self.row_sparsity_bound
        assert self.column_sparsity <= self.column_sparsity_bound
        if self.matrix is not None:
            assert self.matrix.shape == (self.dim, self.dim) and self.matrix.nnz == self.nnz

    # -- sizes and the read-out ---------------------------------------------------------------

    @property
    def n_substeps(self) -> int:
        """$S = T(K+1)$."""
        return self.carleman.n_substeps

    @property
    def n_blocks(self) -> int:
        """$n_b = S + 1 + p$."""
        return self.n_substeps + 1 + self.padding

    @property
    def block_size(self) -> int:
        """$D_N$."""
        return self.carleman.lifted_size

    @property
    def dim(self) -> int:
        r"""$\dim\mathbf L = n_b D_N$ (a Python int)."""
        return self.n_blocks * self.block_size

    @property
    def terminal_block(self) -> slice:
        r"""Indices of block $S$, $\hat Y_S$ (the first of the $p + 1$ equal terminal blocks)."""
        start = self.n_substeps * self.block_size
        return slice(start, start + self.block_size)

    @property
    def terminal_slice(self) -> slice:
        r"""Indices of the level-1 $\theta$-slice of block $S$: $\hat{\tilde u}_{\theta,S}$."""
        start = self.n_substeps * self.block_size + 1
        return slice(start, start + self.carleman.n_params)

    def read_theta(self, solution: NDArray[np.float64]) -> NDArray[np.float64]:
        r"""$\hat\theta_T = \theta^\star + \gamma\,\mathbf x_{\rm slice}$, shape ``(n,)``."""
        n = self.carleman.n_params
        scaled = np.asarray(solution[self.terminal_slice], dtype=np.float64)
        return self.carleman.expansion_point[:n] + self.carleman.scale * scaled

    def step_matrix(self, block: int) -> scipy.sparse.csr_array | None:
        r"""$C_r$ for block row $r \in [1, S]$; None for $r = 0$ and the padding ($B_r = I$)."""
        if 1 <= block <= self.n_substeps:
            return self.carleman.matrix_at(block).matrix
        return None

    # -- checks and text ------------------------------------------------------------------------

    def verify(self) -> None:
        r"""The bounds and statistics agree with their formulas; $\mathbf b$ is the lift.

        Data only (the IR imports no numerics): $\tilde Y_0 = \mathrm{lift}(z_0 - z^\star)$ is
        checked level by level, $\tilde Y_0^{(0)} = 1$ and $\tilde Y_0^{(j)} = \tilde Y_0^{(j-1)}
        \otimes (z_0 - z^\star)/\gamma$. That the explicit ``matrix`` agrees with the implicit
        rows is :func:`qrtc.numerics.block_matrix.assert_rows_agree`, which the driver runs
        with this.
        """
        self.carleman.verify()
        carleman = self.carleman
        scaled = (carleman.initial_state - carleman.expansion_point) / carleman.scale
        previous = np.ones(1)
        for level in range(carleman.order + 1):
            start = carleman.level_offset(level)
            block = self.initial_block[start : start + carleman.state_size**level]
            expected = np.outer(previous, scaled).ravel() if level else previous
            assert np.allclose(block, expected), "b is not the lift of z_0 - z*"
            previous = block
        sparsity = max(self.row_sparsity, self.column_sparsity)
        assert self.alpha > 0 and math.isclose(
            self.alpha, sparsity * self.max_abs_entry, rel_tol=1e-12
        ), f"alpha = {self.alpha} is not s max|L_ij| = {sparsity * self.max_abs_entry}"
        assert math.isclose(self.norm_bound, 1 + max(self.max_step_norm, 1.0), rel_tol=1e-12), (
            "|L| bound is not 1 + max(c_max, 1)"
        )
        assert self.inverse_norm_bound <= self.n_blocks * self.propagator_bound * (1 + 1e-9), (
            "|L^-1| bound exceeds n_b Lambda"
        )
        assert math.isclose(
            self.kappa_bound, self.norm_bound * self.inverse_norm_bound, rel_tol=1e-12
        ), "kappa bound is not |L| |L^-1|"
        for name in ("terminal_probability", "theta_probability"):
            value = getattr(self, name)
            assert value is None or 0 <= value <= 1, f"{name} = {value} outside [0, 1]"
        if self.matrix is None:
            return
        matrix = self.matrix
        assert matrix.has_canonical_format
        assert float(np.max(np.abs(matrix.data))) == self.max_abs_entry, "max_abs_entry"
        assert int(np.max(np.diff(matrix.indptr))) == self.row_sparsity
        assert int(np.max(np.bincount(matrix.indices, minlength=self.dim))) == self.column_sparsity

    def to_text(self) -> str:
        """A deterministic summary for ``qrtc emit --stage=block_system``."""

        def number(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.6g}"

        how = {True: "exact", False: "bound"}
        lines = [
            "block_system {",
            f"  substeps S = {self.n_substeps}, padding p = {self.padding}"
            + (" (auto)" if self.padding_is_auto else ""),
            f"  blocks n_b = {self.n_blocks} x D_N = {self.block_size}: dim = {self.dim}",
            f"  qubits = {_qubits(self.n_blocks)} (time) + {_qubits(self.block_size)} (lifted)",
            f"  nnz = {self.nnz}" + ("" if self.matrix is not None else " (implicit)"),
            f"  row_sparsity = {self.row_sparsity} <= {self.row_sparsity_bound}",
            f"  column_sparsity = {self.column_sparsity} <= {self.column_sparsity_bound}",
            f"  max_abs_entry = {self.max_abs_entry:.6g}, alpha = {self.alpha:.6g}",
            f"  c_max = {self.max_step_norm:.6g} ({how[self.max_step_norm_is_exact]})",
            f"  Lambda = {self.propagator_bound:.6g} ({how[self.propagator_bound_is_exact]})",
            f"  |L| <= {self.norm_bound:.6g}, |L^-1| <= {self.inverse_norm_bound:.6g}",
            f"  kappa <= {self.kappa_bound:.6g}",
            f"  P_term = {number(self.terminal_probability)},"
            f" P_theta = {number(self.theta_probability)}",
            f"  terminal_slice = [{self.terminal_slice.start}, {self.terminal_slice.stop})",
            "}",
        ]
        return "\n".join(lines) + "\n"


def _qubits(size: int) -> int:
    return max(1, math.ceil(math.log2(size))) if size > 1 else 0
