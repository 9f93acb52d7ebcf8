r"""Sparse state-vector simulation of circuits of permutation and real-rotation gates.

Every gate of :mod:`qrtc.circuits` (and cirq's X, Z, CNOT, Toffoli, SWAP, $R_y$) maps a basis
state to one basis state (a permutation) or to two with real amplitudes ($R_y$), so a state is a
``dict`` from basis index (a Python int: any number of qubits) to a real amplitude. A column
$U|j\rangle$ of a block encoding of ``logistic_taylor`` spans 67 qubits, far beyond dense
simulation, but has a few thousand non-zero amplitudes once the branches that cannot end with
the ancillas in $|0\rangle$ are dropped (``postselect``).

Each gate's action is written here from its classical description (its table, constant,
rotation tree, the uniform state it prepares, or
:meth:`~qrtc.circuits.time_register.BlockTypeOracle.block_type`), never through its
``_apply_unitary_`` or ``_decompose_``: a third definition, which the tests hold against
``cirq.Simulator``.

Conventions: ``qubit_order[0]`` is the most significant bit of a basis index (cirq's
big-endian order); $R_y(\theta) = \begin{pmatrix}\cos\theta/2 & -\sin\theta/2\\ \sin\theta/2 &
\cos\theta/2\end{pmatrix}$.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
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

__all__ = ["MAX_AMPLITUDES", "BasisSimulationError", "State", "simulate_basis"]

State = dict[int, float]
"""Basis index (``qubit_order[0]`` most significant) -> real amplitude; absent means 0."""

# Rotations leave exact zeros as ~1e-17 residues (cos(pi/2)); dropping them keeps the state
# sparse. Far below any tolerance the tests use (1e-9).
DROP_BELOW = 1e-15

# A dict entry costs ~100 bytes: 4M amplitudes is ~0.5 GiB, beyond which something is wrong.
MAX_AMPLITUDES = 1 << 22


class BasisSimulationError(ValueError):
    """A gate the basis simulator has no rule for, or an input outside a gate's valid range."""


def simulate_basis(
    circuit: cirq.Circuit,
    qubit_order: Sequence[cirq.Qid],
    initial: int,
    *,
    postselect: Collection[cirq.Qid] = (),
) -> State:
    """$U|\\text{initial}\\rangle$ as its non-zero amplitudes.

    Args:
        circuit: gates of :mod:`qrtc.circuits` and cirq's X, Z, CNOT, TOFFOLI, SWAP, $R_y$.
        qubit_order: every qubit of ``circuit`` (and possibly more); ``qubit_order[0]`` is the
            most significant bit.
        initial: the input basis state, ``0 <= initial < 2**len(qubit_order)``.
        postselect: qubits projected onto $|0\\rangle$ at the end. A branch is dropped as soon
            as the last gate on such a qubit leaves it in $|1\\rangle$, which keeps a block
            encoding's column small (the garbage of the index registers never spreads). The
            result is exactly the projection of the full result.

    Returns:
        Basis index -> amplitude; amplitudes of magnitude below ``DROP_BELOW`` are left out.

    Raises:
        BasisSimulationError: a gate without a rule here (named in the message), a qubit
            missing from ``qubit_order``, an input outside a gate's valid range, or a state
            above ``MAX_AMPLITUDES`` amplitudes.
    """
    n = len(qubit_order)
    if not 0 <= initial < 1 << n:
        raise BasisSimulationError(f"initial state {initial} outside [0, 2**{n})")
    bit_of = {q: n - 1 - k for k, q in enumerate(qubit_order)}
    if len(bit_of) != n:
        raise BasisSimulationError("qubit_order lists a qubit twice")
    operations = list(circuit.all_operations())
    for op in operations:
        missing = [q for q in op.qubits if q not in bit_of]
        if missing:
            raise BasisSimulationError(f"{op!r} acts on {missing!r}, not in qubit_order")
        if op.gate is None:
            raise BasisSimulationError(f"no basis-state rule for the gateless operation {op!r}")
    # fixed_after[i]: the bits of the postselected qubits that no operation after i touches.
    last_use = {q: -1 for q in postselect}
    for i, op in enumerate(operations):
        for q in op.qubits:
            if q in last_use:
                last_use[q] = i
    fixed_after: dict[int, int] = {}
    for q, i in last_use.items():
        if q not in bit_of:
            raise BasisSimulationError(f"postselected qubit {q!r} is not in qubit_order")
        fixed_after[i] = fixed_after.get(i, 0) | 1 << bit_of[q]
    state: State = _project({initial: 1.0}, fixed_after.get(-1, 0))
    for i, op in enumerate(operations):
        shifts = tuple(bit_of[q] for q in op.qubits)
        fixed = fixed_after.get(i, 0)
        gate = op.gate
        assert gate is not None  # checked above
        if isinstance(gate, UniformSuperposition) and gate.adjoint and fixed:
            register = shifts[len(gate.control_values) :]
            if all(fixed >> s & 1 for s in register):
                state = _project(_uniform_adjoint_onto_zero(gate, shifts, state), fixed)
                continue
        state = _project(_apply(gate, shifts, state), fixed)
    return state


def _project(state: State, mask: int) -> State:
    return {key: a for key, a in state.items() if not key & mask} if mask else state


# -- bit fields ---------------------------------------------------------------------------------

Shifts = tuple[int, ...]  # a register's bit positions in the basis index, most significant first


class _Field:
    """A register inside a basis index, read and written one run of adjacent bits at a time."""

    __slots__ = ("runs", "width")

    def __init__(self, shifts: Shifts) -> None:
        runs: list[tuple[int, int]] = []  # (lowest bit, length), most significant run first
        for s in shifts:
            if runs and runs[-1][0] == s + 1:
                runs[-1] = (s, runs[-1][1] + 1)
            else:
                runs.append((s, 1))
        self.runs = tuple(runs)
        self.width = len(shifts)

    def read(self, key: int) -> int:
        value = 0
        for low, length in self.runs:
            value = (value << length) | ((key >> low) & ((1 << length) - 1))
        return value

    def spread(self, value: int) -> int:
        """The bits to XOR into a basis index to XOR ``value`` into this register."""
        mask, offset = 0, self.width
        for low, length in self.runs:
            offset -= length
            mask |= ((value >> offset) & ((1 << length) - 1)) << low
        return mask

    def write(self, key: int, value: int) -> int:
        return key ^ self.spread(self.read(key) ^ value)


def _fields(shifts: Shifts, *widths: int) -> list[_Field]:
    """``shifts`` cut into consecutive registers of ``widths``, the rest last."""
    out, start = [], 0
    for width in widths:
        out.append(_Field(shifts[start : start + width]))
        start += width
    out.append(_Field(shifts[start:]))
    return out


def _controls_match(controls: _Field, values: Sequence[int]) -> Callable[[int], bool]:
    mask = controls.spread((1 << len(values)) - 1)
    pattern = controls.spread(int("".join(map(str, values)) or "0", 2))
    return lambda key: key & mask == pattern


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
    if len(out) > MAX_AMPLITUDES:
        raise BasisSimulationError(
            f"the state reached {len(out):,} amplitudes (limit {MAX_AMPLITUDES:,}); "
            "postselect the ancillas to drop branches early"
        )
    return {key: a for key, a in out.items() if abs(a) >= DROP_BELOW}


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


# -- cirq's gates -------------------------------------------------------------------------------


def _apply(gate: cirq.Gate, shifts: Shifts, state: State) -> State:
    for kind, rule in _RULES:
        if isinstance(gate, kind):
            return rule(gate, shifts, state)
    raise BasisSimulationError(
        f"no basis-state rule for gate {type(gate).__name__} ({gate!r}); the basis simulator "
        "knows cirq's X, Z, Ry, CNOT, TOFFOLI, SWAP and the gates of qrtc.circuits"
    )


def _exponent_is_one(gate: Any) -> bool:
    """An EigenGate equal to its base gate: exponent ±1 (these are self-inverse), no phase."""
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


def _pauli_x(gate: cirq.XPowGate, shifts: Shifts, state: State) -> State:
    if not _exponent_is_one(gate):
        raise _unsupported(gate)
    bit = 1 << shifts[0]
    return _permute(state, lambda key: key ^ bit)


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


def _controlled_x(n_controls: int) -> Callable[[Any, Shifts, State], State]:
    def rule(gate: Any, shifts: Shifts, state: State) -> State:
        if not _exponent_is_one(gate):
            raise _unsupported(gate)
        return _multi_controlled_x(MultiControlledX((1,) * n_controls), shifts, state)

    return rule


def _swap(gate: cirq.SwapPowGate, shifts: Shifts, state: State) -> State:
    if not _exponent_is_one(gate):
        raise _unsupported(gate)
    a, b = shifts
    both = (1 << a) | (1 << b)
    return _permute(state, lambda key: key ^ both if (key >> a ^ key >> b) & 1 else key)


def _identity(gate: cirq.IdentityGate, shifts: Shifts, state: State) -> State:
    return state


# -- qrtc's gates -------------------------------------------------------------------------------


def _multi_controlled_x(gate: MultiControlledX, shifts: Shifts, state: State) -> State:
    controls, targets = _fields(shifts, len(gate.control_values))
    match, flip = _controls_match(controls, gate.control_values), targets.spread(-1)
    return _permute(state, lambda key: key ^ flip if match(key) else key)


def _multi_controlled_ry(gate: MultiControlledRy, shifts: Shifts, state: State) -> State:
    match = _controls_match(_Field(shifts[:-1]), gate.control_values)
    return _rotate(state, shifts[-1], _when(match, gate.angle))


def _swap_registers(gate: SwapRegisters, shifts: Shifts, state: State) -> State:
    control, a, b = _fields(shifts, int(gate.with_control), gate.size)
    match = _controls_match(control, (1,) * control.width)

    def mapping(key: int) -> int:
        if not match(key):
            return key
        first, second = a.read(key), b.read(key)
        return key ^ a.spread(first ^ second) ^ b.spread(first ^ second)

    return _permute(state, mapping)


def _xor_lookup_rule(
    state: State,
    controls: _Field,
    control_values: Sequence[int],
    address: _Field,
    data: _Field,
    table: Table,
) -> State:
    """$d \\mathrel{\\oplus}= f(a)$ where the controls match ($f = 0$ off the table)."""
    assert address.width < 63, "addresses are int64"
    match = _controls_match(controls, control_values)
    keys = [key for key in state if match(key)]
    values = _table_values(table, [address.read(key) for key in keys])
    out = dict(state)
    moved = [(key, data.spread(int(v))) for key, v in zip(keys, values, strict=True) if v]
    for key, _ in moved:
        del out[key]
    for key, flip in moved:
        out[key ^ flip] = state[key]
    assert len(out) == len(state), "the lookup merged two basis states"
    return out


def _xor_lookup(gate: XorLookup, shifts: Shifts, state: State) -> State:
    controls, address, data = _fields(shifts, len(gate.control_values), gate.address_width)
    return _xor_lookup_rule(state, controls, gate.control_values, address, data, gate.table)


def _rotation_lookup(gate: RotationLookup, shifts: Shifts, state: State) -> State:
    controls, address, target = _fields(shifts, len(gate.control_values), gate.address_width)
    assert address.width < 63, "addresses are int64"
    match = _controls_match(controls, gate.control_values)
    keys = [key for key in state if match(key)]
    looked_up = _table_values(gate.table, [address.read(key) for key in keys])
    angles = {
        key: gate.default_angle if angle is None else float(angle)
        for key, angle in zip(keys, looked_up, strict=True)
    }
    return _rotate(state, shifts[-1], angles.get)


def _uniform_superposition(gate: UniformSuperposition, shifts: Shifts, state: State) -> State:
    n_controls = len(gate.control_values)
    controls, register = shifts[:n_controls], shifts[n_controls:]
    tree = rotation_tree(gate.n_items, gate.width)
    if gate.adjoint:
        tree = [(p, -angle, conditions) for p, angle, conditions in reversed(tree)]
    for position, angle, conditions in tree:
        match = _controls_match(
            _Field((*controls, *(register[p] for p, _ in conditions))),
            (*gate.control_values, *(v for _, v in conditions)),
        )
        state = _rotate(state, register[position], _when(match, angle))
    return state


def _uniform_adjoint_onto_zero(gate: UniformSuperposition, shifts: Shifts, state: State) -> State:
    r"""$\mathrm{Uniform}_m^\dagger$, then only the $|0\rangle$ component of its register.

    $\langle 0|U^\dagger|x\rangle = \langle x|U|0\rangle = [x < m]/\sqrt m$ from what $U$
    prepares, with no rotation tree: the shortcut that keeps a column of a sparse-access
    encoding with $s_r$ in the thousands small.
    """
    controls, register = _fields(shifts, len(gate.control_values))
    match = _controls_match(controls, gate.control_values)
    weight = 1 / math.sqrt(gate.n_items)
    out: State = {}
    for key, amplitude in state.items():
        x = register.read(key)
        if match(key):
            if x < gate.n_items:
                zero = key ^ register.spread(x)
                out[zero] = out.get(zero, 0.0) + weight * amplitude
        elif x == 0:
            out[key] = out.get(key, 0.0) + amplitude
    return {key: a for key, a in out.items() if abs(a) >= DROP_BELOW}


def _increment(gate: Increment, shifts: Shifts, state: State) -> State:
    controls, register = _fields(shifts, len(gate.control_values))
    match, modulus = _controls_match(controls, gate.control_values), 1 << gate.width

    def mapping(key: int) -> int:
        return register.write(key, (register.read(key) + 1) % modulus) if match(key) else key

    return _permute(state, mapping)


def _less_than_constant(gate: LessThanConstant, shifts: Shifts, state: State) -> State:
    register, flag = _Field(shifts[:-1]), 1 << shifts[-1]
    return _permute(state, lambda key: key ^ flag if register.read(key) < gate.constant else key)


def _index_oracle(gate: IndexOracle, shifts: Shifts, state: State) -> State:
    m, w, values = gate.index_width, gate.width, gate.control_values
    n_controls = len(values)
    controls, index, out, sys = _fields(shifts, n_controls, m, w)
    index_bits = shifts[n_controls : n_controls + m]
    out_bits, sys_bits = shifts[n_controls + m : n_controls + m + w], shifts[n_controls + m + w :]
    # forward: out ^= f(index, sys); position: index ^= g(out, sys). The adjoint reverses them.
    forward = (controls, values, _Field((*index_bits, *sys_bits)), out, gate.forward)
    position = (controls, values, _Field((*out_bits, *sys_bits)), index, gate.position)
    lookups = [forward, position] if m else [forward]
    for lookup in reversed(lookups) if gate.adjoint else lookups:
        state = _xor_lookup_rule(state, *lookup)
    return state


def _mixed_radix_increment(gate: MixedRadixIncrement, shifts: Shifts, state: State) -> State:
    n_k, last = gate.phase_width, gate.radix - 1
    controls, outer, phase, flag = _fields(shifts, len(gate.control_values), gate.outer_width, n_k)
    match, modulus = _controls_match(controls, gate.control_values), 1 << gate.outer_width

    def mapping(key: int) -> int:
        if flag.read(key):
            raise BasisSimulationError(f"{gate!r}: the carry flag must start in |0>")
        if not match(key):
            return key
        k = phase.read(key)
        if k > last:
            raise BasisSimulationError(f"{gate!r}: phase {k} above K = {last}, no valid block")
        if k < last:
            return phase.write(key, k + 1)
        return outer.write(phase.write(key, 0), (outer.read(key) + 1) % modulus)

    return _permute(state, mapping)


def _block_type_oracle(gate: BlockTypeOracle, shifts: Shifts, state: State) -> State:
    outer, phase, kind = _fields(shifts, gate.outer_width, gate.phase_width)
    keys = list(state)
    if not keys:
        return state
    outers: NDArray[np.int64] = np.array([outer.read(key) for key in keys], dtype=np.int64)
    phases: NDArray[np.int64] = np.array([phase.read(key) for key in keys], dtype=np.int64)
    types = dict(zip(keys, gate.block_type(outers, phases).tolist(), strict=True))
    return _permute(state, lambda key: key ^ kind.spread(types[key]))


# isinstance order matters only for subclasses: cirq.X is an XPowGate, cirq.Ry a YPowGate.
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
    (cirq.CXPowGate, _controlled_x(1)),
    (cirq.CCXPowGate, _controlled_x(2)),
    (cirq.SwapPowGate, _swap),
    (cirq.IdentityGate, _identity),
)
