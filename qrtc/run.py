r"""``qrtc run``: the whole pipeline, from a spec to a simulated $\theta_T$ (design.md §1).

spec -> block system (:mod:`qrtc.pipeline`) -> block encoding -> QSVT inversion circuit ->
qsim simulation with exact post-selection (and optional sampling) -> read-out against the
Carleman solution and the reference trainer. Every stage is timed; the memory a state vector
needs is checked before anything is allocated.

The input state $|\mathbf b\rangle = |\tilde Y_0\rangle$ is loaded as the simulator's initial
state (paper.md §4.4 prepares it with $O(N)$ calls to an input unitary; that circuit is not
built here).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import cirq
import numpy as np
from numpy.typing import NDArray

from qrtc.backends.readout import classical_solution, read_out
from qrtc.backends.resources import GateCounts, count_gates
from qrtc.backends.simulate import (
    PostselectedState,
    SimulationTooLarge,
    check_fits,
    lower_for_simulation,
    simulate_postselected,
)
from qrtc.errors import CompileError
from qrtc.ir.block_encoding import BlockEncoding
from qrtc.ir.block_system import BlockSystem
from qrtc.ir.qsvt import QsvtCircuit
from qrtc.ir.readout import Readout
from qrtc.ir.spec import Spec
from qrtc.passes.encode_block_system import MAX_GENERIC_NNZ, encode_block_system
from qrtc.passes.invert_block_encoding import (
    effective_condition_number,
    invert_block_encoding,
    polynomial_error_for,
)
from qrtc.pipeline import Compilation, compile_spec
from qrtc.qsp.polynomial import inverse_polynomial_degree

__all__ = ["RUN_STAGES", "RunReport", "check_simulation_time", "run_spec"]

Encoding = Literal["auto", "structured", "generic"]
RUN_STAGES = (
    "problem",
    "trajectory",
    "maps",
    "carleman",
    "block_system",
    "encode",
    "invert",
    "simulate",
    "readout",
)
"""The stages ``run_spec`` reports progress and wall time for, in order."""

# Share of ``precision`` (in the units of theta) the polynomial may spend.
POLYNOMIAL_SHARE = 0.5
# The time model of a simulation: a fixed cost per gate (lowering and qsimcirq's translation,
# ~60 us) plus 2^n amplitude updates per gate at a rate far above one update per cycle,
# because multi-controlled gates touch only their subspace and qsim fuses gates. Measured on 2
# cores: 1.4e11 per second at 22 qubits (32k lowered gates in 0.96 s) and 3e11 at 25
# (examples/robust_linreg.qrt, 2.56e6 gates in 436 s); 1.5e11 errs on the slow side.
SECONDS_PER_GATE = 6e-5
AMPLITUDE_UPDATES_PER_SECOND = 1.5e11
DEFAULT_TIME_LIMIT_S = 600.0
# Operations a projector phase adds per query after lowering (MCX, CNOT, Rz, CNOT, Rz, MCX).
_PHASE_OPERATIONS = 6


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RunReport:
    """Everything ``qrtc run`` computed, and the wall time of each stage (seconds)."""

    compilation: Compilation
    qsvt: QsvtCircuit
    simulation: PostselectedState
    readout: Readout
    gates: GateCounts
    work_qubits: int
    simulated_qubits: int
    cross_check: float | None
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def system(self) -> BlockSystem:
        assert self.compilation.block_system is not None
        return self.compilation.block_system

    def to_json(self) -> dict[str, Any]:
        r = self.readout
        q = self.qsvt
        return {
            "ok": True,
            "theta": {
                "reference": r.theta_reference.tolist(),
                "carleman": r.theta_carleman.tolist(),
                "quantum": r.theta_quantum.tolist(),
                "quantum_exact_norm": r.theta_quantum_exact.tolist(),
                "state_carleman": r.state_carleman.tolist(),
                "state_quantum": r.state_quantum.tolist(),
                "state_error": r.state_error,
            },
            "errors": {
                t.source: {"measured": t.measured, "predicted": t.predicted, "compared": t.compared}
                for t in r.errors
            },
            "success_probability": {
                "measured": r.success_probability,
                "predicted": r.predicted_success_probability,
                "sampled": r.sampled_success_probability,
                "shots": r.shots,
                "terminal_weight": r.terminal_probability,
            },
            "qsvt": {
                "encoding": q.encoding.method,
                "alpha": q.encoding.alpha,
                "kappa_eff": q.kappa,
                "kappa_is_exact": q.kappa_is_exact,
                "degree": q.degree,
                "reference_degree": q.reference_degree,
                "polynomial_error": q.polynomial_error,
                "scale": q.scale,
                "phase_residual": q.phase_residual,
                "queries": q.queries,
            },
            "qubits": {
                "circuit": q.n_qubits,
                "work": self.work_qubits,
                "simulated": self.simulated_qubits,
            },
            "gates": {
                "toffoli": self.gates.toffoli,
                "cnot": self.gates.cnot,
                "one_qubit": self.gates.one_qubit,
                "total": self.gates.total,
                "t_estimate": self.gates.t_count(),
                "simulated": self.simulation.n_gates,
            },
            "simulator": {
                "name": self.simulation.simulator,
                "options": self.simulation.options,
                "cross_check_max_abs_difference": self.cross_check,
            },
            "stage_seconds": self.stage_seconds,
        }

    def to_table(self) -> str:
        """The one table ``qrtc run`` ends with."""
        r, q = self.readout, self.qsvt

        def vec(v: NDArray[np.float64]) -> str:
            return "[" + ", ".join(f"{x:+.6f}" for x in v) + "]"

        def num(x: float | None) -> str:
            return "-" if x is None else f"{x:.3g}"

        rows: list[tuple[str, str]] = [
            ("theta_T reference trainer", vec(r.theta_reference)),
            ("theta_T Carleman (L^-1 b)", vec(r.theta_carleman)),
            ("theta_T quantum", vec(r.theta_quantum)),
            ("  normalised state (Carleman)", vec(r.state_carleman)),
            ("  normalised state (quantum)", vec(r.state_quantum)),
            ("  normalised state error", num(r.state_error)),
            ("error by source", "measured / predicted"),
        ]
        for term in r.errors:
            rows.append((f"  {term.source}", f"{num(term.measured)} / {num(term.predicted)}"))
        sampled = r.sampled_success_probability
        rows += [
            (
                "success probability",
                f"{r.success_probability:.4g} (predicted {r.predicted_success_probability:.4g}"
                + (f", sampled {sampled:.4g} from {r.shots} shots" if sampled is not None else "")
                + ")",
            ),
            ("terminal-block weight", f"{r.terminal_probability:.4g}"),
            (
                "kappa_eff",
                f"{q.kappa:.4g} ({'exact' if q.kappa_is_exact else 'bound'}), "
                f"alpha = {q.encoding.alpha:.4g} ({q.encoding.method} encoding)",
            ),
            (
                "polynomial degree",
                f"{q.degree} (relative error {q.polynomial_error:.2g}; "
                f"Childs-Kothari-Somma {q.reference_degree})",
            ),
            ("phase residual", f"{q.phase_residual:.2g}"),
            ("queries to U", str(q.queries)),
            (
                "qubits",
                f"{q.n_qubits} + {self.work_qubits} work (simulated: {self.simulated_qubits})",
            ),
            (
                "gates",
                f"{self.gates.toffoli:,} Toffoli, {self.gates.cnot:,} CNOT, "
                f"{self.gates.one_qubit:,} one-qubit ({self.simulation.n_gates:,} simulated); "
                f"T estimate {self.gates.t_count():,}",
            ),
            (
                "simulator",
                f"{self.simulation.simulator} {self.simulation.options}"
                + (
                    f", cirq.Simulator agrees to {self.cross_check:.1e}"
                    if self.cross_check is not None
                    else ""
                ),
            ),
        ]
        rows.append(("wall time", f"{sum(self.stage_seconds.values()):.2f} s"))
        for stage, seconds in self.stage_seconds.items():
            rows.append((f"  {stage}", f"{seconds:.2f} s"))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows) + "\n"


def _lowered_width(encoding: BlockEncoding, lowered: cirq.Circuit) -> int:
    # Two QSVT ancillas (signal, branch) on top of what the lowered U touches.
    return len(lowered.all_qubits() | set(encoding.qubit_order)) + 2


def _choose_encoding(
    system: BlockSystem, encoding: Encoding, what: str
) -> tuple[BlockEncoding, cirq.Circuit]:
    """The encoding to simulate and its lowered $U$ (what qsim runs, once per query)."""
    if encoding != "auto":
        chosen = encode_block_system(system, method=encoding)
        check_fits(len(chosen.qubit_order) + 2, what=what)
        return chosen, lower_for_simulation(chosen.circuit)
    candidates = [encode_block_system(system, method="structured")]
    if system.nnz <= MAX_GENERIC_NNZ:
        candidates.append(encode_block_system(system, method="generic"))
    # What limits a simulation is its width: take the narrower (structured on a tie). The
    # gate-level width is a lower bound, so a candidate that fails it is never lowered (lowering
    # a wide encoding alone can take minutes and gigabytes).
    fitting = [c for c in candidates if _fits(len(c.qubit_order) + 2)]
    if not fitting:
        check_fits(min(len(c.qubit_order) for c in candidates) + 2, what=what)
    lowered = [(c, lower_for_simulation(c.circuit)) for c in fitting]
    return min(lowered, key=lambda pair: _lowered_width(*pair))


def _fits(n_qubits: int) -> bool:
    try:
        check_fits(n_qubits)
    except SimulationTooLarge:
        return False
    return True


def check_simulation_time(
    n_gates: int, n_qubits: int, *, limit_s: float, what: str = "the QSVT circuit"
) -> float:
    """The estimated seconds to simulate; raises :class:`SimulationTooLarge` above ``limit_s``."""
    seconds = n_gates * (SECONDS_PER_GATE + float(2**n_qubits) / AMPLITUDE_UPDATES_PER_SECOND)
    if seconds > limit_s:
        raise SimulationTooLarge(
            f"simulating {what} ({n_gates:,} gates on {n_qubits} qubits) would take about "
            f"{_duration(seconds)} here, over the limit of {_duration(limit_s)}",
            hint="raise the limit with --time-limit SECONDS, or estimate the resources "
            "without simulating: `qrtc compile FILE --emit resources`",
        )
    return seconds


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.3g} days"


def _initial_state(qsvt: QsvtCircuit, system: BlockSystem) -> NDArray[np.complex128]:
    # Ancillas are the most significant qubits and start in |0>, so |b> sits at e(i).
    state = np.zeros(1 << qsvt.n_qubits, dtype=np.complex128)
    block = system.initial_block
    state[qsvt.encoding.embedded_indices()[: len(block)]] = block / np.linalg.norm(block)
    return state


def run_spec(
    spec: Spec,
    *,
    encoding: Encoding = "auto",
    shots: int | None = None,
    seed: int | None = None,
    simulator: Literal["qsim", "cirq"] = "qsim",
    cross_check: bool = False,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    progress: Callable[[str, int, int], None] | None = None,
) -> RunReport:
    """Compile, invert, simulate and read out ``spec``.

    ``progress(stage, index, total)`` is called as each stage of :data:`RUN_STAGES` starts.

    Raises:
        QrtError: the spec is invalid, breaks an assumption, or its circuit is too wide or too
            deep to simulate here (the message says how large and points to the resource
            estimate).
    """
    seconds: dict[str, float] = {}
    total = len(RUN_STAGES)

    def starting(stage: str) -> None:
        if progress is not None:
            progress(stage, RUN_STAGES.index(stage), total)

    def finished(stage: str, elapsed: float) -> None:
        seconds[stage] = elapsed
        following = RUN_STAGES.index(stage) + 1
        if following < total:
            starting(RUN_STAGES[following])

    starting("problem")
    compilation = compile_spec(spec, on_stage=finished)
    system = compilation.block_system
    trajectory = compilation.trajectory
    assert system is not None and trajectory is not None and compilation.problem is not None
    if system.matrix is None:
        raise CompileError(
            f"L has dimension {system.dim:,}, too large to build explicitly, let alone simulate",
            span=system.origin,
            hint="estimate the resources instead: `qrtc compile FILE --emit resources`",
        )

    clock = time.perf_counter()
    what = f"the QSVT circuit of {spec.file}"
    chosen, lowered = _choose_encoding(system, encoding, what)
    width = _lowered_width(chosen, lowered)
    check_fits(width, what=what)
    finished("encode", time.perf_counter() - clock)

    clock = time.perf_counter()
    solution = classical_solution(system)
    precision = compilation.problem.options.precision
    error = polynomial_error_for(
        system, float(np.linalg.norm(solution)), POLYNOMIAL_SHARE * precision
    )
    # The degree first (milliseconds): refuse a hopeless simulation before building it.
    kappa = effective_condition_number(system, chosen.alpha)
    degree = inverse_polynomial_degree(kappa[0], error)
    operations = len(list(lowered.all_operations())) + _PHASE_OPERATIONS
    check_simulation_time(degree * operations, width, limit_s=time_limit_s, what=what)
    qsvt = invert_block_encoding(system, chosen, polynomial_error=error, kappa=kappa)
    gates, work = count_gates(qsvt.circuit)
    finished("invert", time.perf_counter() - clock)

    clock = time.perf_counter()
    initial = _initial_state(qsvt, system)
    state = simulate_postselected(
        qsvt.circuit,
        qsvt.qubit_order,
        initial,
        qsvt.postselect,
        simulator=simulator,
        shots=shots,
        seed=seed,
    )
    difference = None
    if cross_check:
        other = simulate_postselected(
            qsvt.circuit,
            qsvt.qubit_order,
            initial,
            qsvt.postselect,
            simulator="cirq" if simulator == "qsim" else "qsim",
        )
        difference = float(np.max(np.abs(other.amplitudes - state.amplitudes)))
    finished("simulate", time.perf_counter() - clock)

    clock = time.perf_counter()
    readout = read_out(
        system,
        qsvt,
        trajectory,
        amplitudes=state.amplitudes,
        sampled_success_probability=state.sampled_success,
        shots=shots,
        solution=solution,
    )
    seconds["readout"] = time.perf_counter() - clock
    return RunReport(
        compilation=compilation,
        qsvt=qsvt,
        simulation=state,
        readout=readout,
        gates=gates,
        work_qubits=work,
        simulated_qubits=state.n_qubits,
        cross_check=difference,
        stage_seconds=seconds,
    )
