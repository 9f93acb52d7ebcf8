r"""Simulating the circuits: qsim (qrtc's options) against qsim's defaults and ``cirq.Simulator``,
and ``qrtc run`` time per stage.

Part 1: for each shipped example, the block encoding ``qrtc run`` would pick (``auto``: the
narrower after lowering) is lowered to what qsim applies natively
(:func:`qrtc.backends.simulate.lower_for_simulation`) and ``--repeats`` uses of $U$ are applied
to a random state: qsim with :func:`qrtc.backends.simulate.qsim_options`, qsim with its default
options, and ``cirq.Simulator`` (complex64), in one run, wall time of the ``simulate`` call; the
final states are checked equal first. Examples wider than ``--max-qubits`` (default 24) are listed
and skipped.

Part 2: ``qrtc run examples/tiny_robust.qrt``: the wall time of each stage.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

# The checkout beside this script, even when an older qrtc is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import cirq
import numpy as np
import qsimcirq
from _common import write_json  # benches/ is sys.path[0] when run as a script

import qrtc  # noqa: E402
from qrtc.backends.simulate import lower_for_simulation, qsim_options
from qrtc.cli.run_report import run_spec
from qrtc.passes.encode_block_system import MAX_GENERIC_NNZ, encode_block_system
from qrtc.pipeline import compile_spec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _lowered(system: Any, max_qubits: int) -> tuple[str, cirq.Circuit] | None:
    methods = ["structured"] + (["generic"] if system.nnz <= MAX_GENERIC_NNZ else [])
    candidates = []
    for method in methods:
        encoding = encode_block_system(system, method=method)
        if len(encoding.qubit_order) > max_qubits:
            continue  # lowering only adds qubits: too wide already
        lowered = lower_for_simulation(encoding.circuit)
        qubits = set(lowered.all_qubits()) | set(encoding.qubit_order)
        candidates.append((len(qubits), method, lowered))
    if not candidates:
        return None
    width, method, lowered = min(candidates, key=lambda c: c[0])
    return method, lowered


def simulators(max_qubits: int, repeats: int) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(EXAMPLES.glob("*.qrt")):
        system = compile_spec(qrtc.parse_file(path)).block_system
        assert system is not None
        if system.matrix is None:
            print(f"{path.stem}: L not built explicitly, skipped")
            continue
        picked = _lowered(system, max_qubits)
        if picked is None:
            print(f"{path.stem}: wider than --max-qubits {max_qubits} before lowering, skipped")
            continue
        method, lowered = picked
        circuit = cirq.Circuit([lowered] * repeats)
        order = sorted(circuit.all_qubits(), key=str)
        n = len(order)
        if n > max_qubits:
            print(f"{path.stem}: {n} qubits > --max-qubits {max_qubits}, skipped")
            continue
        rng = np.random.default_rng(0)
        state = rng.normal(size=1 << n) + 1j * rng.normal(size=1 << n)
        state = (state / np.linalg.norm(state)).astype(np.complex64)
        gates = len(list(circuit.all_operations()))
        ours = qsim_options(n, gates)
        simulators = {
            f"qsim {ours}": qsimcirq.QSimSimulator(qsim_options=ours),
            "qsim defaults": qsimcirq.QSimSimulator(),
            "cirq.Simulator": cirq.Simulator(dtype=np.complex64),
        }
        row: dict[str, Any] = {"example": path.stem, "encoding": method, "qubits": n}
        row["gates"] = gates
        finals = {}
        for name, simulator in simulators.items():
            start = time.perf_counter()
            result = simulator.simulate(circuit, qubit_order=order, initial_state=state)
            seconds = time.perf_counter() - start
            finals[name] = np.asarray(result.final_state_vector)
            row[name] = seconds
        reference = finals["cirq.Simulator"]
        for name, final in finals.items():
            assert np.max(np.abs(final - reference)) < 1e-4, (path.stem, name)
        base = row[f"qsim {ours}"]
        print(
            f"{path.stem:22s} {method:10s} {n:3d} qubits {gates:8d} gates | "
            + " | ".join(
                f"{name}: {row[name]:7.2f} s ({row[name] / base:5.1f}x)" for name in simulators
            ),
            flush=True,
        )
        rows.append(row)
    return rows


def run_stages() -> dict[str, float]:
    report = run_spec(qrtc.parse_file(EXAMPLES / "tiny_robust.qrt"))
    total = sum(report.stage_seconds.values())
    print(f"qrtc run examples/tiny_robust.qrt: {total:.2f} s")
    for stage, seconds in report.stage_seconds.items():
        print(f"  {stage:14s} {seconds:7.3f} s")
    return report.stage_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-qubits", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=10, help="uses of U per simulation")
    parser.add_argument("--json", help="write the figures (and the machine) to this file")
    args = parser.parse_args()
    rows = simulators(args.max_qubits, args.repeats)
    stages = run_stages()
    if args.json:
        write_json(args.json, {"simulators": rows, "run_stages": stages})


if __name__ == "__main__":
    main()
