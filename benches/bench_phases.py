r"""Phase factors of the QSVT $1/x$ polynomial: qrtc's solver against pyqsp and qsppack.

For each $\kappa$ (``--kappas``, default 10 30 100 300 1000 3000) the odd polynomial
$P(x) \approx s/x$ on $[1/\kappa, 1]$ at relative error ``--epsilon`` (default 1e-4) comes from
:func:`qrtc.qsp.polynomial.inverse_polynomial` (degrees ~100 to ~2·10^4). Every solver gets the
same Chebyshev coefficients and must return symmetric phases in the $W_x$ convention
($P(x) = {\rm Im}\langle 0|U_\Phi(x)|0\rangle$); the residual
$\max|{\rm Im}\langle 0|U_\Phi(x)|0\rangle - P(x)|$ over 1000 random points of $[-1, 1]$ is
computed by one evaluator (explicit $2\times 2$ products, ``_qsp_peers.residual``) for all of
them, so "equal error" is checked, not assumed. Times are the wall time of the solver call alone,
the median of ``--repeats``.

Peers (optional, ``pip install pyqsp qsppack``): pyqsp's ``sym_qsp`` Newton solver, qsppack's
Newton and NLFT solvers (NLFT's FFT length $\ge 16 d$, see ``_qsp_peers.nlft_fft_length``).
pyqsp and qsppack Newton grow as $d^3$ (about 45 s of CPU at $d \approx 1700$ here), so they run
only up to ``--newton-max-degree`` (default 2000).
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
import numpy as np
from _common import write_json  # benches/ is sys.path[0] when run as a script
from _qsp_peers import PEERS, available, residual, solve, versions

from qrtc.qsp.phases import symmetric_phases  # noqa: E402
from qrtc.qsp.polynomial import cks_degree, inverse_polynomial  # noqa: E402

NEWTON_PEERS = ("pyqsp sym_qsp", "qsppack Newton")


def _ours(coefficients: np.ndarray) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    factors = symmetric_phases(coefficients)
    return np.asarray(factors.phases), time.perf_counter() - start


def _peer(name: str, coefficients: np.ndarray) -> tuple[np.ndarray, float]:
    result = solve(name, coefficients)
    return np.asarray(result.phases), float(result.seconds)


def run(
    kappas: list[float], epsilon: float, repeats: int, newton_max_degree: int
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(2026)
    points = rng.uniform(-1, 1, 1000)
    present = available()
    rows = []
    for kappa in kappas:
        polynomial = inverse_polynomial(kappa, epsilon)
        coefficients = np.asarray(polynomial.coefficients)
        degree = polynomial.degree
        contenders: list[tuple[str, Any]] = [("qrtc", _ours)]
        for name in PEERS:
            if not present[name]:
                continue
            if name in NEWTON_PEERS and degree > newton_max_degree:
                continue
            contenders.append((name, lambda c, name=name: _peer(name, c)))
        row: dict[str, Any] = {"kappa": kappa, "degree": degree, "solvers": {}}
        for name, solver in contenders:
            # The d^3 peers get one run: their time dwarfs any timing noise.
            runs = 1 if name in NEWTON_PEERS else repeats
            times, phases = [], None
            for _ in range(runs):
                phases, seconds = solver(coefficients)
                times.append(seconds)
            error = residual(phases, coefficients, points)
            row["solvers"][name] = {"seconds": statistics.median(times), "residual": error}
        ours = row["solvers"]["qrtc"]["seconds"]
        line = f"kappa {kappa:7.0f}  degree {degree:6d} |"
        for name, result in row["solvers"].items():
            ratio = "" if name == "qrtc" else f" ({result['seconds'] / ours:6.1f}x qrtc)"
            line += (
                f" {name}: {result['seconds']:8.3f} s, residual {result['residual']:.1e}{ratio} |"
            )
        print(line, flush=True)
        rows.append(row)
    return rows


def degree_table() -> list[dict[str, Any]]:
    r"""Our degree beside the truncated Childs-Kothari-Somma series at equal error.

    CKS bounds $|f - 1/x|$ absolutely by $\varepsilon$; ours bounds the relative error of $s/x$,
    so equal error is ours at $\varepsilon/\kappa$ (see ``qrtc.qsp.polynomial.cks_degree``).
    """
    rows = []
    print("kappa  epsilon | qrtc degree | CKS degree | ratio")
    for kappa in (10, 100, 1000):
        for epsilon in (1e-2, 1e-4):
            ours = inverse_polynomial(kappa, epsilon / kappa).degree
            reference = cks_degree(kappa, epsilon)
            ratio = ours / reference
            print(f"{kappa:5d}  {epsilon:7.0e} | {ours:11d} | {reference:10d} | {ratio:.2f}")
            rows.append({"kappa": kappa, "epsilon": epsilon, "qrtc": ours, "cks": reference})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kappas", type=float, nargs="+", default=[10, 30, 100, 300, 1000, 3000])
    parser.add_argument("--epsilon", type=float, default=1e-4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--newton-max-degree", type=int, default=2000)
    parser.add_argument("--json", help="write the figures (and the machine) to this file")
    args = parser.parse_args()
    present = available()
    missing = [name for name in PEERS if not present[name]]
    if missing:
        print(f"missing peers (pip install pyqsp qsppack): {', '.join(missing)}")
    print(f"peer versions: {versions()}")
    degrees = degree_table()
    rows = run(args.kappas, args.epsilon, args.repeats, args.newton_max_degree)
    if args.json:
        result = {"epsilon": args.epsilon, "rows": rows, "degrees": degrees}
        write_json(args.json, result | {"versions": versions()})


if __name__ == "__main__":
    main()
