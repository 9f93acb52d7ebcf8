r"""Read $\theta_T$ out of a post-selected QSVT state (stage 6 -> 7; see :mod:`qrtc.ir.readout`)."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse.linalg
from numpy.typing import NDArray

from qrtc.ir.block_system import BlockSystem
from qrtc.ir.qsvt import QsvtCircuit
from qrtc.ir.readout import ErrorTerm, Readout
from qrtc.ir.trajectory import Trajectory
from qrtc.numerics.block_matrix import assemble_matrix, assemble_rhs

__all__ = ["classical_solution", "pooled_theta_slice", "read_out"]


def classical_solution(system: BlockSystem) -> NDArray[np.float64]:
    r"""$\mathbf x = \mathbf L^{-1}\mathbf b$ by sparse LU, shape ``(dim,)``."""
    matrix = scipy.sparse.csc_array(assemble_matrix(system))
    return np.asarray(scipy.sparse.linalg.spsolve(matrix, assemble_rhs(system)), dtype=np.float64)


def pooled_theta_slice(system: BlockSystem, vector: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""The mean of the level-1 $\theta$-slices of the $p + 1$ terminal blocks, shape ``(n,)``."""
    n, size = system.carleman.n_params, system.block_size
    first = system.n_substeps
    slices = [vector[r * size + 1 : r * size + 1 + n] for r in range(first, system.n_blocks)]
    return np.asarray(np.mean(slices, axis=0), dtype=np.float64)


def _distance(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    return float(np.linalg.norm(a - b))


def _unit(vector: NDArray[np.float64]) -> NDArray[np.float64]:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def read_out(
    system: BlockSystem,
    qsvt: QsvtCircuit,
    trajectory: Trajectory,
    *,
    amplitudes: NDArray[np.complex128],
    sampled_success_probability: float | None = None,
    shots: int | None = None,
    solution: NDArray[np.float64] | None = None,
) -> Readout:
    """Compare the quantum read-out with the Carleman solution and the reference trainer.

    Args:
        amplitudes: the unnormalised post-selected amplitudes on the system register, shape
            ``(2**w,)``, basis state $e(i)$ for matrix index $i$.
        sampled_success_probability: an estimate of $\\|$``amplitudes``$\\|^2$ from ``shots``.
        solution: $\\mathbf L^{-1}\\mathbf b$ if already computed.
    """
    carleman = system.carleman
    n = carleman.n_params
    origin, gamma = carleman.expansion_point[:n], carleman.scale
    x = classical_solution(system) if solution is None else solution
    rhs_norm = float(np.linalg.norm(system.initial_block))
    solution_norm = float(np.linalg.norm(x))

    success = float(np.vdot(amplitudes, amplitudes).real)
    # sigma * s * alpha * L^-1 b / |b| up to the polynomial's error: undo sigma, keep the real
    # part (the block is real; what is left of the imaginary part is rounding).
    kept = (qsvt.sign * amplitudes[qsvt.encoding.embedded_indices()]).real
    state = kept / math.sqrt(success)
    s_alpha = qsvt.scale * qsvt.encoding.alpha

    def theta_from(norm: float) -> NDArray[np.float64]:
        return origin + gamma * pooled_theta_slice(system, state * norm)

    exact_norm = math.sqrt(success) * rhs_norm / s_alpha
    theta_exact = theta_from(exact_norm)
    if sampled_success_probability is not None:
        theta_quantum = theta_from(math.sqrt(sampled_success_probability) * rhs_norm / s_alpha)
    else:
        theta_quantum = theta_exact
    theta_carleman = origin + gamma * pooled_theta_slice(system, x)
    theta_reference = np.asarray(trajectory.final_theta, dtype=np.float64)

    size = system.block_size
    terminal = state[system.n_substeps * size :]
    terminal_probability = float(np.dot(terminal, terminal))

    bound = carleman.truncation_error_bound
    if bound is None:
        bound = carleman.truncation_error
    polynomial_bound = gamma * qsvt.polynomial_error * solution_norm / math.sqrt(system.padding + 1)
    readout_predicted = 0.0
    if shots is not None and 0 < success < 1:
        spread = 0.5 * math.sqrt((1 - success) / (success * shots))
        readout_predicted = float(np.linalg.norm(theta_exact - origin)) * spread
    terms = (
        ErrorTerm(
            "carleman",
            _distance(theta_carleman, theta_reference),
            bound,
            "Carleman theta_T vs reference trainer",
        ),
        ErrorTerm(
            "polynomial",
            _distance(theta_exact, theta_carleman),
            polynomial_bound,
            "quantum (exact success probability) vs Carleman",
        ),
        ErrorTerm(
            "readout",
            _distance(theta_quantum, theta_exact),
            readout_predicted,
            "quantum (sampled norm) vs quantum (exact norm)",
        ),
    )
    predicted_total = sum(t.predicted for t in terms if t.predicted is not None)
    total = ErrorTerm(
        "total",
        _distance(theta_quantum, theta_reference),
        predicted_total if all(t.predicted is not None for t in terms) else None,
        "quantum vs reference trainer",
    )
    state_carleman = _unit(pooled_theta_slice(system, x))
    state_quantum = _unit(pooled_theta_slice(system, state))
    return Readout(
        theta_reference=theta_reference,
        theta_carleman=theta_carleman,
        theta_quantum=theta_quantum,
        theta_quantum_exact=theta_exact,
        state_carleman=state_carleman,
        state_quantum=state_quantum,
        state_error=_distance(state_quantum, state_carleman),
        success_probability=success,
        predicted_success_probability=qsvt.predicted_success_probability(solution_norm, rhs_norm),
        sampled_success_probability=sampled_success_probability,
        shots=shots,
        terminal_probability=terminal_probability,
        errors=(*terms, total),
    )
