r"""Stage 3 IR: the two sub-maps as truncated, rescaled Carleman matrices (paper.md §3.2).

For a sub-map $u' = b_0 + \sum_{k=1}^q A_k u^{\otimes k}$ on the deviation $u = z - z^\star$
(:mod:`qrtc.ir.polynomial_maps`), rescale $u = \gamma\tilde u$:
$\tilde b_0 = b_0/\gamma$, $\tilde A_k = \gamma^{k-1} A_k$. With $\tilde A_0 := \tilde b_0$ (a
$d_z \times 1$ matrix) the lifted vector of truncation order $N$ is

$$\tilde Y = (1, \tilde u, \tilde u^{\otimes 2}, \dots, \tilde u^{\otimes N}) \in \mathbb R^{D_N},
\qquad D_N = \sum_{j=0}^N d_z^j,$$

levels concatenated densely (level $j$ starts at $\sum_{i<j} d_z^i$), multi-indices row-major as
``numpy.kron``. The Carleman matrix $C \in \mathbb R^{D_N \times D_N}$ has the blocks

$$C_{0,0} = 1,\quad C_{0,m} = 0\ (m \ge 1),\quad
C_{j,m} = \sum_{\substack{(k_1..k_j) \in \{0..q\}^j\\ k_1 + \dots + k_j = m}}
\tilde A_{k_1} \otimes \cdots \otimes \tilde A_{k_j} \quad (1 \le j, m \le N)$$

(paper.md §3.2, "Carleman/QLSA literature", level 0 kept because $b_0 \ne 0$ in general), so
$\tilde Y' = C\tilde Y$ holds exactly in the rows of level $j \le \lfloor N/q \rfloor$ and up to
the dropped terms $m > N$ elsewhere. Rescaling is the similarity
$C(\gamma) = D C(1) D^{-1}$, $D = \mathrm{diag}(\gamma^{-j})$ on level $j$: it leaves the truncated
trajectory (read back with $u = \gamma\tilde u$) unchanged and only moves norms, the condition
number and the level weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse
from numpy.typing import NDArray

from qrtc.errors import SourceSpan
from qrtc.ir.expr import freeze_array

__all__ = ["CarlemanMaps", "CarlemanMatrix", "lifted_size", "level_offset"]


def lifted_size(state_size: int, order: int) -> int:
    r"""$D_N = \sum_{j=0}^N d_z^j$ (a Python int: exact at any size)."""
    return sum(state_size**j for j in range(order + 1))


def level_offset(state_size: int, level: int) -> int:
    r"""Where level $j$ starts in the lifted vector: $\sum_{i<j} d_z^i$."""
    return sum(state_size**i for i in range(level))


def _span() -> SourceSpan | None:
    return field(default=None, compare=False, repr=False)


def freeze_sparse(matrix: scipy.sparse.csr_array) -> scipy.sparse.csr_array:
    """Make the arrays of a canonical CSR matrix read-only (in place) and return it."""
    for array in (matrix.data, matrix.indices, matrix.indptr):
        array.flags.writeable = False
    return matrix


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CarlemanMatrix:
    r"""The truncated, rescaled Carleman matrix $C$ of one sub-map (paper.md §3.2).

    Attributes:
        kind: ``"attack"`` ($C_{\mathcal A}$) or ``"learner"`` ($C_{\mathcal L}$).
        matrix: $C$, CSR float64, shape ``(D_N, D_N)``, canonical (sorted, no duplicates, no
            explicit zeros), read-only.
        coefficient_norms: $(\|\tilde b_0\|_2, \|\tilde A_1\|_2, \dots, \|\tilde A_q\|_2)$ of the
            rescaled map, $\tilde A_k$ as the stored $d_z \times d_z^k$ matrix (exact spectral
            norms for $d_z \le 1024$, else the upper bound $\sqrt{\|A\|_1\|A\|_\infty}$).
        norm: $\|C\|_2$: exact (dense SVD) when ``norm_is_exact``, otherwise an upper bound, the
            smaller of $\sqrt{\|C\|_1\|C\|_\infty}$ and the spectral norm of the $(N+1)\times(N+1)$
            matrix of block-norm bounds $[x^m]\,P(x)^j$, $P(x) = \sum_k \|\tilde A_k\| x^k$.
        norm_is_exact: whether ``norm`` is $\|C\|_2$ itself.
        row_sparsity, column_sparsity: the largest number of non-zeros in a row / column of $C$.
        row_sparsity_bound, column_sparsity_bound: paper.md §4.2:
            $\max_j \sum_{m \le N} [x^m]\,(\sum_k s_k x^k)^j$ with $s_k$ the largest row (column)
            count of $A_k$, $s_0 = 1$ ($\mathrm{nnz}(b_0)$ for columns) when $b_0 \ne 0$; for
            columns the maximum runs over $m$ and the sum over $j$.
    """

    kind: Literal["attack", "learner"]
    matrix: scipy.sparse.csr_array
    coefficient_norms: tuple[float, ...]
    norm: float
    norm_is_exact: bool
    row_sparsity: int
    column_sparsity: int
    row_sparsity_bound: int
    column_sparsity_bound: int

    def __post_init__(self) -> None:
        rows, columns = self.matrix.shape
        assert rows == columns and self.matrix.format == "csr"
        assert self.row_sparsity <= self.row_sparsity_bound, (self.kind, "row sparsity bound")
        assert self.column_sparsity <= self.column_sparsity_bound, (self.kind, "column bound")

    @property
    def size(self) -> int:
        """$D_N$."""
        return int(self.matrix.shape[0])

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    @property
    def max_abs_entry(self) -> float:
        r"""$\max_{ij} |C_{ij}|$ (at least 1: $C_{0,0} = 1$)."""
        return float(np.max(np.abs(self.matrix.data)))

    def verify(self) -> None:
        """Canonical CSR, $C_{0,\\cdot} = e_0^\\top$, and the measured sparsities."""
        matrix = self.matrix
        assert matrix.has_canonical_format, "CSR must be sorted without duplicates"
        assert np.all(matrix.data != 0), "explicit zeros"
        assert np.all(np.isfinite(matrix.data)), f"{self.kind}: C is not finite"
        first = matrix.indptr[1] - matrix.indptr[0]
        assert first == 1 and matrix.indices[0] == 0 and matrix.data[0] == 1.0, "C_00 = 1"
        assert self.row_sparsity == int(np.max(np.diff(matrix.indptr)))
        counts = np.bincount(matrix.indices, minlength=self.size)
        assert self.column_sparsity == int(np.max(counts))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CarlemanMaps:
    r"""Both sub-maps lifted to order $N$ with scale $\gamma$, and the predicted truncation error.

    Sub-step $s = 1..S$, $S = T(K+1)$, applies $C_{\mathcal A}$ when $s \bmod (K+1) \ne 0$ and
    $C_{\mathcal L}$ otherwise; $\tilde Y_0 = \mathrm{lift}(z_0 - z^\star)$ and
    $\hat Y_{s+1} = C_{s+1}\hat Y_s$ (paper.md §3.2, §4.1).

    **Truncation error** (paper.md §3.4). Let $u_s$ be the exact orbit of the polynomial maps
    from $u_0 = z_0 - z^\star$ (iterated classically, $O(S\,\mathrm{nnz}(A))$ work), $Y_s$ its
    exact lift and $e_s = \hat Y_s - Y_s$, so $e_0 = 0$, $e_{s+1} = C_{s+1}e_s - \tau_s$, level 0
    of $e_s$ vanishes, and the dropped terms are
    $\tau_s^{(j)} = \sum_{k_1 + \dots + k_j > N} v_{k_1} \otimes \cdots \otimes v_{k_j}$ with
    $v_k = A_k u_s^{\otimes k}$. Three numbers are recorded for the level-1 read-out
    $\hat u_S = \gamma\hat{\tilde Y}^{(1)}_S$, in the units of $z$:

    * ``truncation_error`` $= \|\hat u_{\theta,S} - u_{\theta,S}\|_2$, the error of the
      $\theta$-slice (what the read-out returns), *measured* by running the truncated recurrence
      $\hat Y_{s+1} = C_{s+1}\hat Y_s$ ($O(S\,\mathrm{nnz}(C))$ work; paper.md §9 item 8 allows
      choosing $N$ "empirically"). It is what ``carleman_order = auto`` compares with
      ``precision``.
    * ``truncation_error_bound`` $= (E_S)_1 \ge \|\hat u_S - u_S\|_2$ (all of $z$, so also
      $\theta$), a rigorous a-priori bound. $E_s \in \mathbb R^N$
      bounds the level-wise errors: $E_0 = 0$, $E_{s+1} = M_{s+1}E_s + t_s$, with
      $(t_s)_j = \|\tau_s^{(j)}\|$ computed exactly from the Gram matrix
      $\langle v_k, v_{k'}\rangle$ (no matrix built), and $M_{jm} = [x^m]P(x)^j \ge
      \|C_{j,m}\|_2$, $P(x) = \sum_{k=0}^q \|A_k\|_2x^k$ (triangle inequality and
      $\|A \otimes B\| = \|A\|\|B\|$), $1 \le j, m \le N$.
    * ``scaled_error_bound``: the paper's §3.4 form $\|e_S\| \le \sum_{s<S}
      \|\Phi(S, s{+}1)\|\,\|\tau_s\|$ in rescaled coordinates, times $\gamma$, with the
      propagators bounded by products of per-step norms $\|\tilde M_s\|_2$. It is
      $\ge$ ``truncation_error_bound`` and, unlike the other two (rescaling is a similarity, see
      the module docstring), depends on $\gamma$: ``scale = auto`` minimises it.

    Each is None when it was not computed (orbit or recurrence too long).

    Attributes:
        attack, learner: $C_{\mathcal A}$, $C_{\mathcal L}$ (rescaled).
        order: $N \ge 1$.
        scale: $\gamma > 0$.
        degree: $q$, the larger degree of the two maps.
        state_size: $d_z$.
        n_params: $n$; $\theta$ is the first $n$ coordinates of $z$.
        horizon, pgd_steps: $T$, $K$.
        expansion_point: $z^\star$, shape ``(d_z,)``.
        initial_state: $z_0$, shape ``(d_z,)``.
        orbit_radius: $\max_{0 \le s \le S}\|u_s\|_2$ along the maps' orbit (None: not iterated).
        truncation_error, truncation_error_bound, scaled_error_bound: see above.
        order_is_auto, scale_is_auto: whether $N$ and $\gamma$ were chosen by the pass.
        origin: the spec construct the maps come from (for later errors).
    """

    attack: CarlemanMatrix
    learner: CarlemanMatrix
    order: int
    scale: float
    degree: int
    state_size: int
    n_params: int
    horizon: int
    pgd_steps: int
    expansion_point: NDArray[np.float64]
    initial_state: NDArray[np.float64]
    orbit_radius: float | None
    truncation_error: float | None
    truncation_error_bound: float | None
    scaled_error_bound: float | None
    order_is_auto: bool = False
    scale_is_auto: bool = False
    origin: SourceSpan | None = _span()

    def __post_init__(self) -> None:
        object.__setattr__(self, "expansion_point", freeze_array(self.expansion_point))
        object.__setattr__(self, "initial_state", freeze_array(self.initial_state))
        assert self.order >= 1 and self.scale > 0 and math.isfinite(self.scale)
        assert self.attack.kind == "attack" and self.learner.kind == "learner"
        assert self.attack.size == self.learner.size == self.lifted_size
        assert self.expansion_point.shape == self.initial_state.shape == (self.state_size,)
        assert 1 <= self.n_params <= self.state_size
        assert self.horizon >= 1 and self.pgd_steps >= 1

    @property
    def lifted_size(self) -> int:
        """$D_N$."""
        return lifted_size(self.state_size, self.order)

    @property
    def n_substeps(self) -> int:
        """$S = T(K+1)$."""
        return self.horizon * (self.pgd_steps + 1)

    def level_offset(self, level: int) -> int:
        r"""Start of level $j$ in $\tilde Y$."""
        assert 0 <= level <= self.order
        return level_offset(self.state_size, level)

    def matrix_at(self, substep: int) -> CarlemanMatrix:
        """$C_s$ for sub-step ``substep`` in ``1..S``: attack unless $s \\bmod (K+1) = 0$."""
        assert 1 <= substep <= self.n_substeps
        return self.attack if substep % (self.pgd_steps + 1) else self.learner

    def read_state(self, lifted: NDArray[np.float64]) -> NDArray[np.float64]:
        r"""$z = z^\star + \gamma\,\tilde Y^{(1)}$, shape ``(d_z,)``, from a lifted vector."""
        return self.expansion_point + self.scale * lifted[1 : 1 + self.state_size]

    def verify(self) -> None:
        """Check both matrices, the coefficient norms and the error estimates (data only: the lift
        consistency $C\\,\\mathrm{lift}(u_0) = \\mathrm{lift}(F(u_0))$ of paper.md §8 item 2 is
        checked where the matrices are built, :func:`qrtc.numerics.lift.assert_lift_commutes`)."""
        self.attack.verify()
        self.learner.verify()
        assert np.all(np.isfinite(self.expansion_point)), "z* is not finite"
        assert np.all(np.isfinite(self.initial_state)), "z_0 is not finite"
        for carleman in (self.attack, self.learner):
            norms = carleman.coefficient_norms
            assert len(norms) == self.degree + 1, (
                f"{carleman.kind}: {len(norms)} coefficient norms for degree q = {self.degree}"
            )
            assert all(math.isfinite(v) and v >= 0 for v in (*norms, carleman.norm)), (
                f"{carleman.kind}: norms must be finite and >= 0"
            )
        for name in ("orbit_radius", "truncation_error", "truncation_error_bound"):
            value = getattr(self, name)
            assert value is None or value >= 0, f"{name} = {value} is negative"

    def to_text(self) -> str:
        """A deterministic summary for ``qrtc emit --stage=carleman``."""

        def number(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.6g}"

        auto = {True: " (auto)", False: ""}
        lines = [
            "carleman_maps {",
            f"  order N = {self.order}{auto[self.order_is_auto]}",
            f"  scale gamma = {self.scale:.6g}{auto[self.scale_is_auto]}",
            f"  degree q = {self.degree}",
            f"  state_size d_z = {self.state_size}  (n_params = {self.n_params})",
            f"  lifted_size D_N = {self.lifted_size}",
            f"  substeps S = {self.n_substeps}  (T = {self.horizon}, K = {self.pgd_steps})",
            f"  orbit_radius max|u_s| = {number(self.orbit_radius)}",
            f"  truncation_error = {number(self.truncation_error)}",
            f"  truncation_error_bound = {number(self.truncation_error_bound)}",
            f"  scaled_error_bound = {number(self.scaled_error_bound)}",
        ]
        for carleman in (self.attack, self.learner):
            norms = ", ".join(f"{value:.6g}" for value in carleman.coefficient_norms)
            relation = "=" if carleman.norm_is_exact else "<="
            lines += [
                f"  {carleman.kind} {{",
                f"    nnz = {carleman.nnz}",
                f"    norm |C|_2 {relation} {carleman.norm:.6g}",
                f"    coefficient_norms |b0|, |A_k| = ({norms})",
                f"    max_abs_entry = {carleman.max_abs_entry:.6g}",
                f"    row_sparsity = {carleman.row_sparsity} <= {carleman.row_sparsity_bound}",
                f"    column_sparsity = {carleman.column_sparsity}"
                f" <= {carleman.column_sparsity_bound}",
                "  }",
            ]
        lines.append("}")
        return "\n".join(lines) + "\n"
