"""`qrtc resources` and `qrtc scale`: the estimate against what the compiler builds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from qrtc.cli import main
from qrtc.errors import QrtError
from qrtc.frontend.parse import parse_file
from qrtc.numerics.block_matrix import assemble_rhs
from qrtc.numerics.conditioning import effective_condition_number
from qrtc.numerics.propagator import inverse_norm_bound, window_norms
from qrtc.passes.encode_block_system import encode_block_system
from qrtc.passes.invert_block_encoding import (
    MAX_DEGREE,
    invert_block_encoding,
    polynomial_error_for,
)
from qrtc.passes.read_out import classical_solution
from qrtc.pipeline import compile_spec
from qrtc.qsp.polynomial import inverse_polynomial_degree
from qrtc.resources.counted import count_gates, count_resources
from qrtc.resources.estimate import estimate_resources, formulas, history_norms
from qrtc.studies.scale import parse_range, scale_study

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BUILDABLE = [
    "tiny_robust",
    "robust_linreg",
    "l2_inactive",
    "csv_regression",
    "two_layer_quadratic",
    "sparse_features",
]


def _amplified(probability: float, rounds: int) -> float:
    """Success after ``rounds`` Grover iterations, by 2x2 rotation products (no closed form)."""
    angle = math.asin(math.sqrt(probability))
    rotation = np.array(
        [[math.cos(2 * angle), -math.sin(2 * angle)], [math.sin(2 * angle), math.cos(2 * angle)]]
    )
    state = np.array([math.cos(angle), math.sin(angle)])
    for _ in range(rounds):
        state = rotation @ state
    return float(state[1] ** 2)


@pytest.mark.parametrize(
    "name",
    [*BUILDABLE[:2], *(pytest.param(n, marks=pytest.mark.slow) for n in BUILDABLE[2:])],
)
def test_the_estimate_equals_what_the_compiler_builds(name: str) -> None:
    spec = parse_file(EXAMPLES / f"{name}.qrt")
    estimate = estimate_resources(spec)
    compilation = compile_spec(spec)
    system = compilation.block_system
    assert system is not None and compilation.problem is not None
    encoding = encode_block_system(system)
    counted = count_resources(encoding, depth_limit=0)
    assert estimate.one_query.gates == counted.gates
    assert estimate.one_query.qubits == counted.qubits
    assert estimate.alpha == pytest.approx(encoding.alpha, rel=1e-12)
    assert estimate.dim == system.dim

    solution = classical_solution(system)
    norm = float(np.linalg.norm(solution))
    assert estimate.solution_norm == pytest.approx(norm, rel=1e-8)
    error = polynomial_error_for(system, norm, compilation.problem.options.precision)
    kappa = effective_condition_number(system, encoding.alpha)
    assert estimate.kappa == pytest.approx(kappa[0], rel=1e-9)
    assert estimate.degree == inverse_polynomial_degree(kappa[0], error)
    if estimate.degree <= 2001:
        qsvt = invert_block_encoding(system, encoding, polynomial_error=error, kappa=kappa)
        assert estimate.degree == qsvt.degree
        rhs = float(np.linalg.norm(assemble_rhs(system)))
        predicted = qsvt.predicted_success_probability(norm, rhs)
        assert estimate.success_probability == pytest.approx(predicted, rel=1e-6)
        # k rounds reach success >= 1 - p, and k - 1 rounds do not do better.
        k = estimate.rounds
        assert _amplified(predicted, k) >= 1 - predicted
        assert k == 0 or _amplified(predicted, k - 1) < _amplified(predicted, k)
        gates, work = count_gates(qsvt.circuit)
        assert estimate.circuit.gates == gates
        assert estimate.queries == qsvt.degree * (2 * estimate.rounds + 1)


@pytest.mark.slow
def test_a_spec_too_large_to_simulate_agrees_query_by_query() -> None:
    # logistic_taylor: D_N = 16105, L too large for a dense kappa (Lanczos finds it) and its QSVT
    # degree beyond MAX_DEGREE; one use of U is still built and counted (~1 min) against the
    # formula.
    spec = parse_file(EXAMPLES / "logistic_taylor.qrt")
    estimate = estimate_resources(spec)
    assert estimate.kappa_source == "exact, Lanczos"
    system = compile_spec(spec).block_system
    assert system is not None
    # Lanczos's sigma_min cannot beat the window-norm bound on ||L^-1||.
    bound = inverse_norm_bound(window_norms(system.carleman), system.n_substeps, system.padding)
    assert estimate.alpha <= estimate.kappa <= estimate.alpha * max(1.0, bound) * (1 + 1e-9)
    assert estimate.degree > MAX_DEGREE  # why `qrtc run` refuses it
    counted = count_resources(encode_block_system(system), depth_limit=0)
    assert estimate.one_query.gates == counted.gates
    assert estimate.one_query.qubits == counted.qubits
    assert estimate.dim == system.dim


@pytest.mark.parametrize("horizon", [7, 40])
@pytest.mark.parametrize("squared", [True, False])
def test_the_doubled_history_norm_equals_the_sparse_solve(
    horizon: int, squared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    import qrtc.resources.estimate
    from qrtc.passes.assemble_block_system import assemble_block_system

    if not squared:  # the sparse recurrence, for lifted sizes too large to square
        monkeypatch.setattr(qrtc.resources.estimate, "_MAX_DENSE_HISTORY", 0)
    compilation = compile_spec(parse_file(EXAMPLES / "robust_linreg.qrt"), until="carleman")
    assert compilation.carleman is not None and compilation.problem is not None
    carleman = dataclasses.replace(compilation.carleman, horizon=horizon)
    system = assemble_block_system(carleman, options=compilation.problem.options)
    solution = classical_solution(system)
    rhs, norm, terminal = history_norms(carleman, system.padding)
    assert rhs == pytest.approx(float(np.linalg.norm(assemble_rhs(system))), rel=1e-12)
    assert norm == pytest.approx(float(np.linalg.norm(solution)), rel=1e-9)
    tail = solution[system.n_substeps * system.block_size :]
    assert terminal == pytest.approx(float(tail @ tail) / norm**2, rel=1e-9)


def test_paper_scale_counts_follow_the_sparse_family() -> None:
    spec = parse_file(EXAMPLES / "robust_linreg.qrt")
    small = estimate_resources(spec, horizon=10**6)
    large = estimate_resources(spec, horizon=10**6, params=10**9)
    assert small.kappa_source == "bound, spectral projector tail"
    assert not small.extrapolated and large.extrapolated
    # Queries do not depend on n; registers grow as log2 of the lifted size.
    assert large.queries == small.queries and large.degree == small.degree
    assert large.qubits["lifted"] == math.ceil(math.log2(large.lifted_size))
    assert large.n_qubits > small.n_qubits
    assert large.classical_operations == pytest.approx(small.classical_operations * 5e8)
    # Linear in T up to logs: kappa grows about 10x per 10x of horizon.
    ratio = estimate_resources(spec, horizon=10**5).kappa / small.kappa
    assert 0.08 < ratio < 0.12


def test_the_sympy_formulas_agree_with_the_numbers() -> None:
    import sympy as sp

    expressions = formulas()
    kappa, eps_p = 74.08, 3.2e-4
    degree = expressions["degree"]
    free = {s.name: s for s in degree.free_symbols}
    # Drive the symbolic degree through its kappa by fixing the window sum and the error.
    value = degree.subs(
        {
            free["alpha"]: kappa,
            free["Lambda_inf"]: 1,
            free["T"]: 1,
            free["K"]: 1,
            free["p"]: 0,
            free["epsilon"]: 2 * eps_p,
            free["gamma"]: 1,
            free["x_norm"]: 1,
        }
    )
    # With T = K = 1, p = 0, Lambda = 1: kappa_eff = alpha * 3.
    assert int(sp.N(value)) == inverse_polynomial_degree(3 * kappa, eps_p)
    assert str(expressions["classical_operations"]) == "T*(K*c_A + c_L)"


def test_cli_resources_prints_writes_and_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = str(EXAMPLES / "robust_linreg.qrt")
    args = ["resources", spec, "--set", "horizon=1e6", "--set", "params=1e9"]
    assert main([*args, "--json", "-o", str(tmp_path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "resources.json").read_text())
    assert printed["horizon"] == 10**6 and printed["params"] == 10**9
    assert printed["queries"] == printed["degree"] * (2 * printed["rounds"] + 1)
    assert main(["resources", spec]) == 0
    assert "queries to U" in capsys.readouterr().out
    assert main(["resources", spec, "--set", "horizon=1.5"]) == 2
    assert "expected an integer" in capsys.readouterr().err
    assert main(["resources", spec, "--set", "depth=3"]) == 2
    assert main(["resources", spec, "--set", "horizon=0"]) == 2


@pytest.mark.slow
def test_a_model_that_does_not_replicate_is_extrapolated_from_the_spec() -> None:
    spec = parse_file(EXAMPLES / "two_layer_quadratic.qrt")
    study = scale_study(spec, {"params": [9, 18, 36]})
    # n = 9 is the spec itself (kappa by Lanczos: dim L = 6019).
    assert [p.source for p in study.along("params")] == ["built", "extrapolated", "extrapolated"]
    assert {p.built_from for p in study.along("params")} == {"two_layer_quadratic.qrt"}
    assert any("W" in note and "not built" in note for note in study.notes)
    assert study.built_growth() is None


def test_a_known_kappa_gives_the_same_estimate_and_exact_kappa_refuses_a_bound() -> None:
    spec = parse_file(EXAMPLES / "robust_linreg.qrt")
    computed = estimate_resources(spec, params=10**6)
    reused = estimate_resources(
        spec, params=10**6, known_kappa=(computed.kappa, computed.kappa_source)
    )
    assert reused == computed
    with pytest.raises(QrtError, match="window-norm bound, not exact"):
        estimate_resources(spec, horizon=10**5, exact_kappa=True)


def test_parse_range() -> None:
    assert parse_range("horizon=2..1024") == ("horizon", [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
    axis, grid = parse_range("params=2..1e9")
    assert axis == "params" and grid[0] == 2 and grid[-1] == 10**9 and len(grid) < 12
    with pytest.raises(ValueError):
        parse_range("depth=1..2")
    with pytest.raises(ValueError):
        parse_range("horizon=9..2")


@pytest.mark.slow
def test_the_scale_study_marks_its_sources_and_finds_the_crossover(tmp_path: Path) -> None:
    spec = parse_file(EXAMPLES / "tiny_robust.qrt")
    study = scale_study(spec, {"horizon": [1, 2, 400, 10**6], "params": [2, 10**4, 10**9]})
    # T = 400: Lanczos on the 8 000 live rows; T = 10^6: the window bound.
    assert [p.source for p in study.along("horizon")] == ["built", "built", "built", "formula"]
    # Along n: the spec, then built family members (powers of two copies) until one stops
    # compiling, then formulas from the largest member with an exact kappa.
    along = study.along("params")
    assert [p.value for p in along] == [2, 4, 8, 16, 10**4, 10**9]
    assert [p.source for p in along] == ["built"] * 4 + ["extrapolated"] * 2
    assert [p.built_from for p in along[1:4]] == [f"tiny_robust_x{r}.qrt" for r in (2, 4, 8)]
    assert all(p.estimate.n_params == p.value for p in along)
    assert {p.built_from for p in along[4:]} == {along[3].built_from}
    assert any("support = all" in note for note in study.notes)
    assert any("beyond n = 16 are not built" in note for note in study.notes)
    assert study.built_growth() is not None and study.to_json()["built_query_exponent"] > 0
    crossing = study.crossover("params")
    assert (
        crossing is not None and crossing.estimate.queries < crossing.estimate.classical_operations
    )
    assert study.crossover("horizon") is None
    assert (
        main(
            [
                "scale",
                str(EXAMPLES / "tiny_robust.qrt"),
                "--over",
                "horizon=1..4",
                "--over",
                "params=2..1e6",
                "-o",
                str(tmp_path),
            ]
        )
        == 0
    )
    # The members are written out; each re-estimated from its file gives the study's point.
    written = {path.name for path in (tmp_path / "family").iterdir()}
    assert written == {f"tiny_robust_x{r}.qrt" for r in (2, 4, 8, 10)}  # n = 4, 8, 16 and 20
    again = estimate_resources(parse_file(tmp_path / "family" / "tiny_robust_x4.qrt"))
    assert (again.kappa, again.queries) == (along[2].estimate.kappa, along[2].estimate.queries)
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == [
        "family",
        "kappa_vs_horizon.png",
        "queries_vs_horizon.png",
        "queries_vs_params.png",
        "scale.json",
    ]
    assert main(["scale", str(EXAMPLES / "tiny_robust.qrt"), "--over", "horizon=4..1"]) == 2
