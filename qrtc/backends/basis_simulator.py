r"""Sparse state-vector simulation of circuits of permutation and real-rotation gates.

A column $U|j\rangle$ of a block encoding built from :mod:`qrtc.circuits` has only a few
hundred non-zero amplitudes even when the circuit spans ~70 qubits (``logistic_taylor`` gives
67), far beyond dense simulation. Every gate here maps a basis state either to one basis state
(a permutation: X, CNOT, Toffoli, SWAP, lookups, arithmetic) or to two with real amplitudes
($R_y$, $Z$), so the state is a ``dict`` from basis index to a real amplitude.

Each gate's action is written here from its classical description (its table, constant,
rotation tree or :meth:`~qrtc.circuits.time_register.BlockTypeOracle.block_type`), never through
its ``_apply_unitary_`` or ``_decompose_``: this is a third definition that the tests hold
against ``cirq.Simulator``.

Conventions: ``qubit_order[0]`` is the most significant bit of a basis index (cirq's
big-endian order); indices are Python ints, so any number of qubits works;
$R_y(\theta) = \begin{pmatrix}\cos\theta/2 & -\sin\theta/2\\ \sin\theta/2 & \cos\theta/2
\end{pmatrix}$.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import cirq
import numpy as np
from numpy.typing import NDArray

from qrtc.circuits.arithmetic import Increment, LessThanConstant
from qrtc.circuits.controlled import MultiControlledRy, MultiControlledX, SwapRegisters
from qrtc.circuits.lookup import RotationLookup, Table, XorLookup
from qrtc.circuits.sparse_access import IndexOracle
from qrtc.circuits.state_preparation import UniformSuperposition, rotation_tree
from qrtc.circuits.time_register import BlockTypeOracle, MixedRadixIncrement

__all__ = ["BasisSimulationError", "State", "simulate_basis"]

State = dict[int, float]
"""Basis index (``qubit_order[0]`` most significant) -> real amplitude; absent means 0."""

# Rotations leave exact zeros as ~1e-17 residues (cos(pi/2)); dropping them keeps the state
# sparse. Far below any tolerance a test uses (1e-9).
DROP_BELOW = 1e-15

Shifts = tuple[int, ...]  # bit positions of a register in the basis index, most significant first


class BasisSimulationError(ValueError):
    """A gate the basis simulator has no rule for, or an input outside a gate's valid range."""


def simulate_basis(circuit: cirq.Circuit, qubit_order: Sequence[cirq.Qid], initial: int) -> State:
    """$U|\\text{initial}\\rangle$ as its non-zero amplitudes.

    Args:
        circuit: gates of :mod:`qrtc.circuits` and cirq's X, Z, CNOT, TOFFOLI, SWAP, $R_y$.
        qubit_order: every qubit of ``circuit`` (and possibly more); ``qubit_order[0]`` is the
            most significant bit.
        initial: the input basis state, ``0 <= initial < 2**len(qubit_order)``.

    Returns:
        Basis index -> amplitude, amplitudes of magnitude below ``DROP_BELOW`` left out.

    Raises:
        BasisSimulationError: a gate without a rule here (named in the message), a qubit
            missing from ``qubit_order``, or an input outside a gate's valid range.
    """
    n = len(qubit_order)
    if not 0 <= initial < 1 << n:
        raise BasisSimulationError(f"initial state {initial} outside [0, 2**{n})")
    bit_of = {q: n - 1 - k for k, q in enumerate(qubit_order)}
    if len(bit_of) != n:
        raise BasisSimulationError("qubit_order lists a qubit twice")
    state: State = {initial: 1.0}
    for op in circuit.all_operations():
        missing = [q for q in op.qubits if q not in bit_of]
        if missing:
            raise BasisSimulationError(f"{op!r} acts on {missing!r}, not in qubit_order")
        if op.gate is None:
            raise BasisSimulationError(f"no basis-state rule for the gateless operation {op!r}")
        state = _apply(op.gate, tuple(bit_of[q] for q in op.qubits), state)
    return state


# -- bit fields ---------------------------------------------------------------------------------


def _read(key: int, shifts: Shifts) -> int:
    value = 0
    for s in shifts:
        value = (value << 1) | ((key >> s) & 1)
    return value


def _xor(key: int, shifts: Shifts, value: int) -> int:
    width = len(shifts)
    for k, s in enumerate(shifts):
        if (value >> (width - 1 - k)) & 1:
            key ^= 1 << s
    return key


def _write(key: int, shifts: Shifts, value: int) -> int:
    return _xor(key, shifts, _read(key, shifts) ^ value)


def _bits(values: Sequence[int]) -> int:
    out = 0
    for v in values:
        out = (out << 1) | v
    return out


def _split(shifts: Shifts, *widths: int) -> list[Shifts]:
    """``shifts`` cut into consecutive registers of ``widths`` (the rest last)."""
    out, start = [], 0
    for width in widths:
        out.append(shifts[start : start + width])
        start += width
    out.append(shifts[start:])
    return out


# -- the two kinds of action --------------------------------------------------------------------


def _permute(state: State, mapping: Callable[[int], int]) -> State:
    out = {mapping(key): amplitude for key, amplitude in state.items()}
    assert len(out) == len(state), "a permutation gate merged two basis states"
    return out


def _rotate(state: State, target: int, angle_of: Callable[[int], float | None]) -> State:
    """$R_y(\\theta(x))$ on bit ``target`` of each basis state $x$ (``None``: no rotation).

    ``angle_of`` must not depend on bit ``target`` itself.
    """
    bit = 1 << target
    out: State = {}
    for key, amplitude in state.items():
        angle = angle_of(key)
        if angle is None:
            out[key] = out.get(key, 0.0) + amplitude
            continue
        cos, sin = math.cos(angle / 2), math.sin(angle / 2)
        zero, one = key & ~bit, key | bit
        if key & bit:
            out[zero] = out.get(zero, 0.0) - sin * amplitude
            out[one] = out.get(one, 0.0) + cos * amplitude
        else:
            out[zero] = out.get(zero, 0.0) + cos * amplitude
            out[one] = out.get(one, 0.0) + sin * amplitude
    return {key: a for key, a in out.items() if abs(a) >= DROP_BELOW}


def _controls_match(shifts: Shifts, values: Sequence[int]) -> Callable[[int], bool]:
    wanted = _bits(values)
    return lambda key: _read(key, shifts) == wanted


def _when(match: Callable[[int], bool], angle: float) -> Callable[[int], float | None]:
    return lambda key: angle if match(key) else None


def _table_values(table: Table, addresses: list[int]) -> list[Any]:
    """``table``'s value at each address, ``None`` where it has none (binary search)."""
    if not addresses or not len(table):
        return [None] * len(addresses)
    query = np.asarray(addresses, dtype=np.int64)
    position = np.minimum(np.searchsorted(table.addresses, query), len(table) - 1)
    found = table.addresses[position] == query
    values = table.values[position].tolist()
    return [v if f else None for v, f in zip(values, found.tolist(), strict=True)]


# -- gates --------------------------------------------------------------------------------------


def _apply(gate: cirq.Gate, shifts: Shifts, state: State) -> State:
    for kind, rule in _RULES:
        if isinstance(gate, kind):
            return rule(gate, shifts, state)
    raise BasisSimulationError(
        f"no basis-state rule for gate {type(gate).__name__} ({gate!r}); the basis simulator "
        "knows cirq's X, Z, Ry, CNOT, TOFFOLI, SWAP and the gates of qrtc.circuits"
    )


def _exponent_is_one(gate: Any) -> bool:
    """A cirq EigenGate equal to its base gate: exponent ±1 (self-inverse), no global phase."""
    exponent = gate.exponent
    return (
        isinstance(exponent, int | float)
        and abs(abs(exponent) - 1) < 1e-12
        and gate.global_shift == 0
    )


def _unsupported(gate: cirq.Gate) -> BasisSimulationError:
    return BasisSimulationError(
        f"no basis-state rule for gate {type(gate).__name__} ({gate!r}): only exponent 1 "
        "(X, Z, CNOT, TOFFOLI, SWAP) or a real rotation (cirq.ry) is supported"
    )


def _flip_all(targets: Shifts) -> Callable[[int], int]:
    mask = sum(1 << s for s in targets)
    return lambda key: key ^ mask


def _pauli_x(gate: cirq.XPowGate, shifts: Shifts, state: State) -> State:
    if not _exponent_is_one(gate):
        raise _unsupported(gate)
    return _permute(state, _flip_all(shifts))


def _pauli_z(gate: cirq.ZPowGate, shifts: Shifts, state: State) -> State:
    if not _exponent_is_one(gate):
        raise _unsupported(gate)
    bit = 1 << shifts[0]
    return {key: -a if key & bit else a for key, a in state.items()}


def _ry(gate: cirq.YPowGate, shifts: Shifts, state: State) -> State:
    # cirq.ry(theta) is YPowGate(exponent=theta/pi, global_shift=-1/2) = exp(-i theta Y / 2).
    if gate.global_shift != -0.5 or not isinstance(gate.exponent, int | float):
        raise _unsupported(gate)
    angle = float(gate.exponent) * math.pi
    return _rotate(state, shifts[0], lambda key: angle)


def _controlled_flip(n_controls: int) -> Callable[[Any, Shifts, State], State]:
    def rule(gate: Any, shifts: Shifts, state: State) -> State:
        if not _exponent_is_one(gate):
            raise _unsupported(gate)
        return _multi_controlled_x_rule((1,) * n_controls, shifts, state)

    return rule


def _swap(gate: cirq.SwapPowGate, shifts: Shifts, state: State) -> State:
    if not _exponent_is_one(gate):
        raise _unsupported(gate)
    a, b = shifts
    return _permute(
        state, lambda key: key ^ (((key >> a) ^ (key >> b)) & 1) * ((1 << a) | (1 << b))
    )


def _identity(gate: cirq.IdentityGate, shifts: Shifts, state: State) -> State:
    return state


def _multi_controlled_x_rule(values: Sequence[int], shifts: Shifts, state: State) -> State:
    controls, targets = _split(shifts, len(values))
    match, flip = _controls_match(controls, values), _flip_all(targets)
    return _permute(state, lambda key: flip(key) if match(key) else key)


def _multi_controlled_x(gate: MultiControlledX, shifts: Shifts, state: State) -> State:
    return _multi_controlled_x_rule(gate.control_values, shifts, state)


def _multi_controlled_ry(gate: MultiControlledRy, shifts: Shifts, state: State) -> State:
    controls, target = _split(shifts, len(gate.control_values))
    match = _controls_match(controls, gate.control_values)
    return _rotate(state, target[0], _when(match, gate.angle))


def _swap_registers(gate: SwapRegisters, shifts: Shifts, state: State) -> State:
    control, a, b = _split(shifts, int(gate.with_control), gate.size)

    def mapping(key: int) -> int:
        if control and not (key >> control[0]) & 1:
            return key
        first, second = _read(key, a), _read(key, b)
        return _write(_write(key, a, second), b, first)

    return _permute(state, mapping)


def _xor_lookup_rule(
    state: State,
    controls: Shifts,
    control_values: Sequence[int],
    address: Shifts,
    data: Shifts,
    table: Table,
) -> State:
    """$d \\mathrel{\\oplus}= f(a)$ where the controls match ($f = 0$ off the table)."""
    match = _controls_match(controls, control_values)
    keys = [key for key in state if match(key)]
    values = _table_values(table, [_read(key, address) for key in keys])
    out = dict(state)
    for key, value in zip(keys, values, strict=True):
        if value:
            del out[key]
    for key, value in zip(keys, values, strict=True):
        if value:
            out[_xor(key, data, int(value))] = state[key]
    assert len(out) == len(state), "the lookup merged two basis states"
    return out


def _xor_lookup(gate: XorLookup, shifts: Shifts, state: State) -> State:
    controls, address, data = _split(shifts, len(gate.control_values), gate.address_width)
    assert len(data) == gate.data_width and gate.address_width < 63
    return _xor_lookup_rule(state, controls, gate.control_values, address, data, gate.table)


def _rotation_lookup(gate: RotationLookup, shifts: Shifts, state: State) -> State:
    controls, address, target = _split(shifts, len(gate.control_values), gate.address_width)
    assert gate.address_width < 63
    match = _controls_match(controls, gate.control_values)
    keys = [key for key in state if match(key)]
    looked_up = _table_values(gate.table, [_read(key, address) for key in keys])
    angles = {
        key: gate.default_angle if angle is None else float(angle)
        for key, angle in zip(keys, looked_up, strict=True)
    }
    return _rotate(state, target[0], angles.get)


def _uniform_superposition(gate: UniformSuperposition, shifts: Shifts, state: State) -> State:
    controls, register = _split(shifts, len(gate.control_values))
    tree = rotation_tree(gate.n_items, gate.width)
    if gate.adjoint:
        tree = [(p, -angle, conditions) for p, angle, conditions in reversed(tree)]
    for position, angle, conditions in tree:
        match = _controls_match(
            (*controls, *(register[p] for p, _ in conditions)),
            (*gate.control_values, *(v for _, v in conditions)),
        )
        state = _rotate(state, register[position], _when(match, angle))
    return state


def _increment(gate: Increment, shifts: Shifts, state: State) -> State:
    controls, register = _split(shifts, len(gate.control_values))
    match, modulus = _controls_match(controls, gate.control_values), 1 << gate.width

    def mapping(key: int) -> int:
        if not match(key):
            return key
        return _write(key, register, (_read(key, register) + 1) % modulus)

    return _permute(state, mapping)


def _less_than_constant(gate: LessThanConstant, shifts: Shifts, state: State) -> State:
    register, flag = _split(shifts, gate.width)
    bit = 1 << flag[0]
    return _permute(state, lambda key: key ^ bit if _read(key, register) < gate.constant else key)


def _index_oracle(gate: IndexOracle, shifts: Shifts, state: State) -> State:
    m, w, values = gate.index_width, gate.width, gate.control_values
    controls, index, out, sys = _split(shifts, len(values), m, w)
    # forward: out ^= f(index, sys); position: index ^= g(out, sys). The adjoint reverses them.
    forward = (controls, values, (*index, *sys), out, gate.forward)
    position = (controls, values, (*out, *sys), index, gate.position)
    lookups = [forward, position] if m else [forward]
    for lookup in reversed(lookups) if gate.adjoint else lookups:
        state = _xor_lookup_rule(state, *lookup)
    return state


def _mixed_radix_increment(gate: MixedRadixIncrement, shifts: Shifts, state: State) -> State:
    n_k, last = gate.phase_width, gate.radix - 1
    controls, outer, phase, flag = _split(shifts, len(gate.control_values), gate.outer_width, n_k)
    match, modulus = _controls_match(controls, gate.control_values), 1 << gate.outer_width

    def mapping(key: int) -> int:
        if flag and (key >> flag[0]) & 1:
            raise BasisSimulationError(f"{gate!r}: the carry flag must start in 0")
        if not match(key):
            return key
        k = _read(key, phase)
        if k > last:
            raise BasisSimulationError(f"{gate!r}: phase {k} above K = {last} (no valid block)")
        if k < last:
            return _write(key, phase, k + 1)
        return _write(_write(key, phase, 0), outer, (_read(key, outer) + 1) % modulus)

    return _permute(state, mapping)


def _block_type_oracle(gate: BlockTypeOracle, shifts: Shifts, state: State) -> State:
    outer, phase, kind = _split(shifts, gate.outer_width, gate.phase_width)
    keys = list(state)
    outers: NDArray[np.int64] = np.array([_read(key, outer) for key in keys], dtype=np.int64)
    phases: NDArray[np.int64] = np.array([_read(key, phase) for key in keys], dtype=np.int64)
    types = gate.block_type(outers, phases).tolist() if keys else []
    return {_xor(key, kind, int(t)): state[key] for key, t in zip(keys, types, strict=True)}


# Order matters only for subclasses: cirq.Ry is a YPowGate, so YPowGate's rule covers both.
_RULES: tuple[tuple[type, Callable[[Any, Shifts, State], State]], ...] = (
    (MultiControlledX, _multi_controlled_x),
    (MultiControlledRy, _multi_controlled_ry),
    (SwapRegisters, _swap_registers),
    (XorLookup, _xor_lookup),
    (RotationLookup, _rotation_lookup),
    (UniformSuperposition, _uniform_superposition),
    (Increment, _increment),
    (LessThanConstant, _less_than_constant),
    (IndexOracle, _index_oracle),
    (MixedRadixIncrement, _mixed_radix_increment),
    (BlockTypeOracle, _block_type_oracle),
    (cirq.XPowGate, _pauli_x),
    (cirq.ZPowGate, _pauli_z),
    (cirq.YPowGate, _ry),
    (cirq.CXPowGate, _controlled_flip(1)),
    (cirq.CCXPowGate, _controlled_flip(2)),
    (cirq.SwapPowGate, _swap),
    (cirq.IdentityGate, _identity),
)
