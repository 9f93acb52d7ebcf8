"""The pipeline runs every stage on every shipped example that fits, verifying each IR."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import cirq
import numpy as np
import pytest
from hypothesis import event, given, settings
from strategies import specs

import qrtc
from qrtc.ir.qsvt import QsvtCircuit
from qrtc.numerics.block_matrix import assemble_matrix, assemble_rhs
from qrtc.pipeline import CLASSICAL_STAGES, STAGE_NAMES, STAGES, Stage, compile_spec
from qrtc.verification.subject import Subject, Unavailable

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.qrt"))


@pytest.mark.parametrize("until", CLASSICAL_STAGES)
def test_compile_stops_at_the_stage_asked_for(until: Stage) -> None:
    spec = qrtc.parse_file(str(ROOT / "examples" / "robust_linreg.qrt"))
    result = compile_spec(spec, until=until)
    reached = [stage for stage in STAGE_NAMES if result.is_built(stage)]
    assert reached == list(STAGE_NAMES[: STAGE_NAMES.index(until) + 1])
    later = STAGE_NAMES[STAGE_NAMES.index(until) + 1 :]
    for stage in later:
        with pytest.raises(ValueError, match="past this compilation's last"):
            result.stage(stage)


def test_the_registry_is_the_one_list_of_stage_names() -> None:
    assert tuple(entry.name for entry in STAGES) == STAGE_NAMES
    assert STAGE_NAMES == (
        "problem",
        "trajectory",
        "maps",
        "carleman",
        "block_system",
        "block_encoding",
        "qsvt",
        "simulation",
        "readout",
    )
    # The verification rungs and --emit read it.
    from qrtc.cli.arguments import EMIT_CHOICES
    from qrtc.verification.ladder import RUNGS

    assert {rung.stage for rung in RUNGS} <= set(STAGE_NAMES)
    assert {entry.cli_name for entry in STAGES} <= set(EMIT_CHOICES)


def test_a_stage_is_built_on_first_use_once_with_the_ones_before_it() -> None:
    calls: list[str] = []
    compilation = qrtc.compile(
        ROOT / "examples" / "robust_linreg.qrt", on_stage=lambda s, i, n: calls.append(s)
    )
    assert calls == []  # nothing is built before it is asked for
    system = compilation.block_system
    assert calls == list(CLASSICAL_STAGES)
    assert compilation.block_system is system  # kept, not rebuilt
    assert compilation.maps is compilation.maps
    assert calls == list(CLASSICAL_STAGES)
    assert set(compilation.seconds) == set(CLASSICAL_STAGES)


def test_the_qsvt_circuit_is_reached_without_simulating() -> None:
    compilation = qrtc.compile(ROOT / "examples" / "tiny_robust.qrt", until="qsvt")
    qsvt = compilation.qsvt
    assert qsvt.degree % 2 == 1 and qsvt.encoding is compilation.block_encoding
    assert not compilation.is_built("simulation")
    with pytest.raises(ValueError, match="past"):
        _ = compilation.simulation


def test_a_failed_stage_raises_the_same_error_again() -> None:
    unstable = (ROOT / "examples" / "robust_linreg.qrt").read_text(encoding="utf-8")
    spec = qrtc.parse(unstable.replace("lr = 0.2", "lr = 40"))
    compilation = qrtc.compile(spec)
    with pytest.raises(qrtc.QrtError) as first:
        _ = compilation.block_system
    with pytest.raises(qrtc.QrtError) as second:
        _ = compilation.block_system
    assert second.value is first.value
    assert compilation.is_built("maps") and not compilation.is_built("block_system")


def test_unknown_options_are_refused() -> None:
    with pytest.raises(TypeError):
        qrtc.compile(ROOT / "examples" / "tiny_robust.qrt", encodnig="generic")
    with pytest.raises(ValueError, match="encoding must be one of"):
        qrtc.compile(ROOT / "examples" / "tiny_robust.qrt", encoding="dense")


@pytest.mark.parametrize(
    "spec",
    [p for p in EXAMPLES if p.stem in ("robust_linreg", "l2_inactive", "csv_regression")],
    ids=lambda path: path.stem,
)
def test_terminal_block_reproduces_the_reference_trainer(spec: Path) -> None:
    """spsolve(L, b), read at the terminal block, is θ_T of the exact trainer within the
    truncation error the Carleman pass reports (paper.md §8 item 4)."""
    import scipy.sparse.linalg

    result = compile_spec(qrtc.parse_file(str(spec)), verify=True)
    assert result.block_system is not None and result.carleman is not None
    assert result.trajectory is not None
    system = result.block_system
    solution = scipy.sparse.linalg.spsolve(assemble_matrix(system).tocsc(), assemble_rhs(system))
    theta = system.read_theta(solution)
    error = float(np.linalg.norm(theta - result.trajectory.final_theta))
    assert error <= result.carleman.truncation_error * (1 + 1e-6) + 1e-12
    assert error <= result.problem.options.precision  # type: ignore[union-attr]


def test_unknown_stage_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="unknown stage"):
        compile_spec(qrtc.parse(""), until="circuit")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown stage"):
        qrtc.compile(ROOT / "examples" / "tiny_robust.qrt").stage("circuit")  # type: ignore[arg-type]


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(spec=specs())
def test_generated_specs_lower_to_a_system_whose_terminal_block_is_the_trainer(
    spec: qrtc.Spec,
) -> None:
    """For generated specs the compiler either refuses with a QrtError (an assumption broken,
    an order that cannot be built) or builds an L whose solution's terminal θ-block is the
    exact trainer's θ_T within the a-priori truncation bound the Carleman pass reports."""
    import scipy.sparse.linalg

    try:
        result = compile_spec(spec, verify=True)
    except (qrtc.AssumptionError, qrtc.CompileError) as refusal:
        assert refusal.span is not None or refusal.hint, refusal
        event(f"refused: {type(refusal).__name__}")
        return
    system, carleman, trajectory = result.block_system, result.carleman, result.trajectory
    assert system is not None and carleman is not None and trajectory is not None
    if system.dim > 20_000:
        event("too large to solve in a test")
        return
    event("solved")
    solution = scipy.sparse.linalg.spsolve(assemble_matrix(system).tocsc(), assemble_rhs(system))
    error = float(np.linalg.norm(system.read_theta(solution) - trajectory.final_theta))
    scale = max(1.0, float(np.linalg.norm(trajectory.final_theta)))
    if carleman.truncation_error is not None:
        assert error <= carleman.truncation_error + 1e-9 * scale
    if carleman.truncation_error_bound is not None:
        assert error <= carleman.truncation_error_bound * (1 + 1e-9) + 1e-9 * scale


def _qsvt_or_refusal(build: Callable[[], object]) -> object:
    try:
        return build()
    except (qrtc.QrtError, Unavailable) as refusal:
        return str(refusal).splitlines()[0] if isinstance(refusal, Unavailable) else refusal.message


@pytest.mark.parametrize(
    "spec",
    [p if p.stem == "tiny_robust" else pytest.param(p, marks=pytest.mark.slow) for p in EXAMPLES],
    ids=lambda path: path.stem,
)
def test_run_and_verify_build_the_same_encoding_polynomial_and_circuit(spec: Path) -> None:
    """What ``qrtc verify`` checks is what ``qrtc run`` builds (same options as the CLI's
    defaults): the encoding, the polynomial, its phases and the QSVT circuit, or the same
    refusal."""
    run = qrtc.compile(spec, until="qsvt", encoding="auto", time_limit_s=600.0)
    subject = Subject(qrtc.parse_file(spec))
    built = _qsvt_or_refusal(lambda: run.qsvt)
    checked = _qsvt_or_refusal(lambda: subject.qsvt)
    if not isinstance(built, QsvtCircuit) or not isinstance(checked, QsvtCircuit):
        assert built == checked
        return
    assert checked.encoding.method == built.encoding.method
    assert checked.encoding.alpha == built.encoding.alpha
    assert _operations(checked.encoding.circuit) == _operations(built.encoding.circuit)
    assert checked.degree == built.degree and checked.kappa == built.kappa
    np.testing.assert_array_equal(checked.phases, built.phases)
    assert _operations(checked.circuit) == _operations(built.circuit)


def _operations(circuit: cirq.AbstractCircuit) -> list[tuple[str, tuple[cirq.Qid, ...]]]:
    """Each operation's full repr (tables included: gates holding arrays have no value
    equality) and qubits, in order."""
    seen: dict[int, str] = {}  # the QSVT circuit repeats U's gate objects d times
    operations = []
    with np.printoptions(threshold=sys.maxsize):
        for op in circuit.all_operations():
            if id(op.gate) not in seen:
                seen[id(op.gate)] = repr(op.gate)
            operations.append((seen[id(op.gate)], op.qubits))
    return operations
