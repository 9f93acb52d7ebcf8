"""The assumption report: measured values against an independent computation, and refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qrtc
from qrtc.backends.assumptions import assess_assumptions
from qrtc.numerics.block_matrix import assemble_matrix
from qrtc.pipeline import compile_spec

ROOT = Path(__file__).resolve().parents[2]

STABLE = """
param theta = 0.5
input x
label y
data = inline { 1.0 -> 0.2 }
predict f = theta * x
loss l = 0.5 * (f - y)^2
attack pgd { radius = 1e12; step = 1e-12; steps = 1 }
train { lr = 0.1; horizon = HORIZON }
compile { carleman_order = 1; scale = 1; padding = 0 }
"""


@pytest.mark.slow
def test_every_shipped_linear_example_holds() -> None:
    for name in ("robust_linreg", "l2_inactive", "csv_regression"):
        result = compile_spec(qrtc.parse_file(str(ROOT / "examples" / f"{name}.qrt")))
        assert result.block_system is not None and result.problem is not None
        report = assess_assumptions(result.block_system, precision=result.problem.options.precision)
        assert report.held, report.to_text()


def test_kappa_is_the_dense_condition_number() -> None:
    result = compile_spec(qrtc.parse(STABLE.replace("HORIZON", "4")))
    assert result.block_system is not None
    report = assess_assumptions(result.block_system, precision=1e-3)
    (kappa,) = [c for c in report.checks if c.name.startswith("condition number")]
    dense = assemble_matrix(result.block_system).toarray()
    assert kappa.measured is not None
    np.testing.assert_allclose(kappa.measured, np.linalg.cond(dense), rtol=1e-10)
    assert kappa.held


def test_an_unstable_spec_is_reported_violated() -> None:
    """lr = 25 makes theta' = theta - 25 x (x theta - y) expand by |1 - 25| per learner step."""
    unstable = STABLE.replace("HORIZON", "6").replace("lr = 0.1", "lr = 25")
    result = compile_spec(qrtc.parse(unstable))
    assert result.block_system is not None
    report = assess_assumptions(result.block_system, precision=1e-3)
    assert not report.held
    names = {check.name for check in report.violations}
    assert "A1(b) propagator bound Lambda" in names
    assert "VIOLATED" in report.to_text()


def test_estimated_kappa_agrees_with_the_dense_one() -> None:
    """Force the estimate path on a system small enough for numpy's dense cond."""
    result = compile_spec(qrtc.parse_file(str(ROOT / "examples" / "l2_inactive.qrt")))
    assert result.block_system is not None
    report = assess_assumptions(result.block_system, precision=1e-3, max_svd_dim=0)
    (kappa,) = [c for c in report.checks if c.name.startswith("condition number")]
    assert kappa.note.startswith("estimated") and kappa.measured is not None
    dense = np.linalg.cond(assemble_matrix(result.block_system).toarray())
    np.testing.assert_allclose(kappa.measured, dense, rtol=1e-4)
