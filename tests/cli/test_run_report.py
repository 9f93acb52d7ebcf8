"""``qrtc run`` end to end: the simulated QSVT state against numpy's SVD of L, the Carleman
solution and the reference trainer (design.md §4, the QsvtCircuit rung), and the refusals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
from numpy.polynomial import chebyshev

import qrtc
from qrtc.backends.simulate import SimulationTooLarge, check_simulation_time
from qrtc.cli import main
from qrtc.cli.run_report import RunReport, run_spec
from qrtc.numerics.block_matrix import assemble_matrix, assemble_rhs
from qrtc.pipeline import STAGE_NAMES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TINY = EXAMPLES / "tiny_robust.qrt"


@pytest.fixture(scope="module")
def tiny() -> RunReport:
    return run_spec(qrtc.parse_file(TINY))


@pytest.mark.slow
def test_the_simulated_state_is_the_polynomial_of_L_by_numpy_svd(tiny: RunReport) -> None:
    """sigma V P(Sigma) W^dagger |b> from numpy's SVD of L-tilde / alpha, amplitude by amplitude."""
    system, qsvt = tiny.system, tiny.qsvt
    encoding = qsvt.encoding
    size = 1 << encoding.n_system_qubits
    padded = np.eye(size)
    embedded = encoding.embedded_indices()
    padded[np.ix_(embedded, embedded)] = assemble_matrix(system).toarray()
    w, sigma, vh = np.linalg.svd(padded / encoding.alpha)
    block = vh.T @ np.diag(chebyshev.chebval(sigma, qsvt.coefficients)) @ w.T
    rhs = np.zeros(size)
    rhs[embedded] = assemble_rhs(system)
    expected = qsvt.sign * block @ (rhs / np.linalg.norm(rhs))
    np.testing.assert_allclose(tiny.simulation.amplitudes, expected, atol=2e-5)


@pytest.mark.slow
def test_theta_matches_the_reference_trainer_within_the_predicted_budget(tiny: RunReport) -> None:
    readout = tiny.readout
    for term in readout.errors:
        assert term.predicted is not None
        assert term.measured <= term.predicted, term
    precision = tiny.compilation.problem.options.precision
    assert readout.error("total").measured <= precision
    # The Carleman solution is L^-1 b by scipy, read out independently of the circuit.
    x = scipy.linalg.solve(assemble_matrix(tiny.system).toarray(), assemble_rhs(tiny.system))
    np.testing.assert_allclose(readout.theta_carleman, tiny.system.read_theta(x), atol=1e-12)


@pytest.mark.slow
def test_success_probability_is_predicted_to_the_polynomial_error(tiny: RunReport) -> None:
    readout, qsvt = tiny.readout, tiny.qsvt
    relative = abs(readout.success_probability / readout.predicted_success_probability - 1)
    assert relative <= 3 * qsvt.polynomial_error
    # The polynomial was built for this: well below Childs-Kothari-Somma at equal error.
    assert qsvt.degree < 0.75 * qsvt.reference_degree
    assert qsvt.phase_residual < 1e-12


@pytest.mark.slow
def test_sampled_norm_is_within_its_standard_error() -> None:
    shots = 20_000
    report = run_spec(qrtc.parse_file(TINY), shots=shots, seed=5)
    readout = report.readout
    p = readout.success_probability
    assert readout.sampled_success_probability is not None
    spread = math.sqrt(p * (1 - p) / shots)
    assert abs(readout.sampled_success_probability - p) <= 5 * spread
    term = readout.error("readout")
    assert term.predicted is not None and 0 < term.measured <= 5 * term.predicted


@pytest.mark.slow
def test_qsim_and_cirq_simulator_agree_on_the_whole_run() -> None:
    report = run_spec(qrtc.parse_file(TINY), cross_check=True)
    assert report.cross_check is not None and report.cross_check < 1e-5


def test_too_slow_a_simulation_is_refused_before_it_is_built() -> None:
    with pytest.raises(SimulationTooLarge, match="2,000,000 gates on 30 qubits") as raised:
        check_simulation_time(2_000_000, 30, limit_s=600)
    assert "--emit resources" in (raised.value.hint or "")


@pytest.mark.slow
def test_the_table_has_every_row_the_issue_asks_for(tiny: RunReport) -> None:
    table = tiny.to_table()
    for row in (
        "theta_T reference trainer",
        "theta_T Carleman",
        "theta_T quantum",
        "normalised state",
        "carleman",
        "polynomial",
        "readout",
        "kappa_eff",
        "polynomial degree",
        "success probability",
        "qubits",
        "gates",
        *STAGE_NAMES,
    ):
        assert row in table


@pytest.mark.slow
def test_cli_run_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # One weight instead of two: the same pipeline on 15 qubits, a few times faster.
    text = TINY.read_text(encoding="utf-8")
    text = text.replace("theta[2] = [0.3, -0.1]", "theta[1] = [0.3]").replace("x[2]", "x[1]")
    spec = tmp_path / "scalar.qrt"
    spec.write_text(text.replace("[0.5, -0.3] -> 0.2", "[0.5] -> 0.2"), encoding="utf-8")
    assert main(["run", str(spec), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["qsvt"]["degree"] % 2 == 1
    assert set(report["errors"]) == {"carleman", "polynomial", "readout", "total"}
    assert report["errors"]["total"]["measured"] <= report["errors"]["total"]["predicted"]


def test_cli_refuses_a_circuit_too_wide_for_memory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(EXAMPLES / "logistic_taylor.qrt"), "--no-progress"]) == 2
    message = capsys.readouterr().err
    assert "qubits needs" in message and "--emit resources" in message
    assert "Traceback" not in message


@pytest.mark.slow
@pytest.mark.parametrize("spec", sorted(EXAMPLES.glob("*.qrt")), ids=lambda path: path.stem)
def test_every_shipped_example_runs_or_is_refused_before_simulating(spec: Path) -> None:
    """Simulated where it fits the default limits, else refused with the figures, never a crash."""
    try:
        report = run_spec(qrtc.parse_file(spec))
    except SimulationTooLarge as refusal:
        assert "qubits" in str(refusal) and "--emit resources" in (refusal.hint or "")
        return
    total = report.readout.error("total")
    assert total.predicted is not None and total.measured <= total.predicted
