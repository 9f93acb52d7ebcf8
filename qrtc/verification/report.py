r"""What ``qrtc verify`` found: one :class:`Rung` per rung of the ladder, and the whole report.

A rung compares one stage of the compilation with an independent reference (design.md §4) over
a number of cases; it passes when every case's error is within its tolerance, and the tolerance
is a predicted bound (a rounding bound, the truncation bound, the polynomial's declared error),
whose origin the rung states. A failing rung carries the counterexample Hypothesis shrank to;
a rung that cannot run at the spec's size says why (``skipped: ...``), never passes silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from qrtc.verification.search import Case, Measurement, Outcome

__all__ = ["Finding", "Rung", "Status", "VerificationReport"]

Status = Literal["pass", "fail", "skipped"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """What a rung's check found, before the ladder names it (see :class:`Rung`).

    ``compared`` and ``against`` override the ladder's description of the rung when the check
    had to choose (which simulator, which encoding); ``counterexample`` overrides how the
    failure reads.
    """

    cases: int
    worst: Measurement | None
    failure: Case | None
    tolerance_source: str
    detail: str = ""
    compared: str | None = None
    against: str | None = None
    counterexample: str | None = None
    out_of_time: bool = False
    shrunk: bool = False

    @classmethod
    def of(cls, outcome: Outcome, tolerance_source: str, **more: Any) -> Finding:
        worst = outcome.worst.measurement if outcome.worst is not None else None
        return cls(
            cases=outcome.cases,
            worst=worst,
            failure=outcome.failure,
            tolerance_source=tolerance_source,
            out_of_time=outcome.out_of_time,
            shrunk=True,
            **more,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Rung:
    """One rung: ``compared`` against ``against`` over ``cases`` inputs.

    Attributes:
        name: the rung's name (``qrtc verify --rungs`` takes these).
        compared: what was computed from the compiled stage.
        against: the independent reference it was compared with.
        cases: inputs measured (Hypothesis examples, shrinking steps included; for an exhaustive
            rung, the entries or quantities compared).
        worst_error: the error of the case closest to (or furthest beyond) its tolerance.
        tolerance: that case's tolerance.
        tolerance_source: where the tolerance comes from (a bound, with its reference).
        status: ``"pass"``, ``"fail"`` or ``"skipped"``.
        detail: why the rung was skipped, or a note on how it ran.
        counterexample: for a failure, the failing input and what differed.
        shrunk: the counterexample is the simplest failing input Hypothesis found (not a
            deterministic check's only case).
        seconds: wall time of the rung.
    """

    name: str
    compared: str
    against: str
    cases: int = 0
    worst_error: float | None = None
    tolerance: float | None = None
    tolerance_source: str = ""
    status: Status
    detail: str = ""
    counterexample: str | None = None
    shrunk: bool = False
    seconds: float = 0.0

    def __post_init__(self) -> None:
        assert self.status in ("pass", "fail", "skipped"), self.status
        assert self.status != "skipped" or self.detail, "a skipped rung says why"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "compared": self.compared,
            "against": self.against,
            "cases": self.cases,
            "worst_error": _json_number(self.worst_error),
            "tolerance": _json_number(self.tolerance),
            "tolerance_source": self.tolerance_source,
            "status": self.status,
            "detail": self.detail,
            "counterexample": self.counterexample,
            "shrunk": self.shrunk,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationReport:
    """Every rung that was asked for, in ladder order.

    Attributes:
        file: the spec's file name.
        rungs: the rungs, in the order of design.md §4.
        encoding: the block encoding the circuit rungs checked (``"structured"`` or
            ``"generic"``), or None when none was built.
        examples, seed: Hypothesis examples per rung and the seed of the search.
        max_qubits: the widest state vector a rung may simulate.
        seconds: total wall time.
    """

    file: str
    rungs: tuple[Rung, ...]
    encoding: str | None = None
    examples: int
    seed: int
    max_qubits: int
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """No rung failed (skipped rungs are allowed, and listed)."""
        return not self.failed

    @property
    def failed(self) -> tuple[Rung, ...]:
        return tuple(r for r in self.rungs if r.status == "fail")

    @property
    def skipped(self) -> tuple[Rung, ...]:
        return tuple(r for r in self.rungs if r.status == "skipped")

    def rung(self, name: str) -> Rung:
        """The rung called ``name``."""
        for rung in self.rungs:
            if rung.name == name:
                return rung
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.passed,
            "file": self.file,
            "encoding": self.encoding,
            "examples": self.examples,
            "seed": self.seed,
            "max_qubits": self.max_qubits,
            "seconds": round(self.seconds, 3),
            "passed": sum(r.status == "pass" for r in self.rungs),
            "failed": [r.name for r in self.failed],
            "skipped": [r.name for r in self.skipped],
            "notes": list(self.notes),
            "rungs": [r.to_json() for r in self.rungs],
        }

    def to_table(self) -> str:
        """One row per rung; under it, where its tolerance comes from, why it was skipped, or
        the shrunk counterexample of a failure."""
        header = ("rung", "compared", "against", "cases", "worst error", "tolerance", "status")
        rows = [
            (
                r.name,
                r.compared,
                r.against,
                str(r.cases) if r.status != "skipped" else "-",
                _number(r.worst_error),
                _number(r.tolerance),
                r.status,
            )
            for r in self.rungs
        ]
        widths = [max(len(row[k]) for row in (header, *rows)) for k in range(len(header))]
        right = {3, 4, 5}

        def line(cells: tuple[str, ...]) -> str:
            parts = [
                cell.rjust(width) if k in right else cell.ljust(width)
                for k, (cell, width) in enumerate(zip(cells, widths, strict=True))
            ]
            return "  ".join(parts).rstrip()

        out = [line(header)]
        indent = " " * (widths[0] + 2)
        for rung, row in zip(self.rungs, rows, strict=True):
            out.append(line(row))
            if rung.status == "skipped":
                out.append(f"{indent}skipped: {rung.detail}")
                continue
            if rung.tolerance_source:
                out.append(f"{indent}tolerance: {rung.tolerance_source}")
            if rung.detail:
                out.append(f"{indent}{rung.detail}")
            if rung.counterexample:
                lines = rung.counterexample.splitlines()
                label = "counterexample (shrunk)" if rung.shrunk else "failure"
                out.append(f"{indent}{label}: {lines[0]}")
                out.extend(f"{indent}  {more}" for more in lines[1:])
        passed = sum(r.status == "pass" for r in self.rungs)
        summary = (
            f"{passed} passed, {len(self.failed)} failed, {len(self.skipped)} skipped"
            f" in {self.seconds:.1f} s"
        )
        if self.encoding is not None:
            summary += f" ({self.encoding} encoding)"
        out += ["", summary]
        out += list(self.notes)
        return "\n".join(out) + "\n"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.2g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.3g}"


def _json_number(value: float | None) -> float | None | str:
    if value is None:
        return None
    if not math.isfinite(value):
        return str(value)  # JSON has no inf or nan
    return value
