r"""``qrtc run``: the whole pipeline, from a spec to a simulated $\theta_T$ (design.md §1).

A thin consumer of :mod:`qrtc.pipeline`: it compiles up to the read-out and turns what was
built into the report ``qrtc run`` prints (one table, or JSON). Every stage is timed by the
driver; the memory and time a simulation needs are checked there before anything is allocated.

The input state $|\mathbf b\rangle = |\tilde Y_0\rangle$ is loaded as the simulator's initial
state (paper.md §4.4 prepares it with $O(N)$ calls to an input unitary; that circuit is not
built here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qrtc.backends.simulate import DEFAULT_TIME_LIMIT_S, PostselectedState
from qrtc.ir.block_system import BlockSystem
from qrtc.ir.qsvt import QsvtCircuit
from qrtc.ir.readout import Readout
from qrtc.ir.spec import Spec
from qrtc.pipeline import Compilation, EncodingChoice, Simulator, Stage, compile
from qrtc.resources.counted import GateCounts, count_gates

__all__ = ["RunReport", "run_spec"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RunReport:
    """Everything ``qrtc run`` computed, and the wall time of each stage (seconds)."""

    compilation: Compilation
    gates: GateCounts
    work_qubits: int

    @classmethod
    def of(cls, compilation: Compilation) -> RunReport:
        """The report of a compilation, built (and simulated) up to the read-out."""
        compilation.build("readout")
        gates, work = count_gates(compilation.qsvt.circuit)
        return cls(compilation=compilation, gates=gates, work_qubits=work)

    @property
    def system(self) -> BlockSystem:
        return self.compilation.block_system

    @property
    def qsvt(self) -> QsvtCircuit:
        return self.compilation.qsvt

    @property
    def simulation(self) -> PostselectedState:
        return self.compilation.simulation

    @property
    def readout(self) -> Readout:
        return self.compilation.readout

    @property
    def simulated_qubits(self) -> int:
        return self.simulation.n_qubits

    @property
    def cross_check(self) -> float | None:
        return self.compilation.cross_check

    @property
    def stage_seconds(self) -> dict[str, float]:
        return dict(self.compilation.seconds)

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


def run_spec(
    spec: Spec,
    *,
    encoding: EncodingChoice = "auto",
    shots: int | None = None,
    seed: int | None = None,
    simulator: Simulator = "qsim",
    cross_check: bool = False,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    progress: Callable[[Stage, int, int], None] | None = None,
) -> RunReport:
    """Compile, invert, simulate and read out ``spec`` (:func:`qrtc.compile` to ``readout``).

    ``progress(stage, index, total)`` is called as each stage of
    :data:`~qrtc.pipeline.STAGES` starts.

    Raises:
        QrtError: the spec is invalid, breaks an assumption, or its circuit is too wide or too
            deep to simulate here (the message says how large and points to the resource
            estimate).
    """
    compilation = compile(
        spec,
        on_stage=progress,
        encoding=encoding,
        shots=shots,
        seed=seed,
        simulator=simulator,
        cross_check=cross_check,
        time_limit_s=time_limit_s,
    )
    return RunReport.of(compilation)
