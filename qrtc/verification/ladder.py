r"""The ladder as data, and :func:`verify`, which climbs it on one spec.

Each rung compares a stage of the compilation with an independent reference (design.md §4,
"each rung tested against the one before, never against itself"), on inputs Hypothesis draws,
within a tolerance derived from a predicted bound. The rungs, in order:

====================  ==============================================  ===========================
rung                  compared                                        against
====================  ==============================================  ===========================
``assumptions``       paper.md §2 assumptions on the built system     their bounds
``maps``              maps $\mathcal A$, $\mathcal L$ at $z$          one reference PGD sub-step
``carleman``          $C\,\mathrm{lift}(u)$                           Kronecker expansion of $F$
``block-system``      ``spsolve(L, b)``                               forward recurrence
``trajectory``        $\theta_T$ from $\mathbf L^{-1}\mathbf b$      reference trainer
``oracles``           matrix rebuilt from $O_c, O_r, O_A$             $\mathbf L$
``block-encoding``    $\alpha\langle 0|U|0\rangle$ on columns         $\tilde{\mathbf L}$
``polynomial``        $xP(x)/s$                                       1, within $\varepsilon_P$
``phases``            QSP response                                    $P$
``qsvt``              post-selected qsim state                        $\sigma VP(\Sigma)W^\dagger b$
``qsim``              qsim                                            ``cirq.Simulator``
``shots``             success probability sampled from $N$ shots      the exact one
``qasm``              OpenQASM re-read by Qiskit                      cirq's circuit
``resources``         counted gates, qubits, queries                  analytic formulas
====================  ==============================================  ===========================
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from qrtc.frontend.parse import parse_file
from qrtc.ir.spec import Spec
from qrtc.pipeline import STAGE_NAMES, Stage
from qrtc.verification import dynamics, encoding, inversion, linear_system, output
from qrtc.verification.report import Finding, Rung, VerificationReport
from qrtc.verification.subject import EncodingChoice, Subject, Unavailable

__all__ = ["DEFAULT_MAX_QUBITS", "RUNG_NAMES", "RUNGS", "RungDefinition", "verify"]

DEFAULT_MAX_QUBITS = 20
"""The widest state vector a rung simulates by default: the QSVT circuit of
``examples/tiny_robust.qrt`` (18 qubits) fits, ``examples/robust_linreg.qrt``'s (25) does not."""


@dataclass(frozen=True, slots=True)
class RungDefinition:
    """A rung: its name, what it compares with what, the check and the stage it checks."""

    name: str
    compared: str
    against: str
    check: Callable[[Subject, int, int], Finding]
    stage: Stage
    """The stage of the driver's registry (:data:`qrtc.pipeline.STAGES`) the rung checks."""


RUNGS: tuple[RungDefinition, ...] = (
    RungDefinition(
        "assumptions",
        "paper.md §2 assumptions",
        "their bounds (qrtc report)",
        dynamics.assumptions,
        "block_system",
    ),
    RungDefinition(
        "maps", "maps A, L at z", "one exact reference PGD sub-step", dynamics.maps, "maps"
    ),
    RungDefinition(
        "carleman", "C lift(u)", "degree <= N part of lift(F(u))", dynamics.carleman, "carleman"
    ),
    RungDefinition(
        "block-system",
        "spsolve(L, b)",
        "forward recurrence over blocks",
        linear_system.block_system,
        "block_system",
    ),
    RungDefinition(
        "trajectory",
        "theta_T from L^-1 b",
        "reference trainer theta_T",
        linear_system.trajectory,
        "block_system",
    ),
    RungDefinition(
        "oracles", "L rebuilt from O_c, O_r, O_A", "L", encoding.oracles, "block_encoding"
    ),
    RungDefinition(
        "block-encoding",
        "alpha <0|U|0> e(j)",
        "column j of L~",
        encoding.block_encoding,
        "block_encoding",
    ),
    RungDefinition(
        "polynomial", "x P(x) / s", "1 on [1/kappa_eff, 1]", inversion.polynomial, "qsvt"
    ),
    RungDefinition(
        "phases",
        "Im<0|U_Phi(x)|0> (2x2 products)",
        "P(x) (Chebyshev sum)",
        inversion.phases,
        "qsvt",
    ),
    RungDefinition(
        "qsvt",
        "post-selected qsim state",
        "sign V P(Sigma) W^T b (numpy SVD)",
        inversion.qsvt,
        "simulation",
    ),
    RungDefinition(
        "qsim", "qsim amplitudes", "cirq.Simulator (complex128)", inversion.qsim, "simulation"
    ),
    RungDefinition(
        "shots",
        "success probability from N shots",
        "exact post-selection probability",
        inversion.shots,
        "readout",
    ),
    RungDefinition(
        "qasm",
        "OpenQASM 2.0 re-read by Qiskit",
        "cirq primitive circuit",
        output.qasm,
        "block_encoding",
    ),
    RungDefinition(
        "resources", "gates, qubits, queries counted", "analytic formulas", output.resources, "qsvt"
    ),
)
RUNG_NAMES: tuple[str, ...] = tuple(r.name for r in RUNGS)
"""Every rung, in ladder order."""
assert all(rung.stage in STAGE_NAMES for rung in RUNGS), "a rung names no stage of the registry"


def verify(
    spec: Spec | str | os.PathLike[str],
    *,
    rungs: Iterable[str] | None = None,
    examples: int = 20,
    seed: int = 0,
    max_qubits: int = DEFAULT_MAX_QUBITS,
    encoding: EncodingChoice = "auto",
    time_limit_s: float = 60.0,
    budget_s: float = 10.0,
    progress: Callable[[str, int, int], None] | None = None,
) -> VerificationReport:
    """Run the verification ladder (design.md §4) on a spec and report every rung.

    Args:
        spec: a parsed spec, or the path of a ``.qrt`` file.
        rungs: the rungs to run (names from :data:`RUNG_NAMES`); all by default.
        examples: Hypothesis examples per rung (rungs that simulate whole circuits run fewer,
            as many as fit their time budget, and say so).
        seed: seed of the Hypothesis search; the same seed repeats the same inputs.
        max_qubits: the widest state vector a rung may simulate; a rung that needs a wider one
            is skipped with the count ("skipped: 25 qubits > limit 20").
        encoding: the block encoding the circuit rungs check: ``"auto"`` (the narrower, as
            ``qrtc run`` picks), ``"structured"`` or ``"generic"``.
        time_limit_s: the longest single simulation a rung may start (qrtc run's time model).
        budget_s: how long a rung may keep drawing inputs; a rung that runs out of time says
            how many it measured (its first input always is).
        progress: called as ``progress(rung, index, total)`` before each rung runs.

    Returns:
        The report; ``report.passed`` is False when a rung failed (a violated assumption
        included). Skipped rungs are listed with the reason.

    Raises:
        QrtError: the spec has a mistake, or its compile options cannot be met (the same error
            ``qrtc compile`` gives). A spec the compiler refuses for an assumption is reported
            instead, as a failed ``assumptions`` rung.
        ValueError: an unknown rung name, or ``examples`` below 1.
    """
    selected = _selected(rungs)
    if examples < 1:
        raise ValueError(f"examples must be at least 1, not {examples!r}")
    started = time.perf_counter()
    if not isinstance(spec, Spec):
        spec = parse_file(os.fspath(spec))
    subject = Subject(
        spec,
        encoding_choice=encoding,
        max_qubits=max_qubits,
        time_limit_s=time_limit_s,
        budget_s=budget_s,
    )
    _ = subject.compilation  # a mistake in the spec raises here, before any rung
    if subject.refusal is not None:
        selected |= {"assumptions"}  # a refusal is reported whichever rungs were asked for
    chosen = [definition for definition in RUNGS if definition.name in selected]
    results = []
    for index, definition in enumerate(chosen):
        if progress is not None:
            progress(definition.name, index, len(chosen))
        results.append(_climb(definition, subject, examples, seed))
    built = subject.built_encoding
    return VerificationReport(
        file=spec.file,
        rungs=tuple(results),
        encoding=built.method if built is not None else None,
        examples=examples,
        seed=seed,
        max_qubits=max_qubits,
        seconds=time.perf_counter() - started,
    )


def _selected(rungs: Iterable[str] | None) -> frozenset[str]:
    if rungs is None:
        return frozenset(RUNG_NAMES)
    names = [rungs] if isinstance(rungs, str) else list(rungs)
    unknown = sorted(set(names) - set(RUNG_NAMES))
    if unknown:
        raise ValueError(f"unknown rung {unknown[0]!r}; rungs: {', '.join(RUNG_NAMES)}")
    return frozenset(names)


def _climb(definition: RungDefinition, subject: Subject, examples: int, seed: int) -> Rung:
    started = time.perf_counter()
    base = Rung(
        name=definition.name,
        compared=definition.compared,
        against=definition.against,
        status="skipped",
        detail="not run",
    )
    try:
        finding = definition.check(subject, examples, seed)
    except Unavailable as reason:
        return replace(base, detail=str(reason), seconds=time.perf_counter() - started)
    worst = finding.worst
    detail = finding.detail
    if finding.out_of_time:
        note = f"{finding.cases} of {examples} examples in the {subject.budget_s:g} s budget"
        detail = f"{detail}; {note}" if detail else note
    return replace(
        base,
        compared=finding.compared or definition.compared,
        against=finding.against or definition.against,
        cases=finding.cases,
        worst_error=worst.error if worst is not None else None,
        tolerance=worst.tolerance if worst is not None else None,
        tolerance_source=finding.tolerance_source,
        status="fail" if finding.failure is not None else "pass",
        detail=detail,
        counterexample=finding.counterexample
        or (finding.failure.render() if finding.failure is not None else None),
        shrunk=finding.shrunk and finding.failure is not None,
        seconds=time.perf_counter() - started,
    )
