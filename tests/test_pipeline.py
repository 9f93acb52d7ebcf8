"""The pipeline runs every stage on every shipped example that fits, verifying each IR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from strategies import specs

import qrtc
from qrtc.pipeline import STAGES, compile_spec

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.qrt"))


@pytest.mark.parametrize("until", STAGES)
def test_compile_stops_at_the_stage_asked_for(until: str) -> None:
    result = compile_spec(
        qrtc.parse_file(str(ROOT / "examples" / "robust_linreg.qrt")), until=until
    )  # type: ignore[arg-type]
    reached = [stage for stage in STAGES if getattr(result, stage) is not None]
    assert reached == list(STAGES[: STAGES.index(until) + 1])  # type: ignore[arg-type]


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
    solution = scipy.sparse.linalg.spsolve(system.to_scipy().tocsc(), system.rhs())
    theta = system.read_theta(solution)
    error = float(np.linalg.norm(theta - result.trajectory.final_theta))
    assert error <= result.carleman.truncation_error * (1 + 1e-6) + 1e-12
    assert error <= result.problem.options.precision  # type: ignore[union-attr]


def test_unknown_stage_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="unknown stage"):
        compile_spec(qrtc.parse(""), until="circuit")  # type: ignore[arg-type]


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
    solution = scipy.sparse.linalg.spsolve(system.to_scipy().tocsc(), system.rhs())
    error = float(np.linalg.norm(system.read_theta(solution) - trajectory.final_theta))
    scale = max(1.0, float(np.linalg.norm(trajectory.final_theta)))
    if carleman.truncation_error is not None:
        assert error <= carleman.truncation_error + 1e-9 * scale
    if carleman.truncation_error_bound is not None:
        assert error <= carleman.truncation_error_bound * (1 + 1e-9) + 1e-9 * scale
