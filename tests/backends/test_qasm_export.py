"""``qrtc compile --emit qasm``: golden files for robust_linreg, re-read by Qiskit.

Qubit order: ``q[i]`` is the i-th qubit of (ancillas, system, work), most significant first in
cirq's big-endian state vector; Qiskit's ``Statevector`` is little-endian, so it is compared
after ``reverse_qargs()``. Global phase: the primitive gates (x, z, ry, cx, ccx) are exact in
both, so the state vectors are compared exactly.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cirq
import numpy as np
import pytest
import scipy.sparse

import qrtc
from qrtc.backends import export
from qrtc.passes.encode_block_system import encode_block_system, encode_matrix
from qrtc.pipeline import compile_spec
from qrtc.resources.counted import count_resources, decompose_to_primitives

qasm2 = pytest.importorskip("qiskit.qasm2")
quantum_info = pytest.importorskip("qiskit.quantum_info")

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"


def _read(path: Path) -> object:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".qasm":
        return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    pytest.importorskip("qiskit_qasm3_import")
    import qiskit.qasm3

    return qiskit.qasm3.loads(text)


@pytest.fixture(scope="module")
def robust_linreg(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], object]:
    system = compile_spec(qrtc.parse_file(ROOT / "examples" / "robust_linreg.qrt")).block_system
    assert system is not None
    encoding = encode_block_system(system)
    resources = count_resources(encoding, depth_limit=0)
    out = tmp_path_factory.mktemp("qasm")
    return export.write_qasm_files(encoding, resources, out, name="robust_linreg"), resources


def test_emitted_qasm_matches_the_goldens(
    robust_linreg: tuple[list[Path], object], update_goldens: bool
) -> None:
    written, _ = robust_linreg
    assert [p.suffix for p in written] == [".qasm", ".qasm3"]
    for path in written:
        golden = GOLDEN / path.name
        if update_goldens:
            golden.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        assert path.read_text(encoding="utf-8") == golden.read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["robust_linreg.qasm", "robust_linreg.qasm3"])
def test_qiskit_reads_the_goldens_with_the_counted_gates(
    robust_linreg: tuple[list[Path], object], name: str
) -> None:
    _, resources = robust_linreg
    circuit = _read(GOLDEN / name)
    kinds = Counter(instruction.operation.name for instruction in circuit.data)  # type: ignore[attr-defined]
    gates = resources.gates  # type: ignore[attr-defined]
    assert circuit.num_qubits == resources.total_qubits  # type: ignore[attr-defined]
    assert kinds["ccx"] == gates.toffoli
    assert kinds["cx"] == gates.cnot
    assert kinds["x"] == gates.x
    assert kinds["z"] == gates.z
    assert kinds["ry"] == gates.rotations + gates.clifford_rotations
    assert sum(kinds.values()) == gates.total


@pytest.mark.parametrize("suffix", [".qasm", ".qasm3"])
def test_qiskit_statevector_of_the_emitted_file_encodes_the_matrix(
    tmp_path: Path, suffix: str
) -> None:
    rng = np.random.default_rng(3)
    matrix = scipy.sparse.random_array((3, 3), density=0.6, rng=rng, format="csr")
    matrix.data = rng.normal(size=matrix.nnz)
    encoding = encode_matrix(matrix)
    resources = count_resources(encoding)
    paths = export.write_qasm_files(encoding, resources, tmp_path, name="small")
    path = next(p for p in paths if p.suffix == suffix)
    circuit = _read(path)
    n = circuit.num_qubits  # type: ignore[attr-defined]
    cirq_circuit = decompose_to_primitives(encoding)
    work = sorted(cirq_circuit.all_qubits() - set(encoding.qubit_order), key=str)
    order = (*encoding.qubit_order, *work)
    n_ancilla, n_system = encoding.n_ancilla_qubits, encoding.n_system_qubits
    for column in range(3):
        # Basis state: system register = column, every other qubit 0 (big-endian over order).
        index = column << len(work)
        # Qiskit's label lists q[n-1] .. q[0]; q[0] is cirq's most significant qubit.
        qiskit_state = quantum_info.Statevector.from_label(format(index, f"0{n}b")[::-1])
        evolved = qiskit_state.evolve(circuit).reverse_qargs().data
        expected_cirq = (
            cirq.Simulator(dtype=np.complex128)
            .simulate(cirq_circuit, qubit_order=order, initial_state=index)
            .final_state_vector
        )
        np.testing.assert_allclose(evolved, expected_cirq, atol=1e-9)
        # Ancillas (most significant) and work (least significant) all 0: alpha * column.
        block = evolved.reshape(2**n_ancilla, 2**n_system, 2 ** len(work))[0, :, 0]
        expected = np.zeros(2**n_system)
        expected[:3] = matrix.toarray()[:, column]
        np.testing.assert_allclose(encoding.alpha * block, expected, atol=1e-9)
