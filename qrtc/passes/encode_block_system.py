r"""BlockSystem -> BlockEncoding: the structured encoding of $\mathbf L$, or the generic one.

**Structured** (design.md §3). $\mathbf L = I - \mathbf M$ with
$\mathbf M = (X_{+1} \otimes I)\sum_t |t\rangle\langle t| \otimes \hat C_{\mathrm{type}(t)}$,
$X_{+1}$ the mixed-radix time increment and $\hat C = C_{\mathcal A} \oplus C_{\mathcal L}
\oplus I_{D_N} \oplus 0$ (each padded with zeros to $2^{\lambda}$, $\lambda = \lceil\log_2
D_N\rceil$), selected by a 2-qubit type register that :class:`BlockTypeOracle` computes from the
time register and uncomputes after. Only $\hat C$, of dimension $4 \cdot 2^\lambda$ whatever
$T$ is, gets sparse-access oracles (:mod:`qrtc.circuits.sparse_access`, subnormalisation
$\beta$). The LCU on one qubit,
$R_y(-\vartheta)\,(|0\rangle\langle 0| \otimes I + |1\rangle\langle 1| \otimes W)\,Z\,
R_y(\vartheta)$ with $\tan^2(\vartheta/2) = \beta$, gives $\langle 0|U|0\rangle =
(I - \mathbf M)/(1 + \beta)$: $\alpha = 1 + \beta$. The time registers are padded so that every
register value outside the $n_b$ blocks gets type "no block": there $\tilde{\mathbf L} = I$.

**Generic** (the reference the structured one is tested against): sparse access to
$\mathbf L \oplus I$ (padded to $2^w$), every non-zero of $\mathbf L$ in the tables.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Literal

import cirq
import numpy as np
import scipy.sparse

from qrtc.circuits.sparse_access import (
    SparseAccessRegisters,
    SparseAccessTables,
    index_width,
    sparse_access_operations,
)
from qrtc.circuits.time_register import BlockTypeOracle, MixedRadixIncrement, phase_width
from qrtc.errors import CompileError
from qrtc.ir.block_encoding import BlockEncoding, IndexMap, Register
from qrtc.ir.block_system import BlockSystem
from qrtc.numerics.block_matrix import assemble_matrix
from qrtc.numerics.select_matrix import register_width, select_matrix

__all__ = ["MAX_GENERIC_NNZ", "encode_block_system", "encode_matrix"]

_QUERIES = {"O_r": 1, "O_c": 1, "O_A": 1}

# The generic tables hold one entry per non-zero of L; beyond this the circuit is not built.
MAX_GENERIC_NNZ = 2_000_000


def _sparse_registers(
    tables: SparseAccessTables, sys: tuple[cirq.Qid, ...]
) -> tuple[SparseAccessRegisters, list[Register]]:
    out = Register.named("out", tables.width)
    rows = Register.named("row_index", index_width(tables.row_sparsity))
    columns = Register.named("column_index", index_width(tables.column_sparsity))
    value = Register.named("value", 1)
    registers = SparseAccessRegisters(sys, out.qubits, rows.qubits, columns.qubits, value.qubits[0])
    return registers, [r for r in (out, rows, columns, value) if len(r)]


def encode_matrix(
    matrix: scipy.sparse.csr_array, *, padding: Literal["identity", "zero"] = "zero"
) -> BlockEncoding:
    """The generic sparse-access block encoding of any real square sparse matrix."""
    dim = matrix.shape[0]
    width = register_width(dim)
    padded = scipy.sparse.csr_array(matrix.astype(np.float64))
    if padding == "identity" and dim < 1 << width:
        pad = scipy.sparse.eye_array((1 << width) - dim, format="csr")
        padded = scipy.sparse.block_diag([padded, pad], format="csr")
    tables = SparseAccessTables.from_matrix(padded)
    assert tables.width == width
    system = Register.named("sys", width)
    registers, ancillas = _sparse_registers(tables, system.qubits)
    circuit = cirq.Circuit(sparse_access_operations(tables, registers))
    return BlockEncoding(
        method="generic",
        circuit=circuit,
        system=(system,),
        ancillas=tuple(ancillas),
        alpha=tables.alpha,
        dim=dim,
        index_map=IndexMap(block_size=1 << width, radix=1, radix_bits=0, offset_bits=width),
        padding=padding,
        queries=dict(_QUERIES),
        sparse_alpha=tables.alpha,
    )


def encode_block_system(
    system: BlockSystem, *, method: Literal["structured", "generic"] = "structured"
) -> BlockEncoding:
    """Block-encode $\\mathbf L$ (padded with the identity)."""
    if method == "generic":
        if system.nnz > MAX_GENERIC_NNZ:
            raise CompileError(
                f"the generic block encoding tabulates every non-zero of L, and L has "
                f"{system.nnz:,} (limit {MAX_GENERIC_NNZ:,})",
                span=system.origin,
                hint="use the structured encoding (the default); its tables do not grow with T",
            )
        encoding = encode_matrix(assemble_matrix(system), padding="identity")
        return replace(encoding, origin=system.origin)
    radix = system.carleman.pgd_steps + 1
    n_blocks = system.n_blocks
    outer = Register.named("time_outer", register_width((n_blocks - 1) // radix + 1))
    phase = Register.named("time_phase", phase_width(radix))
    lifted_bits = register_width(system.block_size)
    lifted = Register.named("lifted", lifted_bits)
    block_type = Register.named("block_type", 2)
    tables = SparseAccessTables.from_matrix(select_matrix(system))
    assert tables.width == lifted_bits + 2
    registers, sparse_ancillas = _sparse_registers(tables, (*block_type.qubits, *lifted.qubits))
    lcu = Register.named("lcu", 1)
    carry = Register.named("carry", 1 if radix > 1 else 0)
    beta = tables.alpha
    angle = 2 * math.atan(math.sqrt(beta))
    control = lcu.qubits[0]
    types = BlockTypeOracle(len(outer), radix, system.carleman.horizon, n_blocks)
    time = (*outer.qubits, *phase.qubits)
    ops: list[cirq.Operation] = [
        cirq.ry(angle)(control),
        cirq.Z(control),
        types.on(*time, *block_type.qubits),
        *sparse_access_operations(tables, registers, control=control),
        types.on(*time, *block_type.qubits),
        MixedRadixIncrement(len(outer), radix, (1,)).on(control, *time, *carry.qubits),
        cirq.ry(-angle)(control),
    ]
    ancillas = [lcu, block_type, *sparse_ancillas] + ([carry] if len(carry) else [])
    return BlockEncoding(
        method="structured",
        circuit=cirq.Circuit(ops),
        system=tuple(r for r in (outer, phase, lifted) if len(r)),
        ancillas=tuple(ancillas),
        alpha=1 + beta,
        dim=system.dim,
        index_map=IndexMap(
            block_size=system.block_size,
            radix=radix,
            radix_bits=len(phase),
            offset_bits=lifted_bits,
        ),
        padding="identity",
        queries=dict(_QUERIES),
        sparse_alpha=beta,
        origin=system.origin,
    )
