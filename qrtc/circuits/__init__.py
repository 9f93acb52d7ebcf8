"""Cirq gates that the block encodings are built from (paper.md §6.2, design.md §3).

Every gate here has two independent definitions that the tests hold against each other:
``_apply_unitary_`` acts on the state tensor directly from the gate's classical description
(a table, a constant, a rotation tree), and ``_decompose_with_context_`` writes the same action
with one-qubit gates, CNOT, Toffoli and smaller gates of this package, taking clean work qubits
from the decomposition context's qubit manager and returning them clean
(:mod:`qrtc.circuits.work`: ``num_work_qubits()`` declares how many, and without a context they
are the named qubits ``qrtc_work[k]``, shared by every gate).

Cirq's protocols hold on every gate: ``cirq.unitary``, ``cirq.decompose``, ``cirq.qasm``
(ancilla-free, :mod:`qrtc.circuits._native`), ``repr`` and ``cirq.to_json`` (read back with
:func:`json_resolver`).

Conventions: a register is a tuple of qubits, most significant bit first (cirq's big-endian
order); control qubits come first in a gate's qubit list.
"""

from __future__ import annotations

from qrtc.circuits.serialization import json_resolver, read_json

__all__ = ["json_resolver", "read_json"]
