r"""Gates and Toffolis per query of the block encoding of $\mathbf L$: structured vs generic as
the horizon grows, and the generic sparse-access encoding against Qualtran's ``SparseMatrix``.

Part 1 (always): ``examples/robust_linreg.qrt`` at Carleman order 1, horizon $T = 1, 2, 4, ...$,
``--max-horizon`` (default 1024). For each $T$ the structured encoding (LCU of $I$ and time
shift ⊗ select-$C$) and the generic one (sparse access to every non-zero of $\mathbf L$) are
built and their primitive gates counted from the circuit (``count_resources``); the analytic
formula is checked equal on the way. One query = one use of $U$.

Part 2 (when Qualtran is installed, ``pip install qualtran``): the same banded matrices, entries
in $[0, 1]$, that Qualtran's ``SymmetricBandedRowColumnOracle`` accepts (cyclic band of half
width 1, size $2^n$), encoded by qrtc's generic encoding and by Qualtran's ``SparseMatrix`` with
``ExplicitEntryOracle`` (10-bit entries), Toffolis per query side by side. Qualtran uncomputes
its ANDs by measurement (no Toffoli) and loads entries through a QROM over all $4^n$ pairs; qrtc
uncomputes unitarily (2 Toffolis per AND) and rotates by exact angles for the non-zeros only.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from pathlib import Path

# The checkout beside this script, even when an older qrtc is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
import scipy.sparse
from _common import write_json  # benches/ is sys.path[0] when run as a script
from _qualtran_peer import qualtran_available, qualtran_sparse_matrix_costs

import qrtc  # noqa: E402
from qrtc.passes.encode_block_system import encode_block_system, encode_matrix
from qrtc.pipeline import compile_spec
from qrtc.resources.counted import count_resources
from qrtc.resources.formulas import predict_resources

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "robust_linreg.qrt"


def horizon_sweep(max_horizon: int) -> list[dict[str, object]]:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r"carleman_order = \w+", "carleman_order = 1", text)
    # A radius the clip never reaches over 1024 steps: the active set stays empty.
    text = re.sub(r"radius = [0-9.]+", "radius = 10", text)
    rows = []
    horizon = 1
    while horizon <= max_horizon:
        spec = qrtc.parse(re.sub(r"horizon = \d+", f"horizon = {horizon}", text))
        system = compile_spec(spec).block_system
        assert system is not None
        row: dict[str, object] = {"horizon": horizon, "dim": system.dim, "nnz": system.nnz}
        for method in ("structured", "generic"):
            start = time.perf_counter()
            encoding = encode_block_system(system, method=method)  # type: ignore[arg-type]
            counted = count_resources(encoding, depth_limit=0)
            predicted = predict_resources(system, method=method)  # type: ignore[arg-type]
            assert counted.gates == predicted.gates and counted.qubits == predicted.qubits
            row[method] = {
                "toffoli": counted.gates.toffoli,
                "gates": counted.gates.total,
                "qubits": counted.total_qubits,
                "alpha": encoding.alpha,
                "seconds": time.perf_counter() - start,
            }
        rows.append(row)
        s, g = row["structured"], row["generic"]
        print(
            f"T={horizon:5d} dim={system.dim:7d}  structured: {s['toffoli']:7d} Toffoli "  # type: ignore[index]
            f"{s['gates']:7d} gates {s['qubits']:3d} qubits | generic: {g['toffoli']:9d} "  # type: ignore[index]
            f"Toffoli {g['gates']:9d} gates {g['qubits']:3d} qubits",  # type: ignore[index]
            flush=True,
        )
        horizon *= 2
    return rows


def banded(n: int, rng: np.random.Generator) -> np.ndarray:
    size = 1 << n
    matrix = np.zeros((size, size))
    for i in range(size):
        for offset in (-1, 0, 1):
            matrix[i, (i + offset) % size] = rng.uniform(0.05, 1.0)
    return matrix


def qualtran_comparison(max_n: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(0)
    rows = []
    for n in range(3, max_n + 1):
        matrix = banded(n, rng)
        ours = count_resources(encode_matrix(scipy.sparse.csr_array(matrix)), depth_limit=0)
        peer = qualtran_sparse_matrix_costs(matrix, kind="banded", bandwidth=1)
        rows.append(
            {
                "n": n,
                "qrtc_toffoli": ours.gates.toffoli,
                "qrtc_rotations": ours.gates.rotations,
                "qrtc_qubits": ours.total_qubits,
                "qualtran_toffoli": peer["toffolis"],
                "qualtran_qubits": peer["qubits"],
                "qualtran_how": peer["how"],
            }
        )
        print(
            f"n={n:2d}  qrtc generic: {ours.gates.toffoli:7d} Toffoli {ours.total_qubits:3d} "
            f"qubits | Qualtran SparseMatrix: {peer['toffolis']:7d} Toffoli "
            f"{peer['qubits']:3d} qubits | ratio {ours.gates.toffoli / peer['toffolis']:.2f}",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-horizon", type=int, default=1024)
    parser.add_argument("--max-n", type=int, default=8, help="largest Qualtran matrix: 2^n rows")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    sweep = horizon_sweep(args.max_horizon)
    first, last = sweep[0], sweep[-1]
    growth = {
        m: last[m]["toffoli"] / first[m]["toffoli"]  # type: ignore[index]
        for m in ("structured", "generic")
    }
    span = last["horizon"] / first["horizon"]  # type: ignore[operator]
    print(
        f"T x{span:g}: structured Toffolis x{growth['structured']:.2f} "
        f"(log2 T grew {math.log2(2 * span):.0f}x from 1 to {1 + math.log2(span):.0f} bits), "
        f"generic x{growth['generic']:.1f}"
    )
    result: dict[str, object] = {"horizon_sweep": sweep}
    if qualtran_available():
        result["qualtran"] = qualtran_comparison(args.max_n)
    else:
        print(
            "Qualtran is not installed: skipped the SparseMatrix comparison (pip install qualtran)"
        )
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()
