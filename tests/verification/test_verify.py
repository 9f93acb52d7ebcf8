"""``qrtc verify``: the verification ladder on a user's spec (design.md §4).

The shipped examples pass every rung that fits, a rung too wide says so, a spec that breaks an
assumption fails the assumption rung (and only it), the report has a stable JSON form, the CLI
exits 0 / 1 / 2, and the Hypothesis driver shrinks a failure. That each rung *can* fail is
shown in ``test_verify_mutations.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

import qrtc
import qrtc.testing
from qrtc.cli import main
from qrtc.verification import RUNG_NAMES, VerificationReport, verify
from qrtc.verification.search import Measurement, search, vectors

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TINY = EXAMPLES / "tiny_robust.qrt"
LARGE_LR = EXAMPLES / "violations" / "large_lr.qrt"

# The smallest spec with every stage: one weight, one sample, one outer step of one PGD step,
# N = 1, p = 1: L is 12 x 12 and its QSVT circuit has 15 qubits and degree 39 (0.1 s in qsim).
MICRO = """
param theta[1] = [0.3]
input x[1]
label y
data = inline { [0.5] -> 0.2 }
predict f = dot(theta, x)
loss l = 0.5 * (f - y)^2
attack pgd { norm = linf; radius = 0.5; step = 0.1; steps = 1; start = warm; grad = plain }
train { lr = 0.5; horizon = 1 }
compile { carleman_order = 1; scale = auto; padding = 1; precision = 0.05 }
"""

# The linf clip starts binding at t = 1 (tests/passes/test_derive_polynomial_maps.py works it
# out by hand): the dynamics pass refuses the spec.
CLIP_CHANGES = """
param theta[1] = [1]
input x[1]
label y
data = inline { [1] -> 0 }
predict f = dot(theta, x)
loss l = 0.5 * (f - y)^2
attack pgd { norm = linf; radius = 0.25; step = 0.1; steps = 2; grad = plain }
train { lr = 0.001; horizon = 3 }
"""

# Every rung but the simulations and the QASM export: well under a second on tiny_robust.
CHEAP = [n for n in RUNG_NAMES if n not in ("qsvt", "qsim", "shots", "qasm")]


def micro_spec() -> qrtc.Spec:
    return qrtc.parse(MICRO)


@pytest.fixture(scope="module")
def micro_report() -> VerificationReport:
    return verify(micro_spec(), examples=4)


@pytest.mark.slow
def test_the_micro_spec_passes_every_rung(micro_report: VerificationReport) -> None:
    assert [r.name for r in micro_report.rungs] == list(RUNG_NAMES)
    for rung in micro_report.rungs:
        assert rung.status == "pass", rung
        assert rung.cases >= 1 and rung.tolerance_source and rung.counterexample is None
        assert rung.worst_error is None or rung.worst_error <= rung.tolerance  # type: ignore[operator]
    assert micro_report.passed and micro_report.encoding == "generic"


@pytest.mark.slow
def test_tolerances_come_from_bounds_and_are_not_vacuous(micro_report: VerificationReport) -> None:
    """Each tolerance is derived (its source names the bound), and the rounding bounds sit
    within a few orders of magnitude of double precision: a tolerance that lets anything pass
    would prove nothing."""
    sources = {r.name: r.tolerance_source for r in micro_report.rungs}
    assert "gamma_n" in sources["maps"] and "gamma_n" in sources["carleman"]
    assert "kappa" in sources["block-system"] and "truncation bound" in sources["trajectory"]
    assert "eps_P" in sources["polynomial"] and "u_32" in sources["qsvt"]
    assert "Hoeffding" in sources["shots"]
    assert "exact" in sources["resources"]
    for name in ("maps", "carleman", "oracles", "block-encoding", "phases", "qasm"):
        tolerance = micro_report.rung(name).tolerance
        assert tolerance is not None and 0 < tolerance < 1e-9, name
    trajectory = micro_report.rung("trajectory")
    assert trajectory.worst_error is not None and trajectory.worst_error > 0
    assert micro_report.rung("resources").tolerance == 0


def test_tiny_robust_passes_the_fast_rungs() -> None:
    report = verify(TINY, rungs=CHEAP, examples=10)
    assert report.passed and not report.skipped
    assert report.rung("block-encoding").compared.endswith("(cirq.Simulator)")
    assert report.rung("polynomial").detail.startswith("degree 87")


def test_an_attack_restricted_to_the_data_support_passes_the_dynamics_rungs() -> None:
    # The maps rung must draw states the attack reaches: delta off the support stays 0.
    report = verify(
        EXAMPLES / "sparse_features.qrt", rungs=["maps", "carleman", "trajectory"], examples=10
    )
    assert report.passed and not report.skipped


@pytest.mark.slow
def test_tiny_robust_passes_every_rung() -> None:
    """The README's example: every rung, nothing skipped, in about half a minute."""
    report = qrtc.testing.assert_verified(TINY, allow_skipped=False)
    assert len(report.rungs) == len(RUNG_NAMES)


@pytest.mark.slow
def test_robust_linreg_passes_what_fits_and_skips_the_rest() -> None:
    report = verify(EXAMPLES / "robust_linreg.qrt")
    assert report.passed
    skipped = {r.name: r.detail for r in report.skipped}
    assert skipped == dict.fromkeys(("qsvt", "qsim", "shots"), "25 qubits > limit 20")
    assert report.rung("block-encoding").compared.endswith("(basis simulator)")


def test_a_rung_too_wide_is_skipped_with_its_qubit_count() -> None:
    report = verify(micro_spec(), rungs=["polynomial", "qsvt", "qsim"], max_qubits=10)
    assert report.passed  # skipped is not failed ...
    assert [r.status for r in report.rungs] == ["pass", "skipped", "skipped"]
    assert report.rung("qsvt").detail == "15 qubits > limit 10"
    table = report.to_table()
    assert "skipped: 15 qubits > limit 10" in table  # ... and never silent
    assert "1 passed, 0 failed, 2 skipped" in table
    assert report.to_json()["skipped"] == ["qsvt", "qsim"]


@pytest.mark.slow
def test_json_schema(micro_report: VerificationReport) -> None:
    payload = json.loads(json.dumps(micro_report.to_json()))
    assert payload["ok"] is True and payload["failed"] == [] and payload["skipped"] == []
    assert payload["encoding"] == "generic" and payload["examples"] == 4 and payload["seed"] == 0
    keys = {
        "name",
        "compared",
        "against",
        "cases",
        "worst_error",
        "tolerance",
        "tolerance_source",
        "status",
        "detail",
        "counterexample",
        "shrunk",
        "seconds",
    }
    for rung in payload["rungs"]:
        assert set(rung) == keys
        assert rung["status"] in ("pass", "fail", "skipped")
        assert isinstance(rung["cases"], int)
        assert rung["tolerance"] is None or isinstance(rung["tolerance"], float | int)


def test_the_same_seed_draws_the_same_inputs() -> None:
    first, second = (verify(micro_spec(), rungs=["maps", "carleman"], seed=7) for _ in range(2))
    for a, b in zip(first.rungs, second.rungs, strict=True):
        assert (a.cases, a.worst_error, a.tolerance) == (b.cases, b.worst_error, b.tolerance)


@pytest.mark.slow
def test_a_spec_breaking_an_assumption_fails_only_the_assumption_rung() -> None:
    """large_lr compiles (the stages are correct) but its propagator bound is 11.7 > 10."""
    report = verify(LARGE_LR, rungs=CHEAP, examples=5)
    assert not report.passed
    assert [r.name for r in report.failed] == ["assumptions"]
    rung = report.rung("assumptions")
    assert rung.worst_error == pytest.approx(11.69, abs=0.01) and rung.tolerance == 10
    assert rung.counterexample is not None
    assert rung.counterexample.startswith("violated: A1(b) propagator bound Lambda")
    assert not rung.shrunk and "failure: violated" in report.to_table()


def test_a_spec_the_compiler_refuses_fails_the_assumption_rung_with_its_message() -> None:
    report = verify(qrtc.parse(CLIP_CHANGES), rungs=["maps", "qsvt"])
    # the assumption rung is reported although it was not asked for
    assert [r.name for r in report.rungs] == ["assumptions", "maps", "qsvt"]
    rung = report.rung("assumptions")
    assert rung.status == "fail" and rung.counterexample is not None
    assert "active set changes" in rung.counterexample and "^" in rung.counterexample
    for name in ("maps", "qsvt"):
        assert report.rung(name).status == "skipped"
        assert "refused" in report.rung(name).detail


def test_a_mistake_in_the_spec_is_a_qrt_error() -> None:
    with pytest.raises(qrtc.QrtError, match="unknown name 'thetta'"):
        verify(EXAMPLES / "bad" / "unknown_name.qrt")
    with pytest.raises(ValueError, match="unknown rung 'mapz'"):
        verify(micro_spec(), rungs=["mapz"])


@pytest.mark.slow
def test_assert_verified_returns_the_report_and_assert_rung_passes_the_rung() -> None:
    report = qrtc.testing.assert_verified(micro_spec(), rungs=["maps", "oracles"], examples=3)
    assert [r.status for r in report.rungs] == ["pass", "pass"]
    rung = qrtc.testing.assert_rung_passes(micro_spec(), "qsvt", examples=2)
    assert rung.name == "qsvt" and rung.status == "pass"
    with pytest.raises(AssertionError, match="rung\\(s\\) skipped: qsvt") as raised:
        qrtc.testing.assert_rung_passes(micro_spec(), "qsvt", max_qubits=10)
    assert "skipped: 15 qubits > limit 10" in str(raised.value)
    with pytest.raises(AssertionError, match="rung\\(s\\) failed: assumptions"):
        qrtc.testing.assert_verified(LARGE_LR, rungs=["assumptions"])


def test_qrtc_exports_the_entry_point_lazily() -> None:
    assert qrtc.verify is verify and qrtc.VerificationReport is VerificationReport
    code = "import sys, qrtc; print('cirq' in sys.modules, 'hypothesis' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.split() == ["False", "False"]


# -- the command --------------------------------------------------------------------------------


def test_cli_prints_the_table_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", str(TINY), "--rungs", "maps,trajectory", "--examples", "5", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "verification ladder (design.md §4), 5 Hypothesis examples per rung, seed 0" in out
    assert "maps " in out and "trajectory " in out and "2 passed, 0 failed, 0 skipped" in out


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(TINY), "--rungs", "carleman", "--seed", "3", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is True and payload["seed"] == 3
    assert [r["name"] for r in payload["rungs"]] == ["carleman"]


def test_cli_exits_1_when_a_rung_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(LARGE_LR), "--rungs", "assumptions", "--no-progress"]) == 1
    assert "failure: violated: A1(b) propagator bound Lambda" in capsys.readouterr().out


def test_cli_exits_2_on_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(EXAMPLES / "bad" / "unknown_name.qrt")]) == 2
    assert "unknown name 'thetta'" in capsys.readouterr().err
    assert main(["verify", str(TINY), "--rungs", "maps,bogus", "--no-progress"]) == 2
    assert "unknown rung 'bogus'" in capsys.readouterr().err
    assert main(["verify", str(EXAMPLES / "bad" / "unknown_name.qrt"), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["verify", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "usage: qrtc verify" in out and "--max-qubits" in out
    listed = " ".join(out.split())  # argparse wraps the help text
    for name in RUNG_NAMES:
        assert f" {name}," in listed or f" {name} " in listed, name


# -- the Hypothesis driver ----------------------------------------------------------------------


def test_search_keeps_the_worst_case_and_shrinks_a_failure() -> None:
    def measure(vector: np.ndarray) -> Measurement:
        return Measurement(float(np.max(vector)), 0.5, "largest entry")

    outcome = search(vectors(8), measure, describe=repr, examples=50, seed=1)
    assert outcome.failure is not None and outcome.worst is not None
    assert outcome.worst.measurement.error >= outcome.failure.measurement.error > 0.5
    shrunk = eval(outcome.failure.input, {"array": np.array})  # repr of the shrunk vector
    assert np.count_nonzero(shrunk) == 1  # every entry but the one that fails shrank to 0


def test_search_measures_each_input_once_and_reports_a_crash_as_a_failure() -> None:
    calls: list[int] = []

    def measure(value: int) -> Measurement:
        calls.append(value)
        if value >= 10:
            raise ZeroDivisionError("boom")
        return Measurement(0.0, 1.0)

    outcome = search(st.integers(0, 100), measure, describe=str, examples=30, seed=0)
    assert len(calls) == len(set(calls)) == outcome.cases
    assert outcome.failure is not None and outcome.failure.input == "10"
    assert "raised ZeroDivisionError: boom" in outcome.failure.render()


def test_search_stops_drawing_when_its_time_budget_is_spent() -> None:
    outcome = search(
        st.integers(0, 10**6),
        lambda value: Measurement(0.0, 1.0),
        describe=str,
        examples=200,
        seed=0,
        budget_s=0.0,
    )
    assert outcome.cases == 1 and outcome.out_of_time and outcome.failure is None
