r"""``qrtc resources`` at paper scale: the estimate's wall time, and the formula against building
and counting the circuit it predicts.

Part 1: for each shipped example, the estimate at $T = 10^6$ and $n = 10^9$ (the issue's
target: under a second), median of ``--repeats`` after one warm-up (the spec's own compile
included: the estimate is a whole command).

Part 2: at each example's own size, in one run, the estimate (formula) against compiling,
encoding, inverting and counting the QSVT circuit that ``qrtc run`` would simulate (the
"peer": what a user without the formulas would do); the counts are checked equal first, and
the ratio is counted / estimate.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

# The checkout beside this script, even when an older qrtc is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import write_json  # benches/ is sys.path[0] when run as a script

from qrtc.errors import QrtError  # noqa: E402
from qrtc.frontend.parse import parse_file  # noqa: E402
from qrtc.passes.encode_block_system import encode_block_system  # noqa: E402
from qrtc.passes.invert_block_encoding import invert_block_encoding, polynomial_error_for  # noqa: E402
from qrtc.passes.read_out import classical_solution  # noqa: E402
from qrtc.pipeline import compile_spec  # noqa: E402
from qrtc.resources.counted import count_gates  # noqa: E402
from qrtc.resources.estimate import estimate_resources  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
COUNTABLE = ["tiny_robust", "robust_linreg", "l2_inactive"]


def _median_seconds(action: Any, repeats: int) -> float:
    action()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _built_count(name: str) -> tuple[Any, float]:
    start = time.perf_counter()
    compilation = compile_spec(parse_file(EXAMPLES / f"{name}.qrt"))
    system, problem = compilation.block_system, compilation.problem
    assert system is not None and problem is not None
    encoding = encode_block_system(system)
    norm = float((classical_solution(system) ** 2).sum() ** 0.5)
    error = polynomial_error_for(system, norm, problem.options.precision)
    qsvt = invert_block_encoding(system, encoding, polynomial_error=error)
    gates, _ = count_gates(qsvt.circuit)
    return gates, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results: dict[str, Any] = {"paper_scale": {}, "formula_vs_built": {}}

    print("Part 1: qrtc resources at T = 1e6, n = 1e9 (median seconds, compile included)")
    for path in sorted(EXAMPLES.glob("*.qrt")):
        if path.stem == "logistic_taylor":
            continue  # D_N = 16105: no projector tail, kappa from per-step norms (see README)
        spec = parse_file(path)
        try:
            estimate_resources(spec, horizon=10**6, params=10**9)
        except QrtError as error:
            print(f"  {path.stem:<22}refused: {str(error).splitlines()[0]}")
            continue
        seconds = _median_seconds(
            lambda spec=spec: estimate_resources(spec, horizon=10**6, params=10**9), args.repeats
        )
        estimate = estimate_resources(spec, horizon=10**6, params=10**9)
        results["paper_scale"][path.stem] = {"seconds": seconds, "queries": estimate.queries}
        print(f"  {path.stem:<22}{seconds:8.3f} s   queries {estimate.queries:.3e}")

    print("Part 2: estimate vs build-and-count of the QSVT circuit, at the spec's own size")
    for name in COUNTABLE:
        spec = parse_file(EXAMPLES / f"{name}.qrt")
        gates, built_seconds = _built_count(name)
        estimate = estimate_resources(spec)
        assert estimate.circuit.gates == gates, name
        seconds = _median_seconds(lambda spec=spec: estimate_resources(spec), args.repeats)
        ratio = built_seconds / seconds
        results["formula_vs_built"][name] = {
            "estimate_s": seconds,
            "built_s": built_seconds,
            "ratio": ratio,
        }
        print(
            f"  {name:<22}estimate {seconds:7.3f} s   built+counted {built_seconds:7.2f} s"
            f"   ratio {ratio:6.1f}x"
        )
    if args.json is not None:
        write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
