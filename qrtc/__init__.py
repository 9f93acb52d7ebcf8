"""qrtc: the robust-training circuit compiler.

A ``.qrt`` spec of PGD adversarial training is parsed (:func:`parse`), checked and reduced to
numbers (:func:`check`), trained classically by the exact reference (:func:`qrtc.reference.train`),
and lowered pass by pass towards a QSVT circuit (see ``shared/design.md``).
"""

from __future__ import annotations

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

__version__ = "0.1.0"

__all__ = [
    "AssumptionError",
    "AttackConfig",
    "BackendError",
    "CompileError",
    "CompileOptions",
    "Problem",
    "QrtError",
    "SourceSpan",
    "Spec",
    "SpecError",
    "SpecErrors",
    "SpecSyntaxError",
    "TrainConfig",
    "Trajectory",
    "check",
    "load",
    "parse",
    "parse_file",
    "reference",
]


def load(path: str) -> Problem:
    """Parse and check the spec at ``path``: ``check(parse_file(path))``."""
    return check(parse_file(path))
