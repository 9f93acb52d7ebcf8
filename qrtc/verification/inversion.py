r"""The inversion rungs: polynomial, phases, the QSVT block, qsim against cirq.

* **polynomial**: $x P(x)/s$ against 1 on $[1/\kappa_{\rm eff}, 1]$, $P = \sum_k c_k T_k$
  evaluated by numpy (``chebval``), within the declared relative error $\varepsilon_P$
  (:func:`qrtc.qsp.polynomial.inverse_polynomial`).
* **phases**: $\operatorname{Im}\langle 0|U_\Phi(x)|0\rangle$ by explicit $2\times2$ products
  (:func:`qrtc.qsp.phases.qsp_response`) against $P(x)$ on $[-1, 1]$.
* **qsvt**: the post-selected qsim state of the QSVT circuit on $|0\rangle|b\rangle$ against
  $\sigma V P(\Sigma) W^\dagger b$ from numpy's SVD $\tilde{\mathbf L}/\alpha = W\Sigma V^\dagger$
  (design.md §2 item 12), for drawn $b$.
* **qsim**: qsim (complex64) against ``cirq.Simulator`` (complex128) on one drawn $b$.
* **shots**: the success probability estimated from drawn numbers of shots (the sampling behind
  ``qrtc run --shots``) against the exact $\|a\|^2$ of the same simulation, within Hoeffding's
  bound $|\hat p - p| \le \sqrt{\ln(2/\delta)/2N}$ at $\delta = 10^{-6}$.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from numpy.polynomial import chebyshev
from numpy.typing import NDArray

from qrtc.passes.invert_block_encoding import POLYNOMIAL_MAX_ABS
from qrtc.qsp.phases import qsp_response
from qrtc.verification.block_reference import expected_block
from qrtc.verification.report import Finding
from qrtc.verification.search import (
    UNIT_ROUNDOFF,
    UNIT_ROUNDOFF_32,
    Measurement,
    render_number,
    render_vector,
    search,
    vectors,
)
from qrtc.verification.subject import Subject

__all__ = ["phases", "polynomial", "qsim", "qsvt", "shots"]

Array = NDArray[np.float64]

# The shots rung fails a correct sampler with probability at most this, per input.
FALSE_ALARM = 1e-6

# symmetric_phases accepts phases whose response is within 100 x its tolerance (1e-12, the
# default invert_block_encoding uses) of the target at its check points.
PHASE_ACCEPTANCE = 100 * 1e-12

_X_IN = st.floats(-1.0, 1.0, allow_nan=False)


def polynomial(subject: Subject, examples: int, seed: int) -> Finding:
    r"""$|xP(x)/s - 1| \le \varepsilon_P$ at drawn $x \in [1/\kappa_{\rm eff}, 1]$."""
    circuit = subject.qsvt
    coefficients, scale = circuit.coefficients, circuit.scale
    epsilon, kappa = circuit.polynomial_error, circuit.kappa
    rounding = 2 * (circuit.degree + 1) * UNIT_ROUNDOFF * float(np.sum(np.abs(coefficients)))

    def measure(x: float) -> Measurement:
        value = float(chebyshev.chebval(x, coefficients))
        return Measurement(
            abs(x * value / scale - 1),
            epsilon + rounding * x / scale,
            f"P(x) = {render_number(value)}, s/x = {render_number(scale / x)}",
        )

    strategy = st.floats(1 / kappa, 1.0, allow_nan=False)
    outcome = search(
        strategy,
        measure,
        describe=lambda x: f"x = {x!r}",
        examples=examples,
        seed=seed,
        budget_s=subject.budget_s,
    )
    return Finding.of(
        outcome,
        f"eps_P = {epsilon:.3g}, the declared minimax relative error 1/T_n(y_0) (Lin & Tong "
        "2020) + Clenshaw rounding",
        detail=f"degree {circuit.degree}, kappa_eff = {kappa:.4g} "
        f"({'exact' if circuit.kappa_is_exact else 'bound'}), s = {scale:.4g}",
    )


def phases(subject: Subject, examples: int, seed: int) -> Finding:
    r"""$\operatorname{Im}\langle 0|U_\Phi(x)|0\rangle = P(x)$ at drawn $x \in [-1, 1]$."""
    circuit = subject.qsvt
    coefficients, angles = circuit.coefficients, circuit.phases
    rounding = (circuit.degree + 1) * UNIT_ROUNDOFF * (4 + float(np.sum(np.abs(coefficients))))

    def measure(x: float) -> Measurement:
        response = float(qsp_response(angles, x).imag)
        target = float(chebyshev.chebval(x, coefficients))
        return Measurement(
            abs(response - target),
            PHASE_ACCEPTANCE + rounding,
            f"Im<0|U_Phi(x)|0> = {render_number(response)}, P(x) = {render_number(target)}",
        )

    outcome = search(
        _X_IN,
        measure,
        describe=lambda x: f"x = {x!r}",
        examples=examples,
        seed=seed,
        budget_s=subject.budget_s,
    )
    return Finding.of(
        outcome,
        "the phase solver's acceptance, 100 x its tolerance 1e-12, + (d + 1)(4 + sum|c_k|) u",
        detail=f"{len(angles)} phases",
    )


def _rhs(vector: Array) -> Array:
    """The drawn vector, normalised; the uniform vector when it is 0."""
    norm = float(np.linalg.norm(vector))
    if norm == 0:
        return np.full(vector.shape, 1 / np.sqrt(vector.size))
    return vector / norm


def _describe_rhs(vector: Array) -> str:
    if not np.any(vector):
        return "b = the uniform superposition over the system register"
    return f"b = {render_vector(_rhs(vector))}"


def qsvt(subject: Subject, examples: int, seed: int) -> Finding:
    r"""The simulated QSVT block against $\sigma V P(\Sigma) W^\dagger$ from numpy's SVD."""
    circuit = subject.qsvt
    lowered = subject.lowered_qsvt
    encoding, system = circuit.encoding, subject.system
    size = 1 << encoding.n_system_qubits
    left, sigma, right = np.linalg.svd(expected_block(encoding, subject.matrix) / encoding.alpha)
    block = circuit.sign * (right.T @ np.diag(chebyshev.chebval(sigma, circuit.coefficients)))
    block = block @ left.T
    n_gates = len(list(lowered.all_operations()))
    # The SVD is backward stable (error ~ size u in A); P moves by at most d^2 max|P| times that
    # (Markov's inequality for polynomials on [-1, 1]).
    markov = circuit.degree**2 * POLYNOMIAL_MAX_ABS * size * UNIT_ROUNDOFF
    tolerance = n_gates * UNIT_ROUNDOFF_32 + PHASE_ACCEPTANCE + markov

    def measure(vector: Array) -> Measurement:
        rhs = _rhs(vector)
        amplitudes = subject.simulate_qsvt(rhs, "qsim").amplitudes
        expected = block @ rhs
        difference = np.abs(amplitudes - expected)
        worst = int(np.argmax(difference))
        return Measurement(
            float(difference[worst]),
            tolerance,
            f"at system state |{worst}>: qsim {render_number(amplitudes[worst])}, "
            f"sign V P(Sigma) W^T b = {render_number(expected[worst])}",
        )

    outcome = search(
        vectors(size),
        measure,
        describe=_describe_rhs,
        examples=examples,
        seed=seed,
        shrink_calls=4,
        budget_s=subject.budget_s,
    )
    return Finding.of(
        outcome,
        f"g u_32 (qsim's complex64, g = {n_gates} gates) + the phase acceptance 1e-10 "
        "+ d^2 max|P| dim u (Markov: SVD rounding)",
        detail=f"{len(circuit.qubit_order)} qubits, degree {circuit.degree}, "
        f"{system.dim} x {system.dim} L",
    )


def qsim(subject: Subject, examples: int, seed: int) -> Finding:
    """qsim's post-selected amplitudes against ``cirq.Simulator``'s, on one drawn input."""
    circuit = subject.qsvt
    lowered = subject.lowered_qsvt
    size = 1 << circuit.encoding.n_system_qubits
    n_gates = len(list(lowered.all_operations()))
    tolerance = n_gates * (UNIT_ROUNDOFF_32 + UNIT_ROUNDOFF)

    def measure(vector: Array) -> Measurement:
        rhs = _rhs(vector)
        fast = subject.simulate_qsvt(rhs, "qsim").amplitudes
        reference = subject.simulate_qsvt(rhs, "cirq").amplitudes
        difference = np.abs(fast - reference)
        worst = int(np.argmax(difference))
        return Measurement(
            float(difference[worst]),
            tolerance,
            f"at system state |{worst}>: qsim {render_number(fast[worst])}, "
            f"cirq {render_number(reference[worst])}",
        )

    outcome = search(
        vectors(size), measure, describe=_describe_rhs, examples=1, seed=seed, shrink_calls=2
    )
    return Finding.of(
        outcome,
        f"g (u_32 + u), g = {n_gates} gates: qsim in complex64, cirq in complex128",
        detail=f"one input ({len(circuit.qubit_order)} qubits; cirq.Simulator is the slow side)",
    )


def shots(subject: Subject, examples: int, seed: int) -> Finding:
    r"""The sampled success probability against the exact one, for drawn $N$ and seed, on the
    uniform superposition $b$ (the sampler does not depend on $b$; the drawn inputs are)."""
    circuit = subject.qsvt
    _ = subject.lowered_qsvt
    rhs = _rhs(np.zeros(1 << circuit.encoding.n_system_qubits))
    log_term = math.log(2 / FALSE_ALARM)

    def measure(case: tuple[int, int]) -> Measurement:
        count, sampling_seed = case
        state = subject.simulate_qsvt(rhs, "qsim", shots=count, seed=sampling_seed)
        assert state.sampled_success is not None
        return Measurement(
            abs(state.sampled_success - state.success_probability),
            math.sqrt(log_term / (2 * count)),
            f"{count} shots give {render_number(state.sampled_success)}, the exact "
            f"probability is {render_number(state.success_probability)}",
        )

    outcome = search(
        st.tuples(st.integers(100, 100_000), st.integers(0, 2**32 - 1)),
        measure,
        describe=lambda case: f"{case[0]} shots, seed {case[1]}",
        examples=examples,
        seed=seed,
        shrink_calls=4,
        budget_s=subject.budget_s,
    )
    return Finding.of(
        outcome,
        "Hoeffding: sqrt(ln(2/delta) / 2N), delta = 1e-6 (a correct sampler fails one input in "
        "a million)",
        detail="b uniform; the sampling behind qrtc run --shots",
    )
