"""Every custom gate: its ``_apply_unitary_`` against an independent matrix, and its
decomposition against its unitary (``cirq.testing.assert_decompose_is_consistent_with_unitary``).
"""

from __future__ import annotations

import itertools

import cirq
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qrtc.circuits.arithmetic import Increment, LessThanConstant
from qrtc.circuits.controlled import MultiControlledRy, MultiControlledX, SwapRegisters
from qrtc.circuits.lookup import RotationLookup, Table, XorLookup
from qrtc.circuits.state_preparation import UniformSuperposition

control_values = st.lists(st.integers(0, 1), max_size=4).map(tuple)


def _permutation_matrix(n_qubits: int, mapping: dict[int, int]) -> np.ndarray:
    size = 1 << n_qubits
    matrix = np.zeros((size, size))
    for x in range(size):
        matrix[mapping.get(x, x), x] = 1
    return matrix


def _decomposes_to_primitives(gate: cirq.Gate) -> None:
    qubits = cirq.LineQid.for_gate(gate)
    context = cirq.DecompositionContext(cirq.GreedyQubitManager("w", maximize_reuse=True))
    ops = cirq.decompose(
        gate.on(*qubits),
        keep=lambda op: cirq.num_qubits(op) == 1 or op.gate in (cirq.CNOT, cirq.TOFFOLI),
        context=context,
    )
    assert all(cirq.num_qubits(op) == 1 or op.gate in (cirq.CNOT, cirq.TOFFOLI) for op in ops)


@given(control_values, st.integers(1, 3))
def test_multi_controlled_x_matches_cirqs_controlled_x(
    values: tuple[int, ...], targets: int
) -> None:
    gate = MultiControlledX(values, targets)
    expected = cirq.Circuit(
        cirq.X(t).controlled_by(*cirq.LineQubit.range(len(values)), control_values=values)
        for t in cirq.LineQubit.range(len(values), len(values) + targets)
    ).unitary(qubit_order=cirq.LineQubit.range(len(values) + targets))
    np.testing.assert_allclose(cirq.unitary(gate), expected, atol=1e-12)
    cirq.testing.assert_decompose_is_consistent_with_unitary(gate)
    _decomposes_to_primitives(gate)


@given(st.floats(-7, 7), control_values)
def test_multi_controlled_ry_matches_cirqs_controlled_ry(
    angle: float, values: tuple[int, ...]
) -> None:
    gate = MultiControlledRy(angle, values)
    expected = cirq.unitary(cirq.ry(angle).controlled(len(values), control_values=values))
    np.testing.assert_allclose(cirq.unitary(gate), expected, atol=1e-12)
    cirq.testing.assert_decompose_is_consistent_with_unitary(gate)
    np.testing.assert_allclose(cirq.unitary(gate**-1), expected.conj().T, atol=1e-12)


@pytest.mark.parametrize("size,with_control", itertools.product((1, 2, 3), (False, True)))
def test_swap_registers_matches_cirqs_swaps(size: int, with_control: bool) -> None:
    gate = SwapRegisters(size, with_control)
    qubits = cirq.LineQubit.range(gate.num_qubits())
    start = int(with_control)
    pairs = zip(qubits[start : start + size], qubits[start + size :], strict=True)
    if with_control:
        expected = cirq.Circuit(cirq.CSWAP(qubits[0], a, b) for a, b in pairs)
    else:
        expected = cirq.Circuit(cirq.SWAP(a, b) for a, b in pairs)
    np.testing.assert_allclose(cirq.unitary(gate), expected.unitary(qubit_order=qubits))
    cirq.testing.assert_decompose_is_consistent_with_unitary(gate)


# cirq.testing's check builds the decomposition's unitary with its work qubits (m + n - 2):
# m + n <= 5 keeps that at 8 qubits.
@given(st.integers(1, 3), st.lists(st.integers(0, 1), max_size=2).map(tuple))
def test_increment_adds_one_modulo_the_register(width: int, values: tuple[int, ...]) -> None:
    gate = Increment(width, values)
    m = len(values)
    wanted = int("".join(map(str, values)) or "0", 2)
    mapping = {
        (c << width) | v: (c << width) | ((v + 1) % (1 << width))
        for c in range(1 << m)
        for v in range(1 << width)
        if c == wanted
    }
    np.testing.assert_allclose(cirq.unitary(gate), _permutation_matrix(m + width, mapping))
    cirq.testing.assert_decompose_is_consistent_with_unitary(gate)
    _decomposes_to_primitives(gate)


@given(st.integers(1, 5).flatmap(lambda n: st.tuples(st.just(n), st.integers(-1, (1 << n) + 1))))
def test_less_than_constant_flags_exactly_the_smaller_values(case: tuple[int, int]) -> None:
    width, constant = case
    gate = LessThanConstant(width, constant)
    mapping = {
        (x << 1) | f: (x << 1) | (f ^ 1) for x in range(1 << width) if x < constant for f in (0, 1)
    }
    np.testing.assert_allclose(cirq.unitary(gate), _permutation_matrix(width + 1, mapping))
    cirq.testing.assert_decompose_is_consistent_with_unitary(gate)


@st.composite
def lookup_tables(draw: st.DrawFn) -> tuple[int, int, tuple[tuple[int, int], ...]]:
    address_width = draw(st.integers(1, 3))
    data_width = draw(st.integers(1, 3))
    addresses = draw(st.lists(st.integers(0, (1 << address_width) - 1), unique=True, max_size=6))
    data = [draw(st.integers(1, (1 << data_width) - 1)) for _ in addresses]
    return address_width, data_width, tuple(zip(addresses, data, strict=True))


@given(lookup_tables(), st.lists(st.integers(0, 1), max_size=2).map(tuple))
def test_xor_lookup_xors_the_table_value(
    table: tuple[int, int, tuple[tuple[int, int], ...]], values: tuple[int, ...]
) -> None:
    address_width, data_width, entries = table
    gate = XorLookup(address_width, data_width, Table.from_pairs(entries, integer=True), values)
    m = len(values)
    wanted = int("".join(map(str, values)) or "0", 2)
    lookup = dict(entries)
    mapping = {}
    for c, a, d in itertools.product(
        range(1 << m), range(1 << address_width), range(1 << data_width)
    ):
        if c == wanted and a in lookup:
            source = (((c << address_width) | a) << data_width) | d
            mapping[source] = (((c << address_width) | a) << data_width) | (d ^ lookup[a])
    np.testing.assert_allclose(
        cirq.unitary(gate), _permutation_matrix(m + address_width + data_width, mapping)
    )
    cirq.testing.assert_decompose_is_consistent_with_unitary(gate)


@given(
    st.integers(1, 3).flatmap(
        lambda w: st.tuples(
            st.just(w),
            st.dictionaries(st.integers(0, (1 << w) - 1), st.floats(-4, 4), max_size=5),
        )
    ),
    st.floats(-4, 4),
    st.lists(st.integers(0, 1), max_size=2).map(tuple),
)
def test_rotation_lookup_rotates_by_the_table_angle(
    table: tuple[int, dict[int, float]], default: float, values: tuple[int, ...]
) -> None:
    width, angles = table
    gate = RotationLookup(width, Table.from_pairs(angles.items(), integer=False), default, values)
    m = len(values)
    wanted = int("".join(map(str, values)) or "0", 2)
    blocks = []
    for c, a in itertools.product(range(1 << m), range(1 << width)):
        angle = angles.get(a, default) if c == wanted else 0.0
        blocks.append(cirq.unitary(cirq.ry(angle)))
    expected = np.zeros((2 << (m + width), 2 << (m + width)))
    for k, block in enumerate(blocks):
        expected[2 * k : 2 * k + 2, 2 * k : 2 * k + 2] = block.real
    np.testing.assert_allclose(cirq.unitary(gate), expected, atol=1e-12)
    cirq.testing.assert_decompose_is_consistent_with_unitary(gate)
    np.testing.assert_allclose(cirq.unitary(gate**-1), expected.T, atol=1e-12)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_uniform_superposition_prepares_equal_amplitudes_on_the_first_items(width: int) -> None:
    for n_items in range(1, (1 << width) + 1):
        gate = UniformSuperposition(n_items, width)
        expected = np.zeros(1 << width)
        expected[:n_items] = n_items**-0.5
        unitary = cirq.unitary(gate)
        np.testing.assert_allclose(unitary[:, 0], expected, atol=1e-12)
        np.testing.assert_allclose(cirq.unitary(gate**-1), unitary.conj().T, atol=1e-12)
        cirq.testing.assert_decompose_is_consistent_with_unitary(gate)


def test_controlled_uniform_superposition_is_identity_when_the_control_is_off() -> None:
    gate = UniformSuperposition(3, 2, (1,))
    unitary = cirq.unitary(gate)
    np.testing.assert_allclose(unitary[:4, :4], np.eye(4))
    np.testing.assert_allclose(unitary[4:, 4:], cirq.unitary(UniformSuperposition(3, 2)))
    cirq.testing.assert_decompose_is_consistent_with_unitary(gate)
