"""Write a compiled stage to disk: MatrixMarket matrices plus JSON metadata (``--emit``).

Layout of ``out_dir`` per stage:

* ``maps``: ``{attack,learner}_b0.mtx`` (dense column), ``{attack,learner}_A{k}.mtx``
  ($d_z \\times d_z^k$, columns flattened row-major as ``numpy.kron``), ``maps.json``;
* ``carleman``: ``{attack,learner}_C.mtx`` ($D_N \\times D_N$), ``carleman.json``,
  ``carleman.txt``;
* ``block-system``: ``L.mtx`` and ``b.mtx`` (when the system is small enough to hold),
  ``block_system.json``, ``block_system.txt``.

Matrices are written with :func:`scipy.io.mmwrite`, so :func:`scipy.io.mmread` reads them back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import cirq
import numpy as np
import scipy.io
import scipy.sparse

from qrtc.backends.qasm import QasmVersion, supported_versions, write_qasm
from qrtc.errors import BackendError
from qrtc.ir.block_encoding import BlockEncoding
from qrtc.ir.block_system import BlockSystem
from qrtc.ir.carleman import CarlemanMaps
from qrtc.ir.polynomial_maps import PolynomialMaps
from qrtc.numerics.block_matrix import assemble_matrix, assemble_rhs
from qrtc.resources.counted import Resources, decompose_to_primitives

__all__ = [
    "EMIT_STAGES",
    "EmitStage",
    "MAX_QASM_GATES",
    "write_block_encoding",
    "write_block_system",
    "write_carleman",
    "write_maps",
    "write_qasm_files",
    "write_resources",
]

EmitStage = Literal["maps", "carleman", "block-system", "circuit", "resources", "qasm"]
EMIT_STAGES: tuple[EmitStage, ...] = (
    "maps",
    "carleman",
    "block-system",
    "circuit",
    "resources",
    "qasm",
)

# One line of QASM per primitive gate: beyond this the file is not written.
MAX_QASM_GATES = 5_000_000

# Beyond this many rows b is not written densely, and L only when the pass materialised it.
_MAX_DENSE_ROWS = 10**7


def _directory(out_dir: Path) -> Path:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BackendError(f"cannot create output directory '{out_dir}': {error}") from None
    return out_dir


def _write_json(path: Path, payload: dict[str, object]) -> Path:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _write_matrix(path: Path, matrix: object, comment: str) -> Path:
    scipy.io.mmwrite(str(path), matrix, comment=comment)  # type: ignore[arg-type]
    return path


def write_maps(maps: PolynomialMaps, out_dir: Path) -> list[Path]:
    """The coefficient tensors $b_0, A_1..A_q$ of both sub-maps, and their metadata."""
    out_dir = _directory(out_dir)
    written: list[Path] = []
    terms: dict[str, list[dict[str, int]]] = {}
    for polynomial in (maps.attack, maps.learner):
        name = polynomial.kind
        written.append(
            _write_matrix(
                out_dir / f"{name}_b0.mtx",
                polynomial.constant.reshape(-1, 1),
                f"{name} map: constant term b0, shape (d_z, 1)",
            )
        )
        terms[name] = []
        for term in polynomial.terms:
            if term.size**term.degree >= 2**63:
                raise BackendError(
                    f"the degree-{term.degree} coefficients of the {name} map have "
                    f"{term.size}^{term.degree} columns, more than MatrixMarket indices can hold"
                )
            written.append(
                _write_matrix(
                    out_dir / f"{name}_A{term.degree}.mtx",
                    scipy.sparse.coo_array(
                        (term.values, (term.rows, term.flat_columns())),
                        shape=(term.size, term.size**term.degree),
                    ),
                    f"{name} map: A{term.degree}, shape (d_z, d_z^{term.degree}), columns "
                    "row-major multi-indices (numpy.kron order), each monomial once",
                )
            )
            terms[name].append({"degree": term.degree, "nnz": term.nnz})
    pattern = maps.pattern
    metadata: dict[str, object] = {
        "stage": "maps",
        "state_size": maps.state_size,
        "state_layout": "z = (theta[0:n], delta_1, ..., delta_M), delta_i flattened row-major",
        "n_params": maps.n_params,
        "n_samples": maps.n_samples,
        "input_size": maps.input_size,
        "horizon": maps.horizon,
        "pgd_steps": maps.pgd_steps,
        "n_substeps": maps.n_substeps,
        "degree": maps.degree,
        "terms": terms,
        "expansion_point": maps.expansion_point.tolist(),
        "initial_state": maps.initial_state.tolist(),
        "frozen_sign_pattern": None if pattern.sign is None else pattern.sign.tolist(),
        "frozen_clip_pattern": None if pattern.clipped is None else pattern.clipped.tolist(),
    }
    written.append(_write_json(out_dir / "maps.json", metadata))
    return written


def write_carleman(carleman: CarlemanMaps, out_dir: Path) -> list[Path]:
    """$C_{\\mathcal A}$ and $C_{\\mathcal L}$, their metadata and the text summary."""
    out_dir = _directory(out_dir)
    written = [
        _write_matrix(
            out_dir / f"{matrix.kind}_C.mtx",
            matrix.matrix,
            f"{matrix.kind} Carleman matrix, order N = {carleman.order}, scale gamma = "
            f"{carleman.scale!r}, levels 0..N concatenated",
        )
        for matrix in (carleman.attack, carleman.learner)
    ]
    metadata: dict[str, object] = {
        "stage": "carleman",
        "order": carleman.order,
        "order_is_auto": carleman.order_is_auto,
        "scale": carleman.scale,
        "scale_is_auto": carleman.scale_is_auto,
        "degree": carleman.degree,
        "state_size": carleman.state_size,
        "lifted_size": carleman.lifted_size,
        "truncation_error": carleman.truncation_error,
        "truncation_error_bound": carleman.truncation_error_bound,
        "scaled_error_bound": carleman.scaled_error_bound,
        "norms": {m.kind: m.norm for m in (carleman.attack, carleman.learner)},
        "norms_are_exact": {m.kind: m.norm_is_exact for m in (carleman.attack, carleman.learner)},
    }
    written.append(_write_json(out_dir / "carleman.json", metadata))
    (out_dir / "carleman.txt").write_text(carleman.to_text(), encoding="utf-8")
    written.append(out_dir / "carleman.txt")
    return written


def write_block_system(system: BlockSystem, out_dir: Path) -> list[Path]:
    """$\\mathbf L$ and $\\mathbf b$ (when they fit), the metadata and the text summary."""
    out_dir = _directory(out_dir)
    written: list[Path] = []
    explicit = system.dim <= _MAX_DENSE_ROWS and system.matrix is not None
    if explicit:
        written.append(
            _write_matrix(
                out_dir / "L.mtx", assemble_matrix(system), "block system matrix L = I - S"
            )
        )
        written.append(
            _write_matrix(
                out_dir / "b.mtx",
                assemble_rhs(system).reshape(-1, 1),
                "right-hand side b = (Y0, 0...)",
            )
        )
    terminal = system.terminal_slice
    metadata: dict[str, object] = {
        "stage": "block-system",
        "explicit": explicit,
        "dim": system.dim,
        "n_blocks": system.n_blocks,
        "block_size": system.block_size,
        "n_substeps": system.n_substeps,
        "padding": system.padding,
        "nnz": system.nnz,
        "row_sparsity": system.row_sparsity,
        "row_sparsity_bound": system.row_sparsity_bound,
        "column_sparsity": system.column_sparsity,
        "column_sparsity_bound": system.column_sparsity_bound,
        "alpha": system.alpha,
        "max_step_norm": system.max_step_norm,
        "propagator_bound": system.propagator_bound,
        "kappa_bound": system.kappa_bound,
        "terminal_probability": system.terminal_probability,
        "theta_probability": system.theta_probability,
        "terminal_slice": [terminal.start, terminal.stop],
        "readout": "theta_T = expansion_point[:n] + gamma * x[terminal_slice]",
        "scale": system.carleman.scale,
        "expansion_point_theta": np.asarray(
            system.carleman.expansion_point[: system.carleman.n_params]
        ).tolist(),
    }
    written.append(_write_json(out_dir / "block_system.json", metadata))
    (out_dir / "block_system.txt").write_text(system.to_text(), encoding="utf-8")
    written.append(out_dir / "block_system.txt")
    return written


def write_block_encoding(encoding: BlockEncoding, out_dir: Path) -> list[Path]:
    """The block encoding's summary and its gate-level circuit diagram."""
    out_dir = _directory(out_dir)
    summary = out_dir / "block_encoding.txt"
    summary.write_text(encoding.to_text(), encoding="utf-8")
    diagram = out_dir / "circuit.txt"
    diagram.write_text(
        encoding.circuit.to_text_diagram(qubit_order=encoding.qubit_order, transpose=True) + "\n",
        encoding="utf-8",
    )
    return [summary, diagram]


def write_resources(
    counted: Resources, predicted: Resources, out_dir: Path
) -> tuple[list[Path], str]:
    """``resources.json`` (counted and formula side by side) and the table as text."""
    out_dir = _directory(out_dir)
    agree = (
        counted.gates == predicted.gates
        and counted.qubits == predicted.qubits
        and counted.queries == predicted.queries
    )
    payload: dict[str, object] = {
        "counted": counted.to_json(),
        "formula": predicted.to_json(),
        "counted_equals_formula": agree,
    }
    path = _write_json(out_dir / "resources.json", payload)
    table = counted.to_table()
    if not agree:
        table += "WARNING: the analytic formula disagrees with the count; see resources.json\n"
    (out_dir / "resources.txt").write_text(table, encoding="utf-8")
    return [path, out_dir / "resources.txt"], table


def write_qasm_files(
    encoding: BlockEncoding, resources: Resources, out_dir: Path, *, name: str
) -> list[Path]:
    """$U$ decomposed to primitive gates, as OpenQASM 2.0 and 3.0.

    Qubit order: the encoding's ancillas, its system registers, then the work qubits; the
    header lists the registers with their QASM index ranges.
    """
    if resources.gates.total > MAX_QASM_GATES:
        raise BackendError(
            f"the circuit has {resources.gates.total:,} primitive gates; QASM export stops at "
            f"{MAX_QASM_GATES:,}",
            hint="use --emit resources for the counts, or lower the horizon or Carleman order",
        )
    out_dir = _directory(out_dir)
    circuit = decompose_to_primitives(encoding)
    work = sorted(circuit.all_qubits() - set(encoding.qubit_order), key=_work_index)
    order = (*encoding.qubit_order, *work)
    lines = [
        f"{name}: block encoding of L ({encoding.method}), alpha = {encoding.alpha!r}",
        "<0|U|0> = L/alpha on the ancillas (all |0>), system index = index_map(matrix index)",
        "qubit q[i] is the i-th of these registers, most significant bit first:",
    ]
    start = 0
    for register in (*encoding.ancillas, *encoding.system):
        lines.append(f"  q[{start}..{start + len(register) - 1}] {register.name}")
        start += len(register)
    if work:
        lines.append(f"  q[{start}..{start + len(work) - 1}] work (clean, returned to |0>)")
    header = "\n".join(lines)
    written = []
    versions: tuple[tuple[QasmVersion, str], ...] = (("2.0", "qasm"), ("3.0", "qasm3"))
    for version, suffix in versions:
        if version in supported_versions():
            path = out_dir / f"{name}.{suffix}"
            write_qasm(circuit, path, version=version, qubit_order=order, header=header)
            written.append(path)
    return written


def _work_index(qubit: cirq.Qid) -> int:
    return int(str(qubit).removeprefix("work[").removesuffix("]"))
