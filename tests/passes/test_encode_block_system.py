r"""The block encodings against independent references (acceptance test of the encoding issue).

- generic encoding (``encode_matrix``) of random signed sparse matrices, 1..32 rows, both
  paddings: the whole block $\alpha\langle 0|U|0\rangle$ from ``cirq.unitary`` equals $\tilde A$;
  $\alpha = \sqrt{s_r s_c}\max|A|$ recounted with numpy; $UU^\dagger = I$;
- the same, column by column with ``cirq.Simulator``, at $2^8..2^{10}$ rows;
- every distinct custom gate of a small generic and a small structured encoding (and of their
  decompositions) against its own decomposition (``cirq.testing``);
- every shipped example: columns of the structured and the generic encoding of $\mathbf L$ by
  the sparse basis simulator (:mod:`qrtc.backends.basis_simulator`, a third definition of the
  gates) against the columns of $\mathbf L$ through the index map, nothing leaking to system
  states outside it, and the two encodings against each other; a few columns of the small
  examples by ``cirq.Simulator`` too;
- the generic method refuses an $\mathbf L$ with too many non-zeros.
"""

from __future__ import annotations

import functools
import importlib
import math
from pathlib import Path
from typing import Literal

import cirq
import numpy as np
import pytest
import scipy.linalg
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import tiny_spec

import qrtc
from qrtc.backends.basis_simulator import simulate_basis
from qrtc.circuits import (
    arithmetic,
    controlled,
    lookup,
    sparse_access,
    state_preparation,
    time_register,
)
from qrtc.errors import CompileError
from qrtc.ir.block_encoding import BlockEncoding, IndexMap
from qrtc.ir.block_system import BlockSystem
from qrtc.numerics.block_matrix import assemble_matrix, matrix_column
from qrtc.passes.encode_block_system import encode_block_system, encode_matrix
from qrtc.pipeline import compile_spec
from qrtc.testing import assert_block_encodes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_NAMES = sorted(path.stem for path in EXAMPLES.glob("*.qrt"))
# Compiling these takes seconds: their encoding checks run with the slow tests.
SLOW_EXAMPLES = {"two_layer_quadratic", "logistic_taylor"}

# alpha * amplitude, amplitudes from ~30 double-precision gates (error ~1e-15 each) and
# alpha <= ~1e4 (logistic_taylor's 6086): ~1e-11 at worst. 1e-9 is rounding, not a bug.
ATOL = 1e-9

# cirq.unitary of a 12-qubit circuit is 2^24 entries (256 MiB): the limit of qrtc.testing.
MAX_UNITARY_QUBITS = 12
# U U^dagger costs (2^n)^3: checked up to 10 qubits.
MAX_UNITARITY_QUBITS = 10

# A 12-qubit cirq.unitary takes ~1 s: a quarter of the profile's count keeps the property at
# ~10 s on `ci` and still scales with `nightly`.
_EXAMPLES = max(10, settings.default.max_examples // 4)

CUSTOM_GATES = (
    arithmetic.Increment,
    arithmetic.LessThanConstant,
    controlled.MultiControlledX,
    controlled.MultiControlledRy,
    controlled.SwapRegisters,
    lookup.XorLookup,
    lookup.RotationLookup,
    sparse_access.IndexOracle,
    state_preparation.UniformSuperposition,
    time_register.MixedRadixIncrement,
    time_register.BlockTypeOracle,
)


# -- random sparse matrices ---------------------------------------------------------------------


def _width(size: int) -> int:
    return max(1, (size - 1).bit_length())


def random_sparse(
    rng: np.random.Generator,
    size: int,
    *,
    density: float,
    max_per_row: int,
    max_per_column: int,
    zero_fraction: float = 0.0,
) -> scipy.sparse.csr_array:
    """Signed entries at random places, some rows and columns all zero, capped sparsity."""
    pattern = rng.random((size, size)) < density
    pattern[rng.random(size) < zero_fraction, :] = False
    pattern[:, rng.random(size) < zero_fraction] = False
    for row in range(size):
        (columns,) = np.nonzero(pattern[row])
        pattern[row, rng.permutation(columns)[max_per_row:]] = False
    for column in range(size):
        (rows,) = np.nonzero(pattern[:, column])
        pattern[rng.permutation(rows)[max_per_column:], column] = False
    values = rng.choice([-1.0, 1.0], size=(size, size)) * rng.uniform(0.05, 3.0, (size, size))
    return scipy.sparse.csr_array(np.where(pattern, values, 0.0))


def expected_alpha(matrix: scipy.sparse.csr_array, padding: Literal["identity", "zero"]) -> float:
    r"""$\sqrt{s_r s_c}\max|A|$ of $A$ padded to $2^w$, counted on the dense array."""
    dense = matrix.toarray()
    extra = (1 << _width(dense.shape[0])) - dense.shape[0]
    if padding == "identity" and extra:
        dense = scipy.linalg.block_diag(dense, np.eye(extra))
    nonzero = dense != 0
    row_sparsity = max(1, int(nonzero.sum(axis=1).max()))
    column_sparsity = max(1, int(nonzero.sum(axis=0).max()))
    # An all-zero matrix is encoded with max|A| taken as 1 (any alpha encodes 0).
    largest = float(np.abs(dense).max()) or 1.0
    return math.sqrt(row_sparsity * column_sparsity) * largest


@st.composite
def small_sparse_matrices(draw: st.DrawFn) -> scipy.sparse.csr_array:
    """1..32 rows, any density, the sparsity capped so that U has <= 12 qubits.

    Qubits: 2w (sys, out) + 1 (value) + the two index registers; what is left of 12 is split
    at random between the row and the column index register.
    """
    # sampled_from draws about uniformly; st.integers would favour the ends (mostly 1 x 1).
    size = draw(st.sampled_from(range(1, 33)))
    budget = MAX_UNITARY_QUBITS - 2 * _width(size) - 1
    row_bits = draw(st.integers(0, budget))
    column_bits = draw(st.integers(0, budget - row_bits))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return random_sparse(
        rng,
        size,
        density=draw(st.sampled_from([0.3, 0.1, 0.6, 1.0, 0.2, 0.45, 0.8, 0.0])),
        max_per_row=1 << row_bits,
        max_per_column=1 << column_bits,
        zero_fraction=draw(st.sampled_from([0.2, 0.0, 0.5])),
    )


_PADDINGS: st.SearchStrategy[Literal["identity", "zero"]] = st.sampled_from(["identity", "zero"])


@pytest.mark.slow
@settings(max_examples=_EXAMPLES)
@given(small_sparse_matrices(), _PADDINGS)
def test_generic_encoding_of_random_sparse_matrices_by_unitary(
    matrix: scipy.sparse.csr_array, padding: Literal["identity", "zero"]
) -> None:
    encoding = encode_matrix(matrix, padding=padding)
    assert encoding.dim == matrix.shape[0] and encoding.padding == padding
    assert len(encoding.qubit_order) <= MAX_UNITARY_QUBITS
    assert math.isclose(encoding.alpha, expected_alpha(matrix, padding), rel_tol=1e-12)
    assert_block_encodes(encoding, matrix, atol=ATOL)
    if len(encoding.qubit_order) <= MAX_UNITARITY_QUBITS:
        unitary = encoding.circuit.unitary(qubit_order=encoding.qubit_order)
        np.testing.assert_allclose(unitary @ unitary.conj().T, np.eye(unitary.shape[0]), atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize(
    "size,seed,sparsity",
    [(256, 0, 4), (300, 1, 2), (512, 2, 2), (1024, 3, 2)],
)
def test_generic_encoding_of_larger_matrices_by_columns(
    size: int, seed: int, sparsity: int
) -> None:
    """``cirq.Simulator`` on a few columns. U has 2w + 1 + 2 log2(sparsity) qubits: 21 to 23,
    a 32-128 MiB state vector."""
    rng = np.random.default_rng(seed)
    matrix = random_sparse(
        rng,
        size,
        density=sparsity / size,
        max_per_row=sparsity,
        max_per_column=sparsity,
        zero_fraction=0.1,
    )
    padding: Literal["identity", "zero"] = "identity" if seed % 2 else "zero"
    encoding = encode_matrix(matrix, padding=padding)
    assert math.isclose(encoding.alpha, expected_alpha(matrix, padding), rel_tol=1e-12)
    (empty,) = np.nonzero(np.diff(scipy.sparse.csc_array(matrix).indptr) == 0)
    columns = [0, size - 1, int(rng.integers(size)), *empty[:1].tolist()]
    assert_block_encodes(encoding, matrix, columns=columns, atol=ATOL)


# -- decompositions -----------------------------------------------------------------------------

# A gate, its work qubits and the decomposition's unitary: 2^11 x 2^11 at most (64 MiB).
MAX_DECOMPOSITION_QUBITS = 11


def _custom_operations(circuit: cirq.Circuit) -> dict[cirq.Gate, cirq.Operation]:
    """Every custom gate in ``circuit`` and in its decompositions, down to cirq's gates."""
    context = cirq.DecompositionContext(cirq.SimpleQubitManager())
    found: dict[cirq.Gate, cirq.Operation] = {}
    stack = list(circuit.all_operations())
    while stack:
        op = stack.pop()
        if not isinstance(op.gate, CUSTOM_GATES) or op.gate in found:
            continue
        found[op.gate] = op
        stack.extend(cirq.decompose_once(op, context=context))
    return found


def _work_qubits(gate: cirq.Gate) -> int:
    qubits = cirq.LineQid.for_gate(gate)
    decomposition = cirq.decompose_once_with_qubits(gate, qubits, default=[])
    return len(cirq.Circuit(decomposition).all_qubits() - set(qubits))


@pytest.mark.slow
@pytest.mark.parametrize("which", ["generic", "structured"])
def test_custom_gates_of_small_encodings_decompose_consistently(which: str) -> None:
    if which == "generic":
        rng = np.random.default_rng(7)
        matrix = random_sparse(rng, 3, density=0.7, max_per_row=3, max_per_column=3)
        encoding = encode_matrix(matrix, padding="identity")
    else:
        system = compile_spec(tiny_spec(pgd_steps=2, horizon=1, padding=1)).block_system
        assert system is not None
        encoding = encode_block_system(system)
    gates = _custom_operations(encoding.circuit)
    checked: set[type] = set()
    for gate in gates:
        if gate.num_qubits() + _work_qubits(gate) > MAX_DECOMPOSITION_QUBITS:
            continue
        cirq.testing.assert_decompose_is_consistent_with_unitary(gate)
        checked.add(type(gate))
    # Every kind of gate in the encoding was checked at least once.
    top_level = {type(op.gate) for op in encoding.circuit.all_operations()}
    assert top_level - {type(cirq.ry(0.0)), type(cirq.Z)} <= checked
    assert {lookup.XorLookup, controlled.MultiControlledX} <= checked


# -- shipped examples ---------------------------------------------------------------------------


class Compiled:
    """One example: L, and its structured and (when it can be built) generic encodings."""

    def __init__(self, name: str) -> None:
        system = compile_spec(qrtc.parse_file(str(EXAMPLES / f"{name}.qrt"))).block_system
        assert system is not None
        self.name = name
        self.system: BlockSystem = system
        self.structured = encode_block_system(system)
        self.generic: BlockEncoding | None
        try:
            self.generic = encode_block_system(system, method="generic")
        except CompileError:
            self.generic = None
        # Explicit CSC columns where cheap; the implicit column access for the big one.
        self._csc = assemble_matrix(system).tocsc() if system.dim <= 100_000 else None

    def column(self, j: int) -> dict[int, float]:
        """Column ``j`` of L: row -> value."""
        if self._csc is None:
            rows, values = matrix_column(self.system, j)
        else:
            start, stop = self._csc.indptr[j], self._csc.indptr[j + 1]
            rows, values = self._csc.indices[start:stop], self._csc.data[start:stop]
        return dict(zip(rows.tolist(), values.tolist(), strict=True))

    def sample_columns(self) -> list[int]:
        """Column 0, the last step blocks, a learner-feeding block, padding, the last, random."""
        system, rng = self.system, np.random.default_rng(0)
        size, steps = system.block_size, system.n_substeps
        radix = system.carleman.pgd_steps + 1

        def in_block(block: int) -> int:
            return block * size + int(rng.integers(size))

        columns = [
            0,
            in_block(radix - 1),  # feeds C_L (block row K + 1)
            in_block(steps - 1),  # feeds the last step C_S
            steps * size + size - 1,  # the terminal block: feeds the first idle block
            system.dim - 1,
        ]
        if system.padding:
            columns.append(in_block(steps + 1 + int(rng.integers(system.padding))))
        while len(columns) < 8:
            columns.append(int(rng.integers(system.dim)))
        return sorted(set(columns))


@functools.cache
def _compiled(name: str) -> Compiled:
    return Compiled(name)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(name, marks=pytest.mark.slow) if name in SLOW_EXAMPLES else name
        for name in EXAMPLE_NAMES
    ],
)
def example(request: pytest.FixtureRequest) -> Compiled:
    return _compiled(request.param)


def _matrix_index(index_map: IndexMap, dim: int, key: int) -> int | None:
    """$e^{-1}$(key), from the bit layout of the index map's docstring; None off its image."""
    offset = key & ((1 << index_map.offset_bits) - 1)
    phase = (key >> index_map.offset_bits) & ((1 << index_map.radix_bits) - 1)
    outer = key >> (index_map.offset_bits + index_map.radix_bits)
    index = (outer * index_map.radix + phase) * index_map.block_size + offset
    if offset >= index_map.block_size or phase >= index_map.radix or index >= dim:
        return None
    return index


def encoded_column(encoding: BlockEncoding, j: int) -> dict[int, float]:
    r"""$\alpha\langle 0|_{\rm anc}\langle x|U|0\rangle|e(j)\rangle$ by basis simulation, by
    matrix index; asserts that no system state $x$ off the image of $e$ is reached."""
    ancillas = [q for r in encoding.ancillas for q in r.qubits]
    start = int(encoding.index_map(j))
    state = simulate_basis(encoding.circuit, encoding.qubit_order, start, postselect=ancillas)
    column: dict[int, float] = {}
    for key, amplitude in state.items():
        assert key < 1 << encoding.n_system_qubits, "postselection left an ancilla set"
        index = _matrix_index(encoding.index_map, encoding.dim, key)
        if index is None:
            assert abs(encoding.alpha * amplitude) <= ATOL, f"column {j} leaks to state {key}"
            continue
        assert int(encoding.index_map(index)) == key
        column[index] = encoding.alpha * amplitude
    return column


def _assert_columns_equal(actual: dict[int, float], expected: dict[int, float], what: str) -> None:
    __tracebackhide__ = True
    for index in sorted(set(actual) | set(expected)):
        difference = abs(actual.get(index, 0.0) - expected.get(index, 0.0))
        assert difference <= ATOL, (
            f"{what}: entry {index} is {actual.get(index, 0.0)!r}, "
            f"expected {expected.get(index, 0.0)!r}"
        )


@pytest.mark.slow
def test_example_structured_encoding_columns_equal_L(example: Compiled) -> None:
    encoding = example.structured
    assert encoding.method == "structured" and encoding.padding == "identity"
    assert encoding.dim == example.system.dim
    for j in example.sample_columns():
        actual = encoded_column(encoding, j)
        _assert_columns_equal(actual, example.column(j), f"{example.name} structured, column {j}")


@pytest.mark.slow
def test_example_generic_encoding_columns_equal_L_and_structured(example: Compiled) -> None:
    if example.generic is None:
        limit = importlib.import_module("qrtc.passes.encode_block_system").MAX_GENERIC_NNZ
        assert example.system.nnz > limit, "only an L above the limit may be refused"
        # The refusal is the expected outcome for an L this large (checked where it is built,
        # in Compiled): the structured encoding is this example's only circuit.
        return
    encoding = example.generic
    assert encoding.method == "generic" and encoding.padding == "identity"
    for j in example.sample_columns():
        generic = encoded_column(encoding, j)
        _assert_columns_equal(generic, example.column(j), f"{example.name} generic, column {j}")
        structured = encoded_column(example.structured, j)
        _assert_columns_equal(generic, structured, f"{example.name} generic vs structured, {j}")


def test_example_alphas(example: Compiled) -> None:
    """The generic alpha is sqrt(s_r s_c) max|L| <= BlockSystem.alpha = s max|L|; the
    structured one is 1 + beta with beta <= (s - 1) max|L| (C-hat has s - 1 entries per row
    and column at most, and max|L| >= 1 from the diagonal), so it is <= s max|L| too."""
    system = example.system
    s_r, s_c = system.row_sparsity, system.column_sparsity
    assert math.isclose(system.alpha, max(s_r, s_c) * system.max_abs_entry, rel_tol=1e-12)
    assert example.structured.alpha == pytest.approx(1 + example.structured.sparse_alpha)
    assert example.structured.alpha <= system.alpha * (1 + 1e-12)
    if example.generic is not None:
        expected = math.sqrt(s_r * s_c) * system.max_abs_entry
        assert math.isclose(example.generic.alpha, expected, rel_tol=1e-12)
        assert example.generic.alpha <= system.alpha * (1 + 1e-12)


# cirq.Simulator on 23 (generic, ~2 s) and 25-26 qubits (structured, 10-20 s): both slow.
@pytest.mark.slow
@pytest.mark.parametrize("name", ["robust_linreg", "l2_inactive"])
@pytest.mark.parametrize("method", ["generic", pytest.param("structured", marks=pytest.mark.slow)])
def test_example_columns_by_dense_simulation(name: str, method: str) -> None:
    compiled = _compiled(name)
    encoding = compiled.structured if method == "structured" else compiled.generic
    assert encoding is not None
    last_step = (compiled.system.n_substeps - 1) * compiled.system.block_size
    assert_block_encodes(
        encoding, assemble_matrix(compiled.system), columns=[0, last_step], atol=ATOL
    )


# -- refusal ------------------------------------------------------------------------------------


def test_generic_method_refuses_too_many_nonzeros(monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("qrtc.passes.encode_block_system")
    system = _compiled("robust_linreg").system
    monkeypatch.setattr(module, "MAX_GENERIC_NNZ", system.nnz - 1)
    with pytest.raises(CompileError, match=f"{system.nnz:,}") as raised:
        encode_block_system(system, method="generic")
    assert raised.value.span == system.origin and raised.value.hint is not None
    monkeypatch.setattr(module, "MAX_GENERIC_NNZ", system.nnz)
    assert encode_block_system(system, method="generic").method == "generic"
