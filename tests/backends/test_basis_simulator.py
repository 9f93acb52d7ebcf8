"""The sparse basis-state simulator against ``cirq.Simulator`` (dense, complex128).

The simulator writes each gate's action from its classical description; cirq applies the gates'
own ``_apply_unitary_``. They must agree on random small circuits of every supported gate, with
and without postselection, on columns of generic and structured block encodings, and at more
than 63 qubits (by embedding a small circuit among idle qubits).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from random import Random

import cirq
import numpy as np
import pytest
import scipy.sparse
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray
from strategies import tiny_spec

import qrtc
from qrtc.backends import basis_simulator
from qrtc.backends.basis_simulator import BasisSimulationError, simulate_basis
from qrtc.circuits.arithmetic import Increment, LessThanConstant
from qrtc.circuits.controlled import MultiControlledRy, MultiControlledX, SwapRegisters
from qrtc.circuits.lookup import RotationLookup, Table, XorLookup
from qrtc.circuits.sparse_access import IndexOracle
from qrtc.circuits.state_preparation import UniformSuperposition
from qrtc.circuits.time_register import BlockTypeOracle, MixedRadixIncrement, phase_width
from qrtc.ir.block_encoding import BlockEncoding
from qrtc.passes.encode_block_system import encode_block_system, encode_matrix
from qrtc.pipeline import compile_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Both sides work in double precision on <= 30 gates (amplitudes <= 1): they differ by ~1e-15;
# the simulator drops amplitudes below 1e-15. 1e-10 leaves room only for rounding, not for bugs.
ATOL = 1e-10

_ANGLES = st.floats(-4 * math.pi, 4 * math.pi, allow_nan=False, allow_infinity=False)
MAX_QUBITS = 10


def _controls(max_size: int) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(st.integers(0, 1), max_size=max(0, max_size)).map(tuple)


def _int_table(draw: st.DrawFn, address_width: int, data_width: int) -> Table:
    """Distinct addresses with non-zero values below ``2**data_width`` (empty if no bits)."""
    if data_width == 0:
        return Table.from_pairs([], integer=True)
    addresses = draw(st.lists(st.integers(0, (1 << address_width) - 1), unique=True, max_size=8))
    return Table.from_pairs(
        [(a, draw(st.integers(1, (1 << data_width) - 1))) for a in addresses], integer=True
    )


@st.composite
def gates(draw: st.DrawFn, n: int) -> cirq.Gate:
    """One gate of any supported kind on at most ``n`` qubits."""
    kinds = ["X", "Z", "Ry", "MCX", "MCRy", "Uniform", "Increment", "LessThan", "Xor", "Rotation"]
    kinds += ["CNOT", "SWAP", "SwapRegisters"] if n >= 2 else []
    kinds += ["TOFFOLI", "IndexOracle"] if n >= 3 else []
    kinds += ["BlockType"] if n >= 4 else []
    kind = draw(st.sampled_from(kinds))
    if kind == "X":
        return cirq.X
    if kind == "Z":
        return cirq.Z
    if kind == "Ry":
        return cirq.ry(draw(_ANGLES))
    if kind == "CNOT":
        return cirq.CNOT
    if kind == "TOFFOLI":
        return cirq.TOFFOLI
    if kind == "SWAP":
        return cirq.SWAP
    if kind == "MCX":
        targets = draw(st.integers(1, min(3, n)))
        return MultiControlledX(draw(_controls(min(4, n - targets))), targets)
    if kind == "MCRy":
        return MultiControlledRy(draw(_ANGLES), draw(_controls(min(4, n - 1))))
    if kind == "SwapRegisters":
        with_control = draw(st.booleans()) and n >= 3
        return SwapRegisters(draw(st.integers(1, (n - with_control) // 2)), with_control)
    if kind == "Uniform":
        width = draw(st.integers(1, min(4, n)))
        n_items = draw(st.integers(1, 1 << width))
        return UniformSuperposition(
            n_items, width, draw(_controls(min(2, n - width))), draw(st.booleans())
        )
    if kind == "Increment":
        width = draw(st.integers(1, min(4, n)))
        return Increment(width, draw(_controls(min(2, n - width))))
    if kind == "LessThan":
        width = draw(st.integers(1, min(4, n - 1))) if n >= 2 else 0
        return LessThanConstant(width, draw(st.integers(-1, (1 << width) + 1)))
    if kind == "Xor":
        address_width = draw(st.integers(0, min(3, n - 1)))
        data_width = draw(st.integers(1, min(3, n - address_width)))
        values = draw(_controls(min(2, n - address_width - data_width)))
        table = _int_table(draw, address_width, data_width)
        return XorLookup(address_width, data_width, table, values)
    if kind == "Rotation":
        address_width = draw(st.integers(0, min(3, n - 1)))
        addresses = draw(
            st.lists(st.integers(0, (1 << address_width) - 1), unique=True, max_size=6)
        )
        table = Table.from_pairs([(a, draw(_ANGLES)) for a in addresses], integer=False)
        values = draw(_controls(min(2, n - address_width - 1)))
        return RotationLookup(address_width, table, draw(_ANGLES), values)
    if kind == "IndexOracle":
        width = draw(st.integers(1, min(3, (n - 1) // 2)))
        index_width = draw(st.integers(0, min(2, n - 2 * width)))
        values = draw(_controls(min(2, n - 2 * width - index_width)))
        forward = _int_table(draw, index_width + width, width)
        position = _int_table(draw, 2 * width, index_width)
        kind_name = draw(st.sampled_from(["row", "column"]))
        return IndexOracle(
            kind_name, index_width, width, forward, position, values, draw(st.booleans())
        )
    assert kind == "BlockType"
    radix = draw(st.integers(1, 5))
    outer_width = draw(st.integers(1, max(1, min(3, n - 2 - phase_width(radix)))))
    horizon = draw(st.integers(0, (1 << outer_width) - 1))
    n_blocks = draw(st.integers(horizon * radix + 1, radix << outer_width))
    gate = BlockTypeOracle(outer_width, radix, horizon, n_blocks)
    assert gate.num_qubits() <= n or n < 4 + phase_width(radix)
    return gate


@st.composite
def circuits(draw: st.DrawFn) -> tuple[cirq.Circuit, list[cirq.Qid], int]:
    """A random circuit of supported gates on <= 10 qubits, its qubit order and an input."""
    n = draw(st.integers(1, MAX_QUBITS))
    qubits = cirq.LineQubit.range(n)
    ops = []
    for _ in range(draw(st.integers(1, 8))):
        gate = draw(gates(n))
        if gate.num_qubits() > n:
            continue
        ops.append(gate.on(*draw(st.permutations(qubits))[: gate.num_qubits()]))
    order = draw(st.permutations(qubits))
    return cirq.Circuit(ops), order, draw(st.integers(0, (1 << n) - 1))


def _dense(
    circuit: cirq.Circuit, order: Sequence[cirq.Qid], initial: int
) -> NDArray[np.complex128]:
    simulator = cirq.Simulator(dtype=np.complex128)
    result = simulator.simulate(circuit, qubit_order=order, initial_state=initial)
    return np.asarray(result.final_state_vector, dtype=np.complex128)


def _to_vector(state: dict[int, float], n: int) -> NDArray[np.float64]:
    vector = np.zeros(1 << n)
    for key, amplitude in state.items():
        vector[key] = amplitude
    return vector


def _postselected(
    vector: NDArray[np.complex128], order: Sequence[cirq.Qid], zero: set[cirq.Qid]
) -> NDArray[np.complex128]:
    """``vector`` with every amplitude where a qubit of ``zero`` is 1 set to 0."""
    n = len(order)
    mask = sum(1 << (n - 1 - k) for k, q in enumerate(order) if q in zero)
    kept = vector.copy()
    kept[(np.arange(1 << n) & mask) != 0] = 0
    return kept


@given(circuits())
def test_agrees_with_cirq_simulator_on_random_circuits(
    case: tuple[cirq.Circuit, list[cirq.Qid], int],
) -> None:
    circuit, order, initial = case
    expected = _dense(circuit, order, initial)
    actual = simulate_basis(circuit, order, initial)
    assert all(isinstance(a, float) for a in actual.values())
    np.testing.assert_allclose(_to_vector(actual, len(order)), expected, atol=ATOL)


@given(circuits(), st.data())
def test_postselection_is_the_projection_of_the_full_result(
    case: tuple[cirq.Circuit, list[cirq.Qid], int], data: st.DataObject
) -> None:
    circuit, order, initial = case
    zero = set(data.draw(st.lists(st.sampled_from(order), unique=True)))
    # An adjoint uniform superposition as the last gate on postselected qubits takes the
    # simulator's shortcut (<0|U^dagger|x> = [x < m]/sqrt(m)); make that common.
    width = data.draw(st.integers(1, min(4, len(order))))
    register = order[-width:]
    tail = UniformSuperposition(data.draw(st.integers(1, 1 << width)), width, adjoint=True)
    if data.draw(st.booleans()):
        circuit = circuit + cirq.Circuit(tail.on(*register))
        zero |= set(register)
    expected = _postselected(_dense(circuit, order, initial), order, zero)
    actual = simulate_basis(circuit, order, initial, postselect=zero)
    n = len(order)
    mask = sum(1 << (n - 1 - k) for k, q in enumerate(order) if q in zero)
    assert not any(key & mask for key in actual)
    np.testing.assert_allclose(_to_vector(actual, n), expected, atol=ATOL)


@pytest.mark.parametrize("radix", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("values", [(), (1,), (0, 1)])
def test_mixed_radix_increment_agrees_with_cirq_on_valid_inputs(
    radix: int, values: tuple[int, ...]
) -> None:
    gate = MixedRadixIncrement(2, radix, values)
    qubits = cirq.LineQubit.range(gate.num_qubits())
    circuit = cirq.Circuit(gate.on(*qubits))
    unitary = cirq.unitary(gate)
    n_k, flag = phase_width(radix), int(radix > 1)
    for controls, outer, phase in itertools.product(
        range(1 << len(values)), range(4), range(radix)
    ):
        initial = ((((controls << 2) | outer) << n_k) | phase) << flag
        expected = unitary[:, initial]
        actual = _to_vector(simulate_basis(circuit, qubits, initial), len(qubits))
        np.testing.assert_allclose(actual, expected, atol=ATOL)


def test_mixed_radix_increment_refuses_invalid_phases_and_a_set_carry() -> None:
    gate = MixedRadixIncrement(2, 3, (1,))  # qubits: control, o (2), k (2), carry
    qubits = cirq.LineQubit.range(gate.num_qubits())
    circuit = cirq.Circuit(gate.on(*qubits))
    with pytest.raises(BasisSimulationError, match="phase 3 above K = 2"):
        simulate_basis(circuit, qubits, 0b1_00_11_0)
    with pytest.raises(BasisSimulationError, match="carry"):
        simulate_basis(circuit, qubits, 0b1_00_01_1)
    # With the control off the gate is the identity, whatever the phase.
    assert simulate_basis(circuit, qubits, 0b0_10_11_0) == {0b0_10_11_0: 1.0}


@pytest.mark.parametrize(
    "gate",
    [cirq.H, cirq.Y, cirq.S, cirq.rx(0.3), cirq.X**0.5, cirq.CZ, cirq.CNOT**0.5],
    ids=str,
)
def test_unknown_gates_are_refused_by_name(gate: cirq.Gate) -> None:
    qubits = cirq.LineQubit.range(gate.num_qubits())
    with pytest.raises(BasisSimulationError, match=type(gate).__name__):
        simulate_basis(cirq.Circuit(gate.on(*qubits)), qubits, 0)


def test_qubits_missing_from_the_order_are_refused() -> None:
    a, b = cirq.LineQubit.range(2)
    with pytest.raises(BasisSimulationError, match="not in qubit_order"):
        simulate_basis(cirq.Circuit(cirq.CNOT(a, b)), [a], 0)


def test_the_state_size_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(basis_simulator, "MAX_AMPLITUDES", 8)
    qubits = cirq.LineQubit.range(4)
    circuit = cirq.Circuit(cirq.ry(1.0)(q) for q in qubits)
    with pytest.raises(BasisSimulationError, match="postselect"):
        simulate_basis(circuit, qubits, 0)


@given(circuits(), st.integers(63, 120), st.randoms(use_true_random=False))
def test_more_than_63_qubits_by_embedding_a_small_circuit(
    case: tuple[cirq.Circuit, list[cirq.Qid], int], total: int, rnd: Random
) -> None:
    """The same circuit among idle qubits: idle bits stay, the rest is the small result."""
    circuit, order, initial = case
    n = len(order)
    idle = [cirq.NamedQubit(f"idle{k}") for k in range(total)]
    big_order: list[cirq.Qid] = list(idle)
    # The most significant qubit is idle and set: every basis index is >= 2**63.
    positions = sorted(rnd.sample(range(1, total + n), n))
    for position, qubit in zip(positions, order, strict=True):
        big_order.insert(position, qubit)
    idle_bits = rnd.getrandbits(total) | 1

    def embed(small: int) -> int:
        key, idle_k = 0, 0
        for k, qubit in enumerate(big_order):
            if qubit in idle:
                bit = (idle_bits >> idle_k) & 1
                idle_k += 1
            else:
                bit = (small >> (n - 1 - order.index(qubit))) & 1
            key |= bit << (len(big_order) - 1 - k)
        return key

    small = simulate_basis(circuit, order, initial)
    big = simulate_basis(circuit, big_order, embed(initial))
    assert big == {embed(key): amplitude for key, amplitude in small.items()}
    assert all(key >= 1 << 63 for key in big)


# -- columns of block encodings -----------------------------------------------------------------


def _assert_columns_agree(encoding: BlockEncoding, columns: Sequence[int]) -> None:
    """Whole final state (ancillas included) of U|0>|e(j)>: basis simulator vs cirq."""
    order = encoding.qubit_order
    for column in columns:
        start = int(encoding.index_map(column))
        expected = _dense(encoding.circuit, order, start)
        actual = simulate_basis(encoding.circuit, order, start)
        np.testing.assert_allclose(_to_vector(actual, len(order)), expected, atol=ATOL)
        ancillas = {q for r in encoding.ancillas for q in r.qubits}
        projected = simulate_basis(encoding.circuit, order, start, postselect=ancillas)
        expected_block = _postselected(expected, order, ancillas)
        np.testing.assert_allclose(_to_vector(projected, len(order)), expected_block, atol=ATOL)


@pytest.mark.parametrize("seed", range(4))
def test_columns_of_generic_encodings_of_random_matrices(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(2, 7))
    matrix = scipy.sparse.random_array(
        (size, size), density=0.5, rng=rng, data_sampler=lambda size: rng.uniform(-2, 2, size)
    )
    encoding = encode_matrix(scipy.sparse.csr_array(matrix), padding=("zero", "identity")[seed % 2])
    _assert_columns_agree(encoding, range(size))


@pytest.mark.parametrize("method", ["structured", "generic"])
@pytest.mark.parametrize("pgd_steps,horizon,padding", [(1, 2, 1), (2, 1, 0)])
def test_columns_of_encodings_of_a_tiny_block_system(
    method: str, pgd_steps: int, horizon: int, padding: int
) -> None:
    system = compile_spec(tiny_spec(pgd_steps, horizon, padding)).block_system
    assert system is not None
    encoding = encode_block_system(system, method=method)  # type: ignore[arg-type]
    assert len(encoding.qubit_order) <= 17
    _assert_columns_agree(encoding, [0, system.block_size, system.dim - 1])


# Dense state vectors of 23 (generic, ~2 s) and 25 qubits (structured, ~17 s): both slow.
@pytest.mark.slow
@pytest.mark.parametrize("method", ["generic", pytest.param("structured", marks=pytest.mark.slow)])
def test_columns_of_robust_linreg_encodings(method: str) -> None:
    system = compile_spec(qrtc.parse_file(str(EXAMPLES / "robust_linreg.qrt"))).block_system
    assert system is not None
    encoding = encode_block_system(system, method=method)  # type: ignore[arg-type]
    _assert_columns_agree(encoding, [0, system.dim - 1])
