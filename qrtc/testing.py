"""Assert helpers for our tests and for users' own test suites (``cirq.testing`` style).

:func:`assert_verified` and :func:`assert_rung_passes` run the verification ladder
(:func:`qrtc.verify`, design.md §4) on a spec and fail with its table, counterexamples
included::

    import qrtc.testing

    def test_my_spec_compiles_correctly():
        qrtc.testing.assert_verified("specs/my_model.qrt", examples=50)

The block-encoding helpers compare a :class:`~qrtc.ir.block_encoding.BlockEncoding` with the
matrix it should encode, by ``cirq.unitary`` (small circuits) or by state-vector simulation of
chosen columns (``cirq.Simulator``, double precision), never by anything the encoding computed
itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse
from numpy.typing import NDArray

from qrtc.ir.block_encoding import BlockEncoding
from qrtc.ir.spec import Spec
from qrtc.verification.block_reference import (
    MAX_UNITARY_QUBITS,
    encoded_block,
    encoded_columns,
    expected_block,
)

if TYPE_CHECKING:
    from qrtc.verification import Rung, VerificationReport

__all__ = [
    "MAX_UNITARY_QUBITS",
    "assert_block_encodes",
    "assert_rung_passes",
    "assert_verified",
    "encoded_block",
    "encoded_columns",
    "expected_block",
]


def assert_block_encodes(
    encoding: BlockEncoding,
    matrix: scipy.sparse.csr_array | NDArray[np.float64],
    *,
    columns: Sequence[int] | None = None,
    atol: float = 1e-9,
) -> None:
    """$\\alpha\\langle 0|U|0\\rangle = \\tilde A$: whole block if ``columns`` is None, else the
    listed columns (matrix indices) by simulation."""
    __tracebackhide__ = True
    expected = expected_block(encoding, matrix)
    if columns is None:
        actual = encoded_block(encoding)
        np.testing.assert_allclose(actual, expected, atol=atol)
        return
    actual = encoded_columns(encoding, columns)
    embedded = encoding.index_map(np.asarray(columns, dtype=np.int64))
    np.testing.assert_allclose(actual, expected[:, embedded], atol=atol)


def assert_verified(
    spec: Spec | str | os.PathLike[str],
    *,
    rungs: Iterable[str] | None = None,
    allow_skipped: bool = True,
    **options: Any,
) -> VerificationReport:
    """Run :func:`qrtc.verify` on ``spec``; fail if a rung failed (or was skipped).

    Args:
        spec: a parsed spec or the path of a ``.qrt`` file.
        rungs: the rungs to run (default: all).
        allow_skipped: when False, a rung skipped for its size (or a missing dependency) fails
            the assertion too.
        options: passed on to :func:`qrtc.verify` (``examples``, ``seed``, ``max_qubits``,
            ``encoding``, ``budget_s``, ...).

    Returns:
        The report, for further checks.

    Raises:
        AssertionError: with the ladder's table, the shrunk counterexample of every failed
            rung included.
    """
    __tracebackhide__ = True
    from qrtc.verification import verify

    report = verify(spec, rungs=rungs, **options)
    if not report.passed:
        names = ", ".join(r.name for r in report.failed)
        raise AssertionError(f"{report.file}: rung(s) failed: {names}\n\n{report.to_table()}")
    if not allow_skipped and report.skipped:
        names = ", ".join(r.name for r in report.skipped)
        raise AssertionError(f"{report.file}: rung(s) skipped: {names}\n\n{report.to_table()}")
    return report


def assert_rung_passes(spec: Spec | str | os.PathLike[str], rung: str, **options: Any) -> Rung:
    """Run one rung of the ladder on ``spec``; it must pass (neither fail nor be skipped).

    ``options`` are passed on to :func:`qrtc.verify`. Returns the rung.
    """
    __tracebackhide__ = True
    report = assert_verified(spec, rungs=[rung], allow_skipped=False, **options)
    return report.rung(rung)
