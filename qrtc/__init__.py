"""qrtc: the robust-training circuit compiler.

A ``.qrt`` spec of PGD adversarial training is parsed (:func:`parse`), checked and reduced to
numbers (:func:`check`), trained classically by the exact reference (:func:`qrtc.reference.train`),
and lowered pass by pass towards a QSVT circuit (see ``shared/design.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qrtc import reference
from qrtc.errors import (
    AssumptionError,
    BackendError,
    CompileError,
    QrtError,
    SourceSpan,
    SpecError,
    SpecErrors,
    SpecSyntaxError,
)
from qrtc.frontend.check import check
from qrtc.frontend.parse import parse, parse_file
from qrtc.ir.problem import AttackConfig, CompileOptions, Problem, TrainConfig
from qrtc.ir.spec import Spec
from qrtc.ir.trajectory import Trajectory
from qrtc.pipeline import compile

if TYPE_CHECKING:
    from qrtc.backends.qiskit_export import to_qiskit
    from qrtc.verification import Rung, VerificationReport, verify

__version__ = "0.1.0"

__all__ = [
    "AssumptionError",
    "AttackConfig",
    "BackendError",
    "CompileError",
    "CompileOptions",
    "Problem",
    "QrtError",
    "Rung",
    "SourceSpan",
    "Spec",
    "SpecError",
    "SpecErrors",
    "SpecSyntaxError",
    "TrainConfig",
    "Trajectory",
    "VerificationReport",
    "check",
    "compile",
    "load",
    "parse",
    "parse_file",
    "reference",
    "to_qiskit",
    "verify",
]

# The verification ladder imports cirq, qsim and Hypothesis: loaded on first use, so that
# `import qrtc` stays light.
_VERIFICATION = frozenset({"Rung", "VerificationReport", "verify"})


def __getattr__(name: str) -> object:
    if name in _VERIFICATION:
        from qrtc import verification

        return getattr(verification, name)
    if name == "to_qiskit":  # Qiskit is an optional extra; cirq is imported only now
        from qrtc.backends.qiskit_export import to_qiskit

        return to_qiskit
    raise AttributeError(f"module 'qrtc' has no attribute {name!r}")


def load(path: str) -> Problem:
    """Parse and check the spec at ``path``: ``check(parse_file(path))``."""
    return check(parse_file(path))
