"""A ladder that cannot fail proves nothing: for each rung, a deliberately broken stage makes it
fail, with a counterexample in the report.

Each test breaks one stage of the compilation of a tiny spec (a pass wrapped with
``monkeypatch`` so that its output is corrupted the way a bug would corrupt it), runs the rung
that should catch it, and checks that the rung fails. Where a neighbouring rung checks
something else, it is run too and must still pass: the failure is located, not smeared.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import cirq
import numpy as np
import pytest
import scipy.sparse

import qrtc
from qrtc.circuits.qsvt import ProjectorPhase
from qrtc.circuits.sparse_access import SparseAccessTables
from qrtc.ir.polynomial_maps import PolynomialMap, PolynomialMaps, SparseTensor
from qrtc.verification import VerificationReport, verify
from verification.test_verify import LARGE_LR, MICRO

# Where the ladder finds the passes it runs: the pipeline's stages, the subject's encoding and
# inversion, the inversion's polynomial, phases and circuit, the QASM writer, the simulator.
PIPELINE = "qrtc.pipeline"
SUBJECT = "qrtc.verification.subject"
INVERT = "qrtc.passes.invert_block_encoding"


def run(*rungs: str, examples: int = 10) -> VerificationReport:
    return verify(qrtc.parse(MICRO), rungs=rungs, examples=examples)


def wrap(monkeypatch: pytest.MonkeyPatch, target: str, corrupt: Callable[[Any], Any]) -> None:
    """Replace the function ``module.name`` by one that corrupts its result."""
    module, _, name = target.rpartition(".")
    original = getattr(__import__(module, fromlist=[name]), name)

    def broken(*args: Any, **kwargs: Any) -> Any:
        return corrupt(original(*args, **kwargs))

    monkeypatch.setattr(target, broken)


def assert_fails(report: VerificationReport, name: str, *, shrunk: bool = True) -> str:
    rung = report.rung(name)
    assert rung.status == "fail", report.to_table()
    assert rung.counterexample, rung
    assert rung.shrunk is shrunk
    assert rung.worst_error is not None and rung.tolerance is not None
    assert not rung.worst_error <= rung.tolerance
    assert ("counterexample (shrunk)" if shrunk else "failure") in report.to_table()
    return rung.counterexample


def assert_passes(report: VerificationReport, *names: str) -> None:
    for name in names:
        assert report.rung(name).status == "pass", report.to_table()


# -- classical stages -----------------------------------------------------------------------------


def _flip_first(tensor: SparseTensor) -> SparseTensor:
    values = np.array(tensor.values)
    values[0] = -values[0]
    return dataclasses.replace(tensor, values=values)


def test_maps_catch_a_wrong_sign_in_one_coefficient(monkeypatch: pytest.MonkeyPatch) -> None:
    def corrupt(maps: PolynomialMaps) -> PolynomialMaps:
        learner = maps.learner
        terms = (_flip_first(learner.terms[0]), *learner.terms[1:])
        return dataclasses.replace(
            maps, learner=PolynomialMap(kind="learner", constant=learner.constant, terms=terms)
        )

    wrap(monkeypatch, "qrtc.passes.derive_polynomial_maps.derive_polynomial_maps", corrupt)
    report = run("maps", "carleman")
    counterexample = assert_fails(report, "maps")
    # Shrunk to the first learner step at the trajectory point itself: the flipped coefficient
    # multiplies theta, non-zero there.
    assert counterexample.startswith("sub-step s = 2 (learner), z = z_1 + 0 * spread * [0, 0]")
    assert "the learner map gives" in counterexample
    assert_passes(report, "carleman")  # C is the lift of the (wrong) maps: consistent


def test_carleman_catches_a_wrong_sign_in_one_entry_of_C(monkeypatch: pytest.MonkeyPatch) -> None:
    def corrupt(carleman: Any) -> Any:
        matrix = carleman.attack.matrix.copy()
        data = np.array(matrix.data)
        data[-1] = -data[-1]  # an entry of level 1
        broken = scipy.sparse.csr_array((data, matrix.indices, matrix.indptr), shape=matrix.shape)
        return dataclasses.replace(
            carleman, attack=dataclasses.replace(carleman.attack, matrix=broken)
        )

    wrap(monkeypatch, "qrtc.passes.carleman_embed.carleman_embed", corrupt)
    report = run("maps", "carleman")
    counterexample = assert_fails(report, "carleman")
    assert counterexample.startswith("C_attack, u = ")
    assert "C lift(u) =" in counterexample
    assert_passes(report, "maps")


def test_block_system_catches_a_dropped_padding_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """The last block row of L loses its -I (the copy of the terminal block)."""

    def corrupt(system: Any) -> Any:
        matrix = system.matrix.tolil()
        size = system.block_size
        last = (system.n_blocks - 1) * size
        for offset in range(size):
            matrix[last + offset, last - size + offset] = 0.0
        broken = scipy.sparse.csr_array(matrix.tocsr())
        broken.eliminate_zeros()
        return dataclasses.replace(system, matrix=broken, nnz=broken.nnz)

    wrap(monkeypatch, "qrtc.passes.assemble_block_system.assemble_block_system", corrupt)
    report = run("block-system", "trajectory")
    counterexample = assert_fails(report, "block-system")
    assert "block 3 of 4 (padding)" in counterexample
    assert_passes(report, "trajectory")  # theta_T sits in block S = 2, before the padding


def test_trajectory_catches_a_wrong_right_hand_side(monkeypatch: pytest.MonkeyPatch) -> None:
    def corrupt(system: Any) -> Any:
        block = np.array(system.initial_block)
        block[1] *= 1.5  # theta_0, scaled: the system solves from the wrong start
        return dataclasses.replace(system, initial_block=block)

    wrap(monkeypatch, "qrtc.passes.assemble_block_system.assemble_block_system", corrupt)
    report = run("block-system", "trajectory")
    counterexample = assert_fails(report, "trajectory", shrunk=False)
    assert "the reference trainer" in counterexample
    assert_passes(report, "block-system")


# -- block encoding -------------------------------------------------------------------------------


def test_oracles_catch_one_wrong_value(monkeypatch: pytest.MonkeyPatch) -> None:
    original = SparseAccessTables.from_matrix.__func__  # type: ignore[attr-defined]

    def corrupt(cls: type, matrix: Any) -> SparseAccessTables:
        tables = original(cls, matrix)
        angles = np.array(tables.values.values)
        angles[3] += 0.2
        values = dataclasses.replace(tables.values, values=angles)
        return dataclasses.replace(tables, values=values)

    monkeypatch.setattr(SparseAccessTables, "from_matrix", classmethod(corrupt))
    report = run("oracles")
    counterexample = assert_fails(report, "oracles", shrunk=False)
    assert re.match(r"entry \(\d+, \d+\) of L \(dim 12\)", counterexample)
    assert "the oracles give" in counterexample


def _with(extra: Callable[[Any], list[cirq.Operation]]) -> Callable[[Any], Any]:
    def corrupt(encoding: Any) -> Any:
        return dataclasses.replace(encoding, circuit=encoding.circuit + extra(encoding))

    return corrupt


def test_block_encoding_catches_a_stray_phase_on_the_system(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Z on the most significant system qubit: U's tables are right, its action is not."""
    wrap(
        monkeypatch,
        "qrtc.passes.encode_block_system.encode_block_system",
        _with(lambda encoding: [cirq.Z(encoding.system[0].qubits[0])]),
    )
    report = run("oracles", "block-encoding")
    counterexample = assert_fails(report, "block-encoding")
    assert counterexample.startswith("column e(") or counterexample.startswith("system state |")
    assert "alpha <0|U|0> =" in counterexample
    assert_passes(report, "oracles")


def test_resources_catch_a_changed_gate_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two more X gates on one system qubit: the same U, two more gates than the formula."""
    wrap(
        monkeypatch,
        "qrtc.passes.encode_block_system.encode_block_system",
        _with(lambda encoding: [cirq.X(encoding.system[0].qubits[0])] * 2),
    )
    report = run("block-encoding", "resources")
    counterexample = assert_fails(report, "resources", shrunk=False)
    assert counterexample.startswith("U x: counted")
    assert "QSVT x: counted" in counterexample  # every use of U in the QSVT circuit too
    assert_passes(report, "block-encoding")


def test_qasm_catches_a_swapped_qubit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first CNOT of the exported text has its control and target swapped."""

    def corrupt(text: str) -> str:
        return re.sub(r"^cx (q\[\d+\]),(q\[\d+\]);$", r"cx \2,\1;", text, count=1, flags=re.M)

    wrap(monkeypatch, "qrtc.verification.output.to_qasm", corrupt)
    counterexample = assert_fails(run("qasm"), "qasm")
    assert counterexample.startswith("input ")
    assert "Qiskit's circuit gives" in counterexample


# -- inversion ------------------------------------------------------------------------------------


def test_polynomial_catches_an_understated_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The polynomial claims half the relative error it has."""
    wrap(
        monkeypatch,
        f"{INVERT}.inverse_polynomial",
        lambda p: dataclasses.replace(p, epsilon=p.epsilon / 2),
    )
    report = run("polynomial", "phases")
    assert assert_fails(report, "polynomial").startswith("x = ")
    assert_passes(report, "phases")


def test_phases_catch_a_wrong_phase(monkeypatch: pytest.MonkeyPatch) -> None:
    def corrupt(factors: Any) -> Any:
        phases = np.array(factors.phases)
        phases[2] += 0.05
        phases[-3] += 0.05  # kept symmetric, as PhaseFactors requires
        return dataclasses.replace(factors, phases=phases)

    wrap(monkeypatch, f"{INVERT}.symmetric_phases", corrupt)
    report = run("polynomial", "phases")
    assert "Im<0|U_Phi(x)|0> =" in assert_fails(report, "phases")
    assert_passes(report, "polynomial")


@pytest.mark.slow
def test_qsvt_catches_a_wrong_projector_phase_in_the_circuit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One projector-controlled phase of the circuit is off by 0.1 (its phases are right)."""

    def corrupt(layout: Any) -> Any:
        moments = list(layout.circuit.moments)
        k, op = next(
            (k, op)
            for k, moment in enumerate(moments)
            for op in moment.operations
            if isinstance(op.gate, ProjectorPhase)
        )
        gate = dataclasses.replace(op.gate, angle=op.gate.angle + 0.1)
        moments[k] = cirq.Moment(gate.on(*op.qubits))
        return dataclasses.replace(layout, circuit=cirq.Circuit(moments))

    wrap(monkeypatch, f"{INVERT}.qsvt_circuit", corrupt)
    report = run("phases", "qsvt", "qsim", examples=3)
    counterexample = assert_fails(report, "qsvt")
    assert counterexample.startswith("b = ")
    assert "sign V P(Sigma) W^T b =" in counterexample
    assert_passes(report, "phases", "qsim")  # qsim and cirq agree on the wrong circuit


@pytest.mark.slow
def test_qsim_catches_a_simulator_that_disagrees_with_cirq(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def corrupt(state: Any) -> Any:
        if state.simulator != "qsim":
            return state
        amplitudes = np.array(state.amplitudes)
        amplitudes[0] += 1e-2
        return dataclasses.replace(state, amplitudes=amplitudes)

    wrap(monkeypatch, f"{SUBJECT}.simulate_postselected", corrupt)
    counterexample = assert_fails(run("qsim"), "qsim")
    assert "qsim" in counterexample and "cirq" in counterexample


def test_shots_catch_a_sampler_that_loses_half_the_successes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def corrupt(state: Any) -> Any:
        if state.sampled_success is None:
            return state
        return dataclasses.replace(state, sampled_success=state.sampled_success / 2)

    wrap(monkeypatch, f"{SUBJECT}.simulate_postselected", corrupt)
    counterexample = assert_fails(run("shots", examples=2), "shots")
    assert "shots give" in counterexample and "the exact probability is" in counterexample


# -- assumptions ----------------------------------------------------------------------------------


def test_assumptions_catch_an_unstable_spec() -> None:
    report = verify(LARGE_LR, rungs=["assumptions"])
    assert "A1(b) propagator bound Lambda" in assert_fails(report, "assumptions", shrunk=False)
