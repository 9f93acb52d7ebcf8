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

import math
from dataclasses import dataclass, field

import cirq
import numpy as np
from numpy.typing import NDArray

from qrtc.errors import SourceSpan
from qrtc.ir import _text
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

    def verify(self) -> None:
        """Check the encoding, the qubits and the polynomial.

        The encoding verifies; ``qubit_order`` lists each qubit once and ends with the
        encoding's ``qubit_order``; every post-selected value is 0 or 1; the coefficients and
        phases are finite, $P$ is odd (even Chebyshev coefficients vanish) and $|P| \\le 1$ on
        a grid of $[-1, 1]$ (4097 Chebyshev points); $\\kappa_{\\rm eff} \\ge 1$,
        $0 < \\varepsilon_P < 1$, $s > 0$, the residual is finite and $\\ge 0$, and
        ``queries`` $= d$.
        """
        self.encoding.verify()
        order = self.qubit_order
        assert len(set(order)) == len(order), "qubit_order lists a qubit twice"
        inner = self.encoding.qubit_order
        assert order[len(order) - len(inner) :] == inner, (
            "qubit_order must end with the encoding's qubit_order (ancillas, then system)"
        )
        assert all(value in (0, 1) for value in self.postselect.values()), "postselect not 0/1"
        assert self.coefficients.ndim == self.phases.ndim == 1, "coefficients, phases: 1-D"
        assert np.all(np.isfinite(self.coefficients)), "Chebyshev coefficients not finite"
        assert np.all(np.isfinite(self.phases)), "phases not finite"
        assert not np.any(self.coefficients[0::2]), "P must be odd: an even coefficient"
        grid = np.cos(np.pi * (np.arange(4097) + 0.5) / 4097)
        largest = float(np.max(np.abs(np.polynomial.chebyshev.chebval(grid, self.coefficients))))
        assert largest <= 1 + 1e-9, f"max |P| = {largest} > 1 on [-1, 1]"
        assert math.isfinite(self.kappa) and self.kappa >= 1, f"kappa_eff = {self.kappa}"
        assert 0 < self.polynomial_error < 1, f"polynomial error {self.polynomial_error}"
        assert math.isfinite(self.scale) and self.scale > 0, f"scale s = {self.scale}"
        assert math.isfinite(self.phase_residual) and self.phase_residual >= 0
        assert self.queries == self.degree, f"{self.queries} queries for degree {self.degree}"
        assert self.reference_degree >= 1, self.reference_degree

    def to_text(self) -> str:
        """A deterministic summary for ``qrtc compile --emit qsvt``.

        The phase residual is printed as its power-of-ten bound: its digits are rounding.
        """
        kind = "exact" if self.kappa_is_exact else "bound"
        phases, edge = self.phases, 4
        post = ", ".join(f"{q}={v}" for q, v in self.postselect.items() if v)
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
                    f"  phases: {len(phases)}, residual <= {_power_of_ten(self.phase_residual)}",
                    f"    first {edge}: {_text.vector(phases[:edge])}",
                    f"    last {edge}: {_text.vector(phases[-edge:])}",
                    f"  queries = {self.queries}, qubits = {self.n_qubits}, "
                    f"sign = {self.sign:+.0f}",
                    "  qubit_order: " + ", ".join(str(q) for q in self.qubit_order),
                    f"  postselect: {len(self.postselect)} qubits on 0"
                    + (f", except {post}" if post else ""),
                    "}",
                ]
            )
            + "\n"
        )


def _power_of_ten(value: float) -> str:
    """The smallest power of ten $\\ge$ ``value`` (``0`` for 0), as ``1e-14``."""
    if value <= 0:
        return "0"
    return f"1e{math.ceil(math.log10(value))}"
