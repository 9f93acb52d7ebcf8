r"""Resources of the block encodings predicted by formula, without building a circuit.

Each function is the closed-form cost of one gate of :mod:`qrtc.circuits` (the tables in those
modules' docstrings), written independently of the gates' decompositions, which
:func:`qrtc.resources.counted.count_resources` counts; the tests hold the two equal on every
shipped example. Table-driven gates are summed over their tables with numpy (popcounts of the
addresses and values), so the formula costs $O(\mathrm{nnz})$ array work at any size.

A cost is a triple (gate counts, peak work qubits held at once, depth bound). The depth is an
upper bound, not the count: gates compose in sequence (depths add), and inside a gate only layers
that are disjoint by construction are merged (the control flips around a ladder, the three CNOT
layers of an uncontrolled register swap). The counted depth schedules the primitive stream as
early as possible, and overlaps neighbouring table entries in ways that depend on their bit
patterns; the tests hold counted <= bound.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import scipy.sparse
from numpy.typing import NDArray

from qrtc.circuits.lookup import Table
from qrtc.circuits.sparse_access import SparseAccessTables, index_width
from qrtc.ir.block_system import BlockSystem
from qrtc.ir.carleman import CarlemanMaps
from qrtc.numerics.block_matrix import assemble_matrix
from qrtc.numerics.select_matrix import carleman_select_matrix
from qrtc.resources.counted import GateCounts, Resources, is_clifford_angle

__all__ = [
    "SYSTEM_REGISTERS",
    "predict_qsvt_resources",
    "predict_resources",
    "predict_structured_resources",
    "qsvt_resources",
]

Cost = tuple[GateCounts, int, int]
NONE: Cost = (GateCounts(), 0, 0)


def _plus(*costs: Cost) -> Cost:
    """Costs of gates applied one after another: counts and depths add, peaks take the max."""
    total = GateCounts()
    peak = depth = 0
    for counts, work, layers in costs:
        total, peak, depth = total + counts, max(peak, work), depth + layers
    return total, peak, depth


def _serial(counts: GateCounts) -> Cost:
    """Gates with no work qubits, bounded as if none ran in parallel."""
    return counts, 0, counts.total


def _rotation(angle: float) -> GateCounts:
    return GateCounts(clifford_rotations=1) if is_clifford_angle(angle) else GateCounts(rotations=1)


def mcx(controls: int, zeros: int, targets: int = 1) -> Cost:
    """Multi-controlled X with fan-out onto ``targets``."""
    if controls == 0:
        return GateCounts(x=targets), 0, 1
    negate = GateCounts(x=2 * zeros)
    flips = 2 * (zeros > 0)
    if controls == 1:
        # The fan-out CNOTs share their control, so they run one after another.
        return negate + GateCounts(cnot=targets), 0, flips + targets
    if targets == 1:
        ladder = 2 * controls - 3
        return negate + GateCounts(toffoli=ladder), max(0, controls - 2), flips + ladder
    ladder = 2 * (controls - 1)
    counts = negate + GateCounts(toffoli=ladder, cnot=targets)
    return counts, controls - 1, flips + ladder + targets


def mcry(controls: int, zeros: int, angle: float) -> Cost:
    """Multi-controlled $R_y(\\theta)$."""
    if controls == 0:
        return _rotation(angle), 0, 1
    halves = _rotation(angle / 2) + _rotation(-angle / 2)
    counts = halves + GateCounts(x=2 * zeros, cnot=2)
    flips = 2 * (zeros > 0)
    if controls == 1:
        return counts, 0, flips + 4
    ladder = 2 * (controls - 1)
    return counts + GateCounts(toffoli=ladder), controls - 1, flips + 4 + ladder


def _popcount(values: NDArray[np.int64]) -> NDArray[np.int64]:
    return np.bitwise_count(values).astype(np.int64)


def xor_lookup(table: Table, address_width: int, controls: int) -> Cost:
    """One MCX fan-out per entry, on ``controls`` (all 1) plus the address bits."""
    if not len(table):
        return NONE
    c = controls + address_width
    zeros = address_width - _popcount(table.addresses)
    targets = _popcount(table.values.astype(np.int64))
    total, peak, depth = GateCounts(), 0, 0
    pairs, multiplicity = np.unique(np.stack([zeros, targets]), axis=1, return_counts=True)
    for (z, t), count in zip(pairs.T.tolist(), multiplicity.tolist(), strict=True):
        counts, work, layers = mcx(c, z, t)
        total, peak, depth = total + counts * count, max(peak, work), depth + layers * count
    return total, peak, depth


def rotation_lookup(table: Table, address_width: int, controls: int, default: float) -> Cost:
    """The default rotation, then one MC-$R_y$ by (angle - default) per entry."""
    first = mcry(controls, 0, default)
    moved = table.values != default
    if not np.any(moved):
        return first
    c = controls + address_width
    zeros = address_width - _popcount(table.addresses[moved])
    halves = (table.values[moved] - default) / 2 / (math.pi / 2)
    clifford = np.abs(halves - np.round(halves)) < 1e-12
    pairs, multiplicity = np.unique(np.stack([zeros, clifford]), axis=1, return_counts=True)
    total, peak, depth = first
    for (z, is_clifford), count in zip(pairs.T.tolist(), multiplicity.tolist(), strict=True):
        # A representative angle of the class: 0 is Clifford, 1 is not.
        counts, work, layers = mcry(c, z, 0.0 if is_clifford else 1.0)
        total, peak, depth = total + counts * count, max(peak, work), depth + layers * count
    return total, peak, depth


def uniform_superposition(n_items: int, width: int, controls: int, *, adjoint: bool) -> Cost:
    """The rotation tree over ``n_items`` of ``2**width`` (all controls 1)."""
    costs: list[Cost] = []

    def tree(items: int, bits: int, extra: int, extra_zeros: int) -> None:
        if items == 1:
            return
        half = 1 << (bits - 1)
        sign = -1.0 if adjoint else 1.0
        if items == 2 * half:
            costs.extend([mcry(controls + extra, extra_zeros, sign * math.pi / 2)] * bits)
        elif items <= half:
            tree(items, bits - 1, extra, extra_zeros)
        else:
            angle = 2 * math.asin(math.sqrt((items - half) / items))
            costs.append(mcry(controls + extra, extra_zeros, sign * angle))
            tree(half, bits - 1, extra + 1, extra_zeros + 1)
            tree(items - half, bits - 1, extra + 1, extra_zeros)

    if width:
        tree(n_items, width, 0, 0)
    return _plus(*costs)


def increment(width: int, controls: int, zeros: int = 0) -> Cost:
    """$x \\mapsto x + 1 \\bmod 2^n$ with ``controls`` controls."""
    if width == 0:
        return NONE
    ladder = max(0, controls + width - 2)
    counts = GateCounts(
        toffoli=2 * ladder,
        cnot=width - (controls == 0),
        x=int(controls == 0) + 2 * zeros,
    )
    return counts, ladder, counts.toffoli + counts.cnot + int(controls == 0) + 2 * (zeros > 0)


def less_than(width: int, constant: int) -> Cost:
    """$f \\mathrel{\\oplus}= [x < c]$ on ``width`` bits."""
    if constant <= 0:
        return NONE
    if constant >= 1 << width:
        return GateCounts(x=1), 0, 1
    bits = [(constant >> (width - 1 - p)) & 1 for p in range(width)]
    events = [p for p in range(width) if bits[p]]
    last = events[-1]
    ladder = max(0, last - 1)
    counts = GateCounts(
        x=2 * sum(1 for q in range(last) if bits[q] == 0) + 2 * len(events),
        toffoli=2 * ladder + sum(1 for p in events if p > 0),
        cnot=sum(1 for p in events if p == 0),
    )
    return counts, ladder, counts.total


def mixed_radix_increment(outer_width: int, radix: int, controls: int) -> Cost:
    """The controlled $(o, k)$ increment with period ``radix``."""
    if radix == 1:
        return increment(outer_width, controls)
    phase = (radix - 1).bit_length()
    last = radix - 1
    zeros_last = phase - bin(last).count("1")
    return _plus(
        mcx(controls + phase, zeros_last),
        increment(outer_width, 1),
        mcx(1, 0, bin(last).count("1")) if last else NONE,
        increment(phase, controls + 1, zeros=1),
        mcx(controls + phase, phase),
    )


def block_type_oracle(outer_width: int, radix: int, horizon: int, n_blocks: int) -> Cost:
    """The 2-bit block type from the time register, through flags held during the write."""
    phase = (radix - 1).bit_length()
    needs_v = radix < 1 << phase
    last_row = n_blocks - 1
    concatenated = ((last_row // radix) << phase) | (last_row % radix)
    compute = [less_than(outer_width, horizon), less_than(outer_width + phase, concatenated)]
    if phase:
        last = radix - 1
        compute.append(mcx(phase, phase - bin(last).count("1")))
    if needs_v:
        compute.append(less_than(phase, radix))
    write = [_serial(GateCounts(x=1))]
    if needs_v:
        write += [_serial(GateCounts(toffoli=1, cnot=1, x=1)), mcx(3, 2)]
    else:
        write += [_serial(GateCounts(cnot=1)), mcx(2, 2)]
    write.append(_serial(GateCounts(toffoli=1) if phase else GateCounts(cnot=1)))
    flags = 2 + int(phase > 0) + int(needs_v)
    counts, peak, depth = _plus(*compute, *write, *compute)
    return counts, flags + peak, depth


def sparse_access(tables: SparseAccessTables, controls: int) -> Cost:
    """$V_r^\\dagger\\,\\mathrm{SWAP}\\,O_A\\,V_c$ (paper.md §6.2)."""
    w = tables.width
    m_r, m_c = index_width(tables.row_sparsity), index_width(tables.column_sparsity)
    # A controlled swap's Fredkins share the control; an uncontrolled one is three CNOT layers.
    swap = GateCounts(cnot=2 * w, toffoli=w) if controls else GateCounts(cnot=3 * w)
    swap_depth = 3 * w if controls else 3
    costs = [
        uniform_superposition(tables.column_sparsity, m_c, controls, adjoint=False),
        xor_lookup(tables.column_forward, m_c + w, controls),
        xor_lookup(tables.column_position, 2 * w, controls) if m_c else NONE,
        rotation_lookup(tables.values, 2 * w, controls, math.pi),
        (swap, 0, swap_depth),
        xor_lookup(tables.row_position, 2 * w, controls) if m_r else NONE,
        xor_lookup(tables.row_forward, m_r + w, controls),
        uniform_superposition(tables.row_sparsity, m_r, controls, adjoint=True),
    ]
    return _plus(*costs)


def _width(size: int) -> int:
    return max(1, (size - 1).bit_length())


def predict_resources(
    system: BlockSystem, *, method: Literal["structured", "generic"] = "structured"
) -> Resources:
    """The resources of ``encode_block_system(system, method=method)``, by formula."""
    queries = {"O_r": 1, "O_c": 1, "O_A": 1}
    if method == "generic":
        width = _width(system.dim)
        matrix = assemble_matrix(system)
        if system.dim < 1 << width:
            pad = scipy.sparse.eye_array((1 << width) - system.dim, format="csr")
            matrix = scipy.sparse.csr_array(scipy.sparse.block_diag([matrix, pad], format="csr"))
        tables = SparseAccessTables.from_matrix(matrix)
        counts, work, depth = sparse_access(tables, 0)
        qubits = {
            "sys": width,
            "out": width,
            "row_index": index_width(tables.row_sparsity),
            "column_index": index_width(tables.column_sparsity),
            "value": 1,
        }
        qubits = {k: v for k, v in qubits.items() if v} | {"work": work}
        return Resources(qubits, queries, counts, depth, source="formula", depth_is_bound=True)
    return predict_structured_resources(system.carleman, system.n_blocks)


def predict_structured_resources(
    carleman: CarlemanMaps, n_blocks: int, tables: SparseAccessTables | None = None
) -> Resources:
    r"""The structured encoding of the block system of ``carleman`` with ``n_blocks`` blocks.

    Only the time registers and the block-type oracle depend on the horizon; the tables of
    $\hat C$ (``tables``, built here unless given) are $T$-independent, so this costs
    $O(\mathrm{nnz}(\hat C))$ at any horizon.
    """
    radix = carleman.pgd_steps + 1
    outer = _width((n_blocks - 1) // radix + 1)
    phase = (radix - 1).bit_length()
    lifted = _width(carleman.lifted_size)
    if tables is None:
        tables = SparseAccessTables.from_matrix(carleman_select_matrix(carleman))
    beta = tables.alpha
    lcu_angle = 2 * math.atan(math.sqrt(beta))
    types = block_type_oracle(outer, radix, carleman.horizon, n_blocks)
    counts, work, depth = _plus(
        _serial(_rotation(lcu_angle) + GateCounts(z=1) + _rotation(-lcu_angle)),
        types,
        sparse_access(tables, 1),
        types,
        mixed_radix_increment(outer, radix, 1),
    )
    qubits = {
        "time_outer": outer,
        "time_phase": phase,
        "lifted": lifted,
        "lcu": 1,
        "block_type": 2,
        "out": lifted + 2,
        "row_index": index_width(tables.row_sparsity),
        "column_index": index_width(tables.column_sparsity),
        "value": 1,
        "carry": int(radix > 1),
    }
    qubits = {k: v for k, v in qubits.items() if v} | {"work": work}
    queries = {"O_r": 1, "O_c": 1, "O_A": 1}
    return Resources(qubits, queries, counts, depth, source="formula", depth_is_bound=True)


# The registers that hold the matrix index; every other register of U is an ancilla.
SYSTEM_REGISTERS = frozenset({"sys", "time_outer", "time_phase", "lifted"})


def projector_phase(n_controls: int, angle: float, offset: float) -> Cost:
    r"""$e^{i(\psi_0 \pm \phi)(2\Pi - 1)}$: a zero-controlled flag, the branch-signed rotation,
    the offset rotation, the flag again."""
    flag = mcx(n_controls, n_controls)
    turn = GateCounts(cnot=2) + _rotation(2 * angle) + _rotation(2 * offset)
    return _plus(flag, _serial(turn), flag)


def predict_qsvt_resources(
    system: BlockSystem,
    phases: NDArray[np.float64],
    *,
    method: Literal["structured", "generic"] = "structured",
) -> Resources:
    r"""The QSVT inversion circuit (:mod:`qrtc.circuits.qsvt`) for these phases, by formula.

    $d = $ ``len(phases) - 1`` uses of $U$ or $U^\dagger$ (the same counts), $d + 1$ projector
    phases on all of $U$'s ancillas (offsets $\pi/4$ at the ends, $\pi/2$ inside; a phase's
    rotation is Clifford when $2\phi_k$ is a multiple of $\pi/2$), and the two Hadamards of
    the branch qubit.
    """
    one_query = predict_resources(system, method=method)
    return qsvt_resources(one_query, len(phases) - 1, phases)


def qsvt_resources(
    one_query: Resources, degree: int, phases: NDArray[np.float64] | None = None
) -> Resources:
    r"""The QSVT circuit of degree ``degree`` around a block encoding costing ``one_query``.

    Without ``phases`` every projector rotation is counted as non-Clifford (generic phases),
    which is what a large degree gives; with them, exactly as built.
    """
    ancillas = sum(
        size
        for name, size in one_query.qubits.items()
        if name not in SYSTEM_REGISTERS and name != "work"
    )
    uses: Cost = (
        one_query.gates * degree,
        one_query.qubits["work"],
        (one_query.depth or 0) * degree,
    )
    if phases is not None:
        assert len(phases) == degree + 1
        offsets = np.full(degree + 1, math.pi / 2)
        offsets[0] = offsets[-1] = math.pi / 4
        phase_costs = [
            projector_phase(ancillas, float(p), -float(c))
            for p, c in zip(phases, offsets, strict=True)
        ]
    else:
        # Generic phase, Clifford offsets at the ends and inside: two kinds, times their count.
        generic = 1.0
        ends = projector_phase(ancillas, generic, -math.pi / 4)
        inside = projector_phase(ancillas, generic, -math.pi / 2)
        phase_costs = [ends, ends] + ([_times(inside, degree - 1)] if degree > 1 else [])
    counts, work, depth = _plus(_serial(GateCounts(h=2)), uses, *phase_costs)
    qubits = {k: v for k, v in one_query.qubits.items() if k != "work"}
    qubits |= {"signal": 1, "branch": 1, "work": work}
    queries = {"U": degree} | {name: calls * degree for name, calls in one_query.queries.items()}
    return Resources(qubits, queries, counts, depth, source="formula", depth_is_bound=True)


def _times(cost: Cost, count: int) -> Cost:
    """``count`` copies of a gate in sequence."""
    counts, work, depth = cost
    return counts * count, work, depth * count
