"""Every stage's IR: ``verify()`` passes on what the pipeline builds, fails on a corrupted copy,
and ``to_text()`` matches the golden file ``tests/golden/<example>.<stage>.txt``.

Regenerate the goldens with ``pytest tests/ir -m 'slow or not slow' --update-goldens`` and review
the diff like code.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cirq
import numpy as np
import pytest
import scipy.sparse

import qrtc
from qrtc.backends.simulate import PostselectedState
from qrtc.ir.block_encoding import IndexMap
from qrtc.ir.readout import ErrorTerm, Readout

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
EXAMPLE = "tiny_robust"
CLASSICAL = ("problem", "trajectory", "maps", "carleman", "block_system")
CIRCUIT = ("block_encoding", "qsvt")
SIMULATED = ("simulation", "readout")
STAGES = (*CLASSICAL, *CIRCUIT, *SIMULATED)


@functools.cache
def _stage(example: str, stage: str) -> Any:
    """Stage ``stage`` of ``examples/<example>.qrt``, built once per test session.

    With :func:`qrtc.compile` one lazy compilation serves every stage (the simulation runs once,
    when a test first reads ``simulation`` or ``readout``); otherwise the classical stages come
    from ``compile_spec`` and the circuit stages from one ``run_spec``.
    """
    path = str(ROOT / "examples" / f"{example}.qrt")
    if hasattr(qrtc, "compile"):
        if stage == "_compilation":
            return qrtc.compile(path, verify=True)
        return getattr(_stage(example, "_compilation"), stage)
    spec = qrtc.parse_file(path)
    if stage in CLASSICAL:
        from qrtc.pipeline import compile_spec

        return getattr(compile_spec(spec, until="block_system", verify=True), stage)
    if stage != "_run":
        return getattr(_stage(example, "_run"), stage)
    from qrtc.run import run_spec

    report = run_spec(spec)
    return SimpleNamespace(
        block_encoding=report.qsvt.encoding,
        qsvt=report.qsvt,
        simulation=report.simulation,
        readout=report.readout,
    )


def _simulated_slow(stages: tuple[str, ...]) -> list[Any]:
    return [
        pytest.param(stage, marks=pytest.mark.slow) if stage in SIMULATED else stage
        for stage in stages
    ]


@pytest.mark.parametrize("stage", _simulated_slow(STAGES))
def test_stage_text_matches_golden(stage: str, update_goldens: bool) -> None:
    ir = _stage(EXAMPLE, stage)
    ir.verify()
    text = ir.to_text()
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert text == ir.to_text(), "to_text is not deterministic"
    golden = GOLDEN / f"{EXAMPLE}.{stage}.txt"
    if update_goldens:
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}; run pytest --update-goldens"
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.slow
def test_simulated_text_is_the_same_when_built_again() -> None:
    """qsim's complex64 amplitudes are printed with few enough digits to be reproducible."""
    spec = qrtc.parse_file(str(ROOT / "examples" / f"{EXAMPLE}.qrt"))
    if hasattr(qrtc, "compile"):
        again: Any = qrtc.compile(spec)
    else:
        from qrtc.run import run_spec

        again = run_spec(spec)
    for stage in SIMULATED:
        assert getattr(again, stage).to_text() == _stage(EXAMPLE, stage).to_text(), stage


# -- verify() fails on a corrupted copy ----------------------------------------------------------

replace = dataclasses.replace


def _with_nan(array: np.ndarray, index: int = 0) -> np.ndarray:
    corrupted = np.array(array, copy=True)
    corrupted.reshape(-1)[index] = np.nan
    return corrupted


def _nudged(array: np.ndarray, index: int, by: float) -> np.ndarray:
    corrupted = np.array(array, dtype=np.float64, copy=True)
    corrupted.reshape(-1)[index] += by
    return corrupted


def _theta_moved_by_attack(trajectory: Any) -> Any:
    theta = np.array(trajectory.theta, copy=True)
    theta[1] += 0.01  # sub-step 1 is an attack step (K >= 1)
    return replace(trajectory, theta=theta)


def _nan_attack_coefficient(maps: Any) -> Any:
    linear = maps.attack.terms[0]
    terms = (replace(linear, values=_with_nan(linear.values, -1)), *maps.attack.terms[1:])
    return replace(maps, attack=replace(maps.attack, terms=terms))


def _attack_moves_theta(maps: Any) -> Any:
    constant = _nudged(maps.attack.constant, 0, 0.1)
    return replace(maps, attack=replace(maps.attack, constant=constant))


def _nan_carleman_entry(carleman: Any) -> Any:
    matrix = carleman.attack.matrix.copy()
    matrix.data[-1] = np.nan
    attack = replace(carleman.attack, matrix=scipy.sparse.csr_array(matrix))
    return replace(carleman, attack=attack)


def _short_coefficient_norms(carleman: Any) -> Any:
    attack = replace(carleman.attack, coefficient_norms=carleman.attack.coefficient_norms[:-1])
    return replace(carleman, attack=attack)


def _qsvt_with_even_term(qsvt: Any) -> Any:
    return replace(qsvt, coefficients=_nudged(qsvt.coefficients, 0, 0.01))


def _narrow_index_map(encoding: Any) -> Any:
    index_map = encoding.index_map
    narrow = IndexMap(
        block_size=index_map.block_size,
        radix=index_map.radix,
        radix_bits=index_map.radix_bits,
        offset_bits=max(0, (index_map.block_size - 1).bit_length() - 1),
    )
    return replace(encoding, index_map=narrow)


def _wrong_total_prediction(readout: Any) -> Any:
    *parts, total = readout.errors
    predicted = 2 * (total.predicted or 1.0)
    return replace(readout, errors=(*parts, replace(total, predicted=predicted)))


Corruption = tuple[str, Callable[[Any], Any], str]
CORRUPTIONS: list[Corruption] = [
    ("problem", lambda p: replace(p, theta0=_with_nan(p.theta0)), "theta0 is not finite"),
    (
        "problem",
        lambda p: replace(p, parameters=(replace(p.parameters[0], offset=1),)),
        "starts at 1, not 0",
    ),
    ("trajectory", lambda t: replace(t, delta=_with_nan(t.delta, -1)), "delta is not finite"),
    ("trajectory", _theta_moved_by_attack, "theta changes in attack"),
    ("maps", _nan_attack_coefficient, "non-finite coefficients"),
    ("maps", _attack_moves_theta, "attack map moves theta"),
    (
        "maps",
        lambda m: replace(m, initial_state=_nudged(m.initial_state, -1, 0.1)),
        "delta_0 must be 0",
    ),
    ("carleman", _nan_carleman_entry, "C is not finite"),
    ("carleman", _short_coefficient_norms, "coefficient norms for degree"),
    (
        "block_system",
        lambda s: replace(s, initial_block=2 * s.initial_block),
        "b is not the lift",
    ),
    ("block_system", lambda s: replace(s, alpha=1.5 * s.alpha), "is not s max"),
    ("block_encoding", lambda e: replace(e, alpha=-e.alpha), "alpha"),
    ("block_encoding", _narrow_index_map, "IndexMap"),
    ("qsvt", lambda q: replace(q, phases=_with_nan(q.phases, 3)), "phases not finite"),
    ("qsvt", _qsvt_with_even_term, "P must be odd"),
    ("qsvt", lambda q: replace(q, queries=q.queries + 2), "queries for degree"),
    (
        "simulation",
        lambda s: replace(s, success_probability=0.5 * s.success_probability),
        "is not \\|a\\|\\^2",
    ),
    (
        "simulation",
        lambda s: replace(s, amplitudes=_with_nan(s.amplitudes)),
        "amplitudes are not finite",
    ),
    ("readout", lambda r: replace(r, state_error=r.state_error + 0.1), "state_error"),
    ("readout", _wrong_total_prediction, "predicted total"),
]


@pytest.mark.parametrize(
    "stage,corrupt,message",
    [
        pytest.param(*case, marks=pytest.mark.slow) if case[0] in SIMULATED else case
        for case in CORRUPTIONS
    ],
    ids=[f"{stage}-{message.split()[0]}" for stage, _, message in CORRUPTIONS],
)
def test_verify_fails_on_corrupted_stage(
    stage: str, corrupt: Callable[[Any], Any], message: str
) -> None:
    ir = _stage(EXAMPLE, stage)
    ir.verify()  # the original is fine, so the failure below is the corruption's
    with pytest.raises(AssertionError, match=message):
        corrupt(ir).verify()


def test_every_stage_has_a_corruption_case() -> None:
    assert {stage for stage, _, _ in CORRUPTIONS} == set(STAGES)


# -- the two simulated stages, hand-built (no simulation) ---------------------------------------


def _small_state() -> PostselectedState:
    amplitudes = np.array([0.36, -0.48j], dtype=np.complex128)
    return PostselectedState(
        amplitudes=amplitudes,
        kept=(cirq.NamedQubit("sys[0]"),),
        success_probability=0.36,
        sampled_success=None,
        shots=None,
        work_leak=0.0,
        simulator="cirq",
        n_qubits=4,
        n_work_qubits=1,
        n_gates=12,
        lowering_s=0.01,
        wall_s=0.02,
    )


def _small_readout() -> Readout:
    reference, carleman, quantum = np.array([1.0, 0.0]), np.array([0.9, 0.1]), np.array([0.8, 0.2])
    states = carleman / np.linalg.norm(carleman), quantum / np.linalg.norm(quantum)

    def distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a - b))

    terms = (
        ErrorTerm("carleman", distance(carleman, reference), 0.2, "Carleman vs reference"),
        ErrorTerm("polynomial", distance(quantum, carleman), 0.3, "quantum vs Carleman"),
        ErrorTerm("readout", 0.0, 0.0, "sampled vs exact"),
    )
    total = ErrorTerm("total", distance(quantum, reference), 0.5, "quantum vs reference")
    return Readout(
        theta_reference=reference,
        theta_carleman=carleman,
        theta_quantum=quantum,
        theta_quantum_exact=quantum.copy(),
        state_carleman=states[0],
        state_quantum=states[1],
        state_error=distance(*states),
        success_probability=0.25,
        predicted_success_probability=0.26,
        sampled_success_probability=None,
        shots=None,
        terminal_probability=0.6,
        errors=(*terms, total),
    )


def test_hand_built_state_verifies_and_prints_noise_as_zero() -> None:
    state = _small_state()
    state.verify()
    noisy = replace(state, amplitudes=state.amplitudes + np.array([-3e-7j, 2e-7]))
    noisy = replace(
        noisy, success_probability=float(np.vdot(noisy.amplitudes, noisy.amplitudes).real)
    )
    noisy.verify()
    assert noisy.to_text() == state.to_text()
    assert "0: +0.3600+0.0000j  1: +0.0000-0.4800j" in state.to_text()
    with pytest.raises(AssertionError, match="sampled_success and shots"):
        replace(state, shots=100).verify()
    with pytest.raises(AssertionError, match="work_leak"):
        replace(state, work_leak=1e-3).verify()


def test_hand_built_readout_verifies_and_fails_when_inconsistent() -> None:
    readout = _small_readout()
    readout.verify()
    assert readout.to_text().startswith("readout {\n")
    polynomial = readout.errors[1]
    with pytest.raises(AssertionError, match="measured polynomial error"):
        replace(
            readout,
            errors=(readout.errors[0], replace(polynomial, measured=0.0), *readout.errors[2:]),
        ).verify()
    with pytest.raises(AssertionError, match="norm"):
        replace(readout, state_quantum=2 * readout.state_quantum).verify()
