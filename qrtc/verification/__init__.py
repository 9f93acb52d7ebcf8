r"""``qrtc verify``: the verification ladder of design.md §4, run on a user's spec.

:func:`verify` compiles a spec the way ``qrtc run`` does and checks every stage against an
independent reference, on inputs Hypothesis draws (points $z$, vectors $b$, basis columns,
points $x$), within tolerances derived from predicted bounds; a failure is shrunk to a simple
counterexample. The rungs are listed in :mod:`qrtc.verification.ladder`.

Modules: :mod:`~qrtc.verification.ladder` (the rungs as data, :func:`verify`),
:mod:`~qrtc.verification.dynamics`, :mod:`~qrtc.verification.linear_system`,
:mod:`~qrtc.verification.encoding`, :mod:`~qrtc.verification.inversion` and
:mod:`~qrtc.verification.output` (the checks), :mod:`~qrtc.verification.subject` (the
compiled stages, built on demand), :mod:`~qrtc.verification.search` (Hypothesis as a library)
and :mod:`~qrtc.verification.report` (the report, its table and JSON).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qrtc.verification.ladder import DEFAULT_MAX_QUBITS, RUNG_NAMES, verify
    from qrtc.verification.report import Rung, VerificationReport

__all__ = ["DEFAULT_MAX_QUBITS", "RUNG_NAMES", "Rung", "VerificationReport", "verify"]

# Re-exported on first use, so that importing one module of the package (the rungs import
# each other's siblings) does not import the ladder, which imports every rung.
_HOMES = {
    "DEFAULT_MAX_QUBITS": "ladder",
    "RUNG_NAMES": "ladder",
    "verify": "ladder",
    "Rung": "report",
    "VerificationReport": "report",
}


def __getattr__(name: str) -> object:
    if name in _HOMES:
        return getattr(importlib.import_module(f"qrtc.verification.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'qrtc.verification' has no attribute {name!r}")
