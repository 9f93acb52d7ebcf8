r"""Stage 6 IR: the QSVT inversion circuit (paper.md §6.3, design.md §2 item 12).

Let $U$ block-encode $A = \tilde{\mathbf L}/\alpha = W\Sigma V^\dagger$ (stage 5). An odd
polynomial $P$ of degree $d$ with $|P| \le 1$ on $[-1, 1]$ and
$|x P(x)/s - 1| \le \varepsilon_P$ on $[1/\kappa_{\rm eff}, 1]$,
$\kappa_{\rm eff} = \alpha\|\tilde{\mathbf L}^{-1}\|$, is applied to the singular values of
$U^\dagger$ by $d$ alternating uses of $U^\dagger, U$ between projector-controlled phases, and
a two-branch LCU on one more qubit takes the part of the symmetric-QSP response that is $P$.
With every ancilla post-selected (``postselect``),

$$\langle\text{post}|\,C\,|0\rangle = \sigma\,V P(\Sigma) W^\dagger
\approx \sigma\,s\,A^{-1} = \sigma\,s\,\alpha\,\tilde{\mathbf L}^{-1},\qquad \sigma = \pm 1,$$

so for $|\mathbf b\rangle$ on the system register the kept state is
$\sigma s\alpha\,\tilde{\mathbf L}^{-1}\mathbf b/\|\mathbf b\|$ with relative error
$\le \varepsilon_P$, and the success probability is
$p = s^2\alpha^2\|\mathbf L^{-1}\mathbf b\|^2/\|\mathbf b\|^2$ (up to the same error).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cirq
import numpy as np
from numpy.typing import NDArray

from qrtc.errors import SourceSpan
from qrtc.ir.block_encoding import BlockEncoding

__all__ = ["QsvtCircuit"]


def _span() -> SourceSpan | None:
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class QsvtCircuit:
    r"""The circuit $C$ above, its polynomial and the predictions made before simulating.

    Attributes:
        encoding: the block encoding $U$ of $\tilde{\mathbf L}/\alpha$.
        circuit: $C$, gate level (the package's own gates).
        qubit_order: every qubit of ``circuit``, most significant first: the QSVT ancillas,
            the encoding's ancillas, then its system register.
        postselect: qubit -> the value kept (every qubit that is not a system qubit).
        sign: $\sigma$.
        kappa: $\kappa_{\rm eff}$ the polynomial was built for.
        kappa_is_exact: $\kappa_{\rm eff}$ from $\sigma_{\min}(\mathbf L)$ (dense SVD or
            Lanczos), not from the window-norm bound.
        scale: $s$.
        polynomial_error: $\varepsilon_P$, the relative error bound of $P$ on
            $[1/\kappa_{\rm eff}, 1]$.
        coefficients: Chebyshev coefficients of $P$, shape ``(d + 1,)``, read-only.
        phases: the symmetric-QSP phases ($W_x$ convention), shape ``(d + 1,)``, read-only.
        phase_residual: $\max|{\rm Im}\langle 0|U_\Phi(x)|0\rangle - P(x)|$, measured.
        reference_degree: the degree of the truncated Childs–Kothari–Somma series at the
            same error, for comparison.
        queries: uses of $U$ or $U^\dagger$ ($= d$).
        origin: the spec construct the system comes from.
    """

    encoding: BlockEncoding
    circuit: cirq.Circuit
    qubit_order: tuple[cirq.Qid, ...]
    postselect: dict[cirq.Qid, int]
    sign: float
    kappa: float
    kappa_is_exact: bool
    scale: float
    polynomial_error: float
    coefficients: NDArray[np.float64]
    phases: NDArray[np.float64]
    phase_residual: float
    reference_degree: int
    queries: int
    origin: SourceSpan | None = _span()

    def __post_init__(self) -> None:
        assert self.sign in (-1.0, 1.0), self.sign
        assert len(self.phases) == len(self.coefficients) == self.degree + 1
        assert self.degree % 2 == 1, "the inverse polynomial is odd"
        assert self.circuit.all_qubits() <= set(self.qubit_order)
        system = {q for r in self.encoding.system for q in r.qubits}
        assert set(self.postselect) == set(self.qubit_order) - system
        for name in ("coefficients", "phases"):
            getattr(self, name).setflags(write=False)

    @property
    def degree(self) -> int:
        return len(self.coefficients) - 1

    @property
    def n_qubits(self) -> int:
        return len(self.qubit_order)

    def predicted_success_probability(self, solution_norm: float, rhs_norm: float) -> float:
        r"""$p = s^2\alpha^2\|\mathbf L^{-1}\mathbf b\|^2/\|\mathbf b\|^2$."""
        return float((self.scale * self.encoding.alpha * solution_norm / rhs_norm) ** 2)

    def to_text(self) -> str:
        """A deterministic summary for ``qrtc compile --emit qsvt``."""
        kind = "exact" if self.kappa_is_exact else "bound"
        return (
            "\n".join(
                [
                    "qsvt {",
                    f"  encoding = {self.encoding.method}, alpha = {self.encoding.alpha:.6g}",
                    f"  kappa_eff = {self.kappa:.6g} ({kind})",
                    f"  polynomial: odd, degree {self.degree}, P(x) ~ {self.scale:.6g}/x, "
                    f"relative error <= {self.polynomial_error:.3g}",
                    f"  reference (Childs-Kothari-Somma) degree at equal error = "
                    f"{self.reference_degree}",
                    f"  phases: {len(self.phases)}, residual = {self.phase_residual:.3g}",
                    f"  queries = {self.queries}, qubits = {self.n_qubits}, "
                    f"sign = {self.sign:+.0f}",
                    "}",
                ]
            )
            + "\n"
        )
