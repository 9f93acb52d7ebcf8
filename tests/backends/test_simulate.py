"""The simulation backend: lowering keeps the unitary (cirq.unitary), qsim agrees with
cirq.Simulator, post-selection gives (A/alpha) x (numpy), and big simulations are refused
before anything is allocated."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import cirq
import numpy as np
import pytest
import scipy.sparse
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray
from qsimcirq.qsim_simulator import QSimSimulator

import qrtc
from qrtc.backends import simulate
from qrtc.backends.simulate import (
    PEAK_STATE_COPIES,
    SimulationTooLarge,
    check_fits,
    lower_for_simulation,
    qsim_options,
    simulate_postselected,
    state_bytes,
)
from qrtc.circuits.arithmetic import Increment, LessThanConstant
from qrtc.circuits.controlled import MultiControlledRy, MultiControlledX
from qrtc.circuits.time_register import BlockTypeOracle, MixedRadixIncrement, phase_width
from qrtc.errors import BackendError, QrtError
from qrtc.ir.block_encoding import BlockEncoding
from qrtc.numerics.block_matrix import assemble_matrix
from qrtc.passes.encode_block_system import encode_block_system, encode_matrix
from qrtc.pipeline import compile_spec
from qrtc.testing import expected_block

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _sparse(dim: int, seed: int, density: float = 0.4) -> scipy.sparse.csr_array:
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((dim, dim)) * (rng.random((dim, dim)) < density)
    return scipy.sparse.csr_array(dense)


def _random_state(n_qubits: int, seed: int) -> NDArray[np.complex128]:
    rng = np.random.default_rng(seed)
    state = rng.normal(size=1 << n_qubits) + 1j * rng.normal(size=1 << n_qubits)
    return np.asarray(state / np.linalg.norm(state), dtype=np.complex128)


def _work(lowered: cirq.Circuit, order: Sequence[cirq.Qid]) -> list[cirq.Qid]:
    return sorted(set(lowered.all_qubits()) - set(order), key=str)


def _assert_same_unitary(circuit: cirq.Circuit, order: Sequence[cirq.Qid]) -> cirq.Circuit:
    """The lowered circuit acts as ``circuit`` on ``order`` with its work qubits |0> -> |0>."""
    lowered = lower_for_simulation(circuit)
    work = _work(lowered, order)
    n, w = len(order), len(work)
    expected = circuit.unitary(qubit_order=order)
    actual = lowered.unitary(qubit_order=[*order, *work]).reshape(1 << n, 1 << w, 1 << n, 1 << w)
    np.testing.assert_allclose(actual[:, 0, :, 0], expected, atol=1e-12)
    # Clean work qubits: nothing leaves the work-|0> subspace.
    np.testing.assert_allclose(actual[:, 1:, :, 0], 0, atol=1e-12)
    return lowered


def _assert_native(circuit: cirq.Circuit) -> None:
    for op in circuit.all_operations():
        gate = op.gate
        if isinstance(gate, cirq.ControlledGate):
            gate = gate.sub_gate
        assert gate in (cirq.X, cirq.CNOT, cirq.TOFFOLI, cirq.Z) or isinstance(gate, cirq.Ry), op


# -- lowering -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("dim", "seed"), [(3, 0), (4, 1), (4, 2)])
def test_lowered_encoding_has_the_unitary_of_the_encoding(dim: int, seed: int) -> None:
    encoding = encode_matrix(_sparse(dim, seed))
    lowered = _assert_same_unitary(encoding.circuit, encoding.qubit_order)
    _assert_native(lowered)
    assert not _work(lowered, encoding.qubit_order)


def test_lowered_inverse_is_the_adjoint() -> None:
    encoding = encode_matrix(_sparse(4, 3), padding="identity")
    inverse = cirq.inverse(encoding.circuit)
    _assert_same_unitary(inverse, encoding.qubit_order)


@st.composite
def lowering_gates(draw: st.DrawFn) -> cirq.Gate:
    """The gates with their own lowering rule, small enough for cirq.unitary."""
    kind = draw(st.sampled_from(["Increment", "LessThan", "MixedRadix", "BlockType", "MCX", "Ry"]))
    controls = draw(st.lists(st.integers(0, 1), max_size=2).map(tuple))
    if kind == "Increment":
        return Increment(draw(st.integers(1, 4)), controls)
    if kind == "LessThan":
        width = draw(st.integers(1, 4))
        return LessThanConstant(width, draw(st.integers(-1, (1 << width) + 1)))
    if kind == "MixedRadix":
        return MixedRadixIncrement(draw(st.integers(1, 3)), draw(st.integers(1, 5)), controls)
    if kind == "MCX":
        return MultiControlledX(controls + (1,), draw(st.integers(1, 3)))
    if kind == "Ry":
        return MultiControlledRy(draw(st.floats(-4, 4)), controls)
    radix = draw(st.integers(1, 4))
    outer_width = draw(st.integers(1, 2))
    horizon = draw(st.integers(0, (1 << outer_width) - 1))
    n_blocks = draw(st.integers(horizon * radix + 1, radix << outer_width))
    assert outer_width + phase_width(radix) + 2 <= 6  # <= 10 qubits with the work qubits
    return BlockTypeOracle(outer_width, radix, horizon, n_blocks)


@given(lowering_gates(), st.booleans())
def test_lowered_gates_have_their_unitary(gate: cirq.Gate, decompose_type: bool) -> None:
    qubits = cirq.LineQubit.range(gate.num_qubits())
    saved = simulate.MAX_TYPE_TABLE_BITS
    # Both lowerings of BlockTypeOracle: the table, and its comparators with work qubits.
    simulate.MAX_TYPE_TABLE_BITS = 0 if decompose_type else saved
    try:
        lowered = _assert_same_unitary(cirq.Circuit(gate.on(*qubits)), qubits)
    finally:
        simulate.MAX_TYPE_TABLE_BITS = saved
    _assert_native(lowered)
    if not (decompose_type and isinstance(gate, BlockTypeOracle)):
        assert not _work(lowered, qubits)


class _AndInto(cirq.Gate):
    """Test gate: Z on qubit 2 when qubits 0 and 1 are 1, through one clean work qubit."""

    def __init__(self, *, uncompute: bool = True) -> None:
        self.uncompute = uncompute

    def _num_qubits_(self) -> int:
        return 3

    def _unitary_(self) -> NDArray[np.complex128]:
        return np.diag([1, 1, 1, 1, 1, 1, 1, -1]).astype(np.complex128)

    def _decompose_with_context_(
        self, qubits: Sequence[cirq.Qid], context: cirq.DecompositionContext | None = None
    ) -> list[cirq.Operation]:
        assert context is not None
        (work,) = context.qubit_manager.qalloc(1)
        a, b, c = qubits
        ops = [cirq.TOFFOLI(a, b, work), cirq.CZ(work, c)]
        ops += [cirq.TOFFOLI(a, b, work)] if self.uncompute else []
        context.qubit_manager.qfree([work])
        return ops


def test_work_qubits_with_disjoint_live_ranges_share_one_qubit() -> None:
    qubits = cirq.LineQubit.range(4)
    circuit = cirq.Circuit(
        cirq.H.on_each(*qubits),
        _AndInto().on(*qubits[:3]),
        _AndInto().on(*qubits[1:]),
        _AndInto().on(qubits[3], qubits[0], qubits[2]),
    )
    lowered = _assert_same_unitary(circuit, qubits)
    assert _work(lowered, qubits) == [simulate.work_qubit(0)]


def test_a_dirty_work_qubit_is_caught() -> None:
    qubits = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(cirq.H.on_each(*qubits), _AndInto(uncompute=False).on(*qubits))
    with pytest.raises(AssertionError, match="work qubit"):
        simulate_postselected(circuit, qubits, _random_state(3, 0), {}, simulator="cirq")


def test_an_operation_without_a_rule_is_named() -> None:
    class Opaque(cirq.Gate):
        def _num_qubits_(self) -> int:
            return 1

    with pytest.raises(ValueError, match="Opaque"):
        lower_for_simulation(cirq.Circuit(Opaque().on(cirq.LineQubit(0))))


# -- simulation and post-selection --------------------------------------------------------------


def _encoding_case(
    dim: int, seed: int
) -> tuple[BlockEncoding, scipy.sparse.csr_array, NDArray[np.complex128]]:
    matrix = _sparse(dim, seed)
    encoding = encode_matrix(matrix)
    return encoding, matrix, _random_state(encoding.n_system_qubits, seed + 100)


def _initial(
    encoding: BlockEncoding, system_state: NDArray[np.complex128] | NDArray[np.float64]
) -> NDArray[np.complex128]:
    """|0>_ancillas (x) system_state, over ``encoding.qubit_order`` (ancillas first)."""
    full = np.zeros(1 << len(encoding.qubit_order), dtype=np.complex128)
    full[: system_state.size] = system_state
    return full


def _ancillas_zero(encoding: BlockEncoding) -> dict[cirq.Qid, int]:
    return {q: 0 for r in encoding.ancillas for q in r.qubits}


@pytest.mark.parametrize(("dim", "seed"), [(5, 0), (7, 1)])
def test_qsim_and_cirq_agree_on_a_random_state(dim: int, seed: int) -> None:
    encoding, _, _ = _encoding_case(dim, seed)
    order = encoding.qubit_order
    initial = _random_state(len(order), seed)
    # Post-select one qubit only, so most of the final state is compared.
    postselect = {order[0]: 1}
    fast = simulate_postselected(encoding.circuit, order, initial, postselect)
    reference = simulate_postselected(
        encoding.circuit, order, initial, postselect, simulator="cirq"
    )
    assert (fast.simulator, reference.simulator) == ("qsim", "cirq")
    assert fast.kept == reference.kept == tuple(order[1:])
    np.testing.assert_allclose(fast.amplitudes, reference.amplitudes, atol=1e-5)
    assert fast.success_probability == pytest.approx(reference.success_probability, abs=1e-5)
    # The reference itself, from cirq.Simulator run directly on the original gates.
    final = cirq.Simulator(dtype=np.complex128).simulate(
        encoding.circuit, qubit_order=order, initial_state=initial
    )
    half = 1 << (len(order) - 1)
    np.testing.assert_allclose(reference.amplitudes, final.final_state_vector[half:], atol=1e-10)


@pytest.mark.parametrize("simulator", ["qsim", "cirq"])
@pytest.mark.parametrize(("dim", "seed"), [(4, 2), (5, 3), (6, 4)])
def test_postselected_ancillas_zero_apply_a_over_alpha(
    simulator: simulate.Simulator, dim: int, seed: int
) -> None:
    encoding, matrix, x = _encoding_case(dim, seed)
    result = simulate_postselected(
        encoding.circuit,
        encoding.qubit_order,
        _initial(encoding, x),
        _ancillas_zero(encoding),
        simulator=simulator,
    )
    expected = expected_block(encoding, matrix) @ x / encoding.alpha
    atol = 1e-5 if simulator == "qsim" else 1e-12
    assert result.kept == encoding.qubit_order[-encoding.n_system_qubits :]
    np.testing.assert_allclose(result.amplitudes, expected, atol=atol)
    assert result.success_probability == pytest.approx(np.vdot(expected, expected).real, abs=atol)
    np.testing.assert_allclose(
        result.normalized, expected / np.linalg.norm(expected), atol=10 * atol
    )
    assert result.work_leak == 0 and result.n_work_qubits == 0
    assert result.n_qubits == len(encoding.qubit_order) and result.n_gates > 0
    assert not result.amplitudes.flags.writeable


def test_sampled_success_is_within_five_standard_errors() -> None:
    encoding, _, x = _encoding_case(5, 5)
    args = (encoding.circuit, encoding.qubit_order, _initial(encoding, x), _ancillas_zero(encoding))
    result = simulate_postselected(*args, shots=20_000, seed=11)
    assert result.shots == 20_000 and result.sampled_success is not None
    error = result.sampled_standard_error
    assert error is not None
    p = result.sampled_success
    assert error == pytest.approx(np.sqrt(p * (1 - p) / 20_000))
    assert abs(p - result.success_probability) < 5 * error
    again = simulate_postselected(*args, shots=20_000, seed=11)
    assert again.sampled_success == p
    exact = simulate_postselected(*args)
    assert exact.sampled_success is None and exact.sampled_standard_error is None


def test_sampling_draws_the_postselected_register_distribution() -> None:
    # H on q0, Ry on q1: P(q0 = 0, q1 = 1) = 1/2 * sin^2(0.6), q2 kept.
    qubits = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(cirq.H(qubits[0]), cirq.ry(1.2)(qubits[1]))
    initial = np.zeros(8, dtype=np.complex128)
    initial[0] = 1
    result = simulate_postselected(
        circuit, qubits, initial, {qubits[0]: 0, qubits[1]: 1}, shots=50_000, seed=3
    )
    exact = 0.5 * np.sin(0.6) ** 2
    assert result.success_probability == pytest.approx(exact, abs=1e-6)
    assert result.sampled_success is not None and result.sampled_standard_error is not None
    assert abs(result.sampled_success - exact) < 5 * result.sampled_standard_error
    np.testing.assert_allclose(result.amplitudes, [np.sqrt(0.5) * np.sin(0.6), 0], atol=1e-6)


@pytest.mark.parametrize("simulator", ["qsim", "cirq"])
def test_a_global_phase_multiplies_the_amplitudes(simulator: simulate.Simulator) -> None:
    qubits = cirq.LineQubit.range(2)
    circuit = cirq.Circuit(cirq.H(qubits[1]), cirq.GlobalPhaseGate(1j).on())
    result = simulate_postselected(circuit, qubits, 0, {qubits[0]: 0}, simulator=simulator)
    np.testing.assert_allclose(result.amplitudes, [1j / np.sqrt(2)] * 2, atol=1e-6)


def test_a_basis_initial_state_is_an_index() -> None:
    qubits = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(cirq.X(qubits[2]), cirq.CNOT(qubits[2], qubits[0]))
    result = simulate_postselected(circuit, qubits, 0b010, {qubits[1]: 1}, simulator="cirq")
    np.testing.assert_allclose(result.amplitudes, [0, 0, 0, 1], atol=1e-12)


def test_work_qubits_start_and_are_postselected_in_zero() -> None:
    qubits = cirq.LineQubit.range(4)
    circuit = cirq.Circuit(cirq.H.on_each(*qubits), _AndInto().on(*qubits[:3]))
    initial = np.zeros(16, dtype=np.complex128)
    initial[0] = 1
    expected = (
        cirq.Simulator(dtype=np.complex128)
        .simulate(circuit, qubit_order=qubits, initial_state=initial)
        .final_state_vector
    )
    simulators: tuple[simulate.Simulator, ...] = ("qsim", "cirq")
    for simulator in simulators:
        result = simulate_postselected(circuit, qubits, initial, {}, simulator=simulator)
        assert result.n_work_qubits == 1 and result.n_qubits == 5
        assert result.work_leak < 1e-12
        np.testing.assert_allclose(result.amplitudes, expected, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial_state": np.ones(8)}, "norm"),
        ({"initial_state": np.ones(4) / 2}, "shape"),
        ({"postselect": {cirq.LineQubit(9): 0}}, "postselect"),
        ({"postselect": {cirq.LineQubit(0): 2}}, "postselect"),
        ({"qubit_order": cirq.LineQubit.range(2)}, "not in qubit_order"),
        ({"shots": 0}, "shots"),
        ({"simulator": "quest"}, "simulator"),
    ],
)
def test_inconsistent_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    qubits = cirq.LineQubit.range(3)
    args: dict[str, object] = {
        "circuit": cirq.Circuit(cirq.X.on_each(*qubits)),
        "qubit_order": qubits,
        "initial_state": np.eye(8)[0],
        "postselect": {},
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        simulate_postselected(**args)  # type: ignore[arg-type]


@pytest.mark.slow
def test_structured_encoding_of_robust_linreg_applies_l_over_alpha() -> None:
    system = compile_spec(qrtc.parse_file(EXAMPLES / "robust_linreg.qrt")).block_system
    assert system is not None
    encoding = encode_block_system(system)
    x = _random_state(encoding.n_system_qubits, 7).real
    x /= np.linalg.norm(x)
    result = simulate_postselected(
        encoding.circuit, encoding.qubit_order, _initial(encoding, x), _ancillas_zero(encoding)
    )
    expected = expected_block(encoding, assemble_matrix(system)) @ x / encoding.alpha
    np.testing.assert_allclose(result.amplitudes, expected, atol=1e-5)
    assert result.n_work_qubits == 0


# -- memory and options -------------------------------------------------------------------------


def test_state_bytes() -> None:
    assert state_bytes(10) == 8 * 1024
    assert state_bytes(10, dtype=np.complex128) == 16 * 1024


def test_forty_qubits_are_refused_before_anything_is_allocated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_allocation(*args: object, **kwargs: object) -> None:
        raise AssertionError("allocated a state")

    for name in ("zeros", "empty", "full", "ones"):
        monkeypatch.setattr(np, name, no_allocation)
    qubits = cirq.LineQubit.range(40)
    circuit = cirq.Circuit(cirq.X.on_each(*qubits))
    started = time.perf_counter()
    with pytest.raises(SimulationTooLarge) as caught:
        simulate_postselected(circuit, qubits, 0, {qubits[0]: 0})
    assert time.perf_counter() - started < 2
    message = str(caught.value)
    assert isinstance(caught.value, BackendError) and isinstance(caught.value, QrtError)
    assert "40 qubits" in message
    # 2^40 complex64 amplitudes are 8 TiB; 3.5 of them at the peak.
    assert "28.0 TiB" in message and "8.0 TiB" in message
    assert "--emit resources" in message


@pytest.mark.parametrize("n_qubits", [20, 26])
def test_check_fits_keeps_a_safety_margin(n_qubits: int) -> None:
    need = int(PEAK_STATE_COPIES * state_bytes(n_qubits))
    check_fits(n_qubits, memory_bytes=2 * need)
    with pytest.raises(SimulationTooLarge, match=f"{n_qubits} qubits"):
        check_fits(n_qubits, memory_bytes=need)
    check_fits(n_qubits)  # this machine runs the tests' simulations


def test_available_memory_is_positive() -> None:
    assert simulate.available_memory() > 0


@pytest.mark.parametrize("n_qubits", [1, 16, 20, 32])
@pytest.mark.parametrize("cores", [None, 1, 16])
@pytest.mark.parametrize("idle", [None, 0.0, 40.0])
def test_qsim_options_are_valid(n_qubits: int, cores: int | None, idle: float | None) -> None:
    options = qsim_options(n_qubits, 1000, cores=cores, idle_cores=idle)
    assert set(options) == {"t", "f"}
    assert all(type(v) is int for v in options.values())
    assert 1 <= options["t"] <= (cores or simulate._cores())
    assert 2 <= options["f"] <= 4
    QSimSimulator(qsim_options=options)


def test_qsim_threads_only_for_large_states_and_idle_cores() -> None:
    assert qsim_options(16, 1000, cores=16, idle_cores=16.0)["t"] == 1
    assert qsim_options(24, 1000, cores=2, idle_cores=1.9)["t"] == 2
    assert qsim_options(24, 1000, cores=2, idle_cores=1.1)["t"] == 1
    assert qsim_options(24, 1000, cores=16, idle_cores=11.8)["t"] == 12


def test_idle_cores_are_measured() -> None:
    assert 0 <= simulate.measure_idle_cores(0.01) <= (os.cpu_count() or 1) + 1e-9


def test_qsim_runs_with_the_chosen_options() -> None:
    qubits = cirq.LineQubit.range(21)
    circuit = cirq.Circuit(cirq.H.on_each(*qubits), cirq.X(qubits[0]).controlled_by(*qubits[1:]))
    postselect: dict[cirq.Qid, int] = {q: 1 for q in qubits[1:]}
    result = simulate_postselected(circuit, qubits, 0, postselect)
    assert result.options["f"] == 3 and 1 <= result.options["t"] <= simulate._cores()
    # |1...1> and |01...1> each have amplitude 2^(-21/2); the controlled X swaps them.
    np.testing.assert_allclose(result.amplitudes, [2.0**-10.5] * 2, rtol=1e-5)
    forced = simulate_postselected(circuit, qubits, 0, postselect, options={"t": 1, "f": 4})
    assert forced.options == {"t": 1, "f": 4}
