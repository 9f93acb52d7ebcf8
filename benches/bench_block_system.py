r"""Time the block-system assembly against ``scipy.sparse.bmat``, and implicit row access.

The maps are those of ``examples/robust_linreg.qrt`` (robust least squares, $d_z = 8$, $q = 3$),
lifted at Carleman order ``--order`` with $\gamma = 1$; only the horizon $T$ is changed.

1. **Explicit assembly** at ``--horizon`` (default: $\ge 10^7$ non-zeros): ``assemble_matrix``
   (one broadcast per stretch of repeated blocks) against ``scipy.sparse.bmat`` of the same
   $n_b \times n_b$ grid of blocks. The two CSR matrices are checked equal (same ``indptr``,
   ``indices`` and ``data``), then the median wall time over ``--repeats`` is printed with the
   ratio (goal: the fast path under 5 s on 2 cores). The whole pass (``assemble_block_system``:
   assembly plus bounds) is timed too.
2. **Implicit row and column access** at ``--implicit-horizon`` (default: $\dim\mathbf L \ge
   10^{12}$, nothing of size $\dim$ built): median time of ``matrix_row(system, i)`` and
   ``matrix_column(system, j)`` over ``--rows`` random indices (goal: under 100 µs per row).

Run: ``python benches/bench_block_system.py [--order 4 --horizon 40 --json out.json]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import scipy.sparse

try:
    import qrtc
except ModuleNotFoundError:  # a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import qrtc

from _common import write_json  # benches/ is sys.path[0] when run as a script

from qrtc.ir.block_system import BlockSystem
from qrtc.ir.polynomial_maps import PolynomialMaps
from qrtc.ir.problem import CompileOptions
from qrtc.numerics.block_matrix import assemble_matrix, matrix_column, matrix_row
from qrtc.passes.assemble_block_system import assemble_block_system
from qrtc.passes.carleman_embed import carleman_embed
from qrtc.passes.derive_polynomial_maps import derive_polynomial_maps

SPEC = Path(__file__).resolve().parents[1] / "examples" / "robust_linreg.qrt"
GOAL_ASSEMBLY_SECONDS = 5.0
GOAL_ROW_SECONDS = 100e-6


def example_maps() -> PolynomialMaps:
    problem = qrtc.load(str(SPEC))
    return derive_polynomial_maps(problem, qrtc.reference.train(problem))


def bmat_assembly(system: BlockSystem) -> scipy.sparse.csr_array:
    """The straightforward way: an $n_b \\times n_b$ grid of blocks handed to ``bmat``."""
    size, n_blocks = system.block_size, system.n_blocks
    identity = scipy.sparse.identity(size, format="csr")
    grid: list[list[Any]] = [[None] * n_blocks for _ in range(n_blocks)]
    for block in range(n_blocks):
        grid[block][block] = identity
        if block:
            step = system.step_matrix(block)
            grid[block][block - 1] = -(identity if step is None else step)
    return scipy.sparse.csr_array(scipy.sparse.bmat(grid, format="csr"))


def timed(function: Any, repeats: int) -> tuple[float, float, Any]:
    """Median and first wall time over ``repeats`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times[0], result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--order", type=int, default=4, help="Carleman order N")
    parser.add_argument("--horizon", type=int, default=40, help="T for the explicit assembly")
    parser.add_argument("--implicit-horizon", type=int, default=10**9, help="T, implicit system")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20_000, help="random rows for the access")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=str, default=None, help="write the results here")
    args = parser.parse_args(argv)

    maps = example_maps()
    options = CompileOptions(carleman_order=args.order, scale=1.0)

    # 1. Explicit assembly.
    explicit_maps = dataclasses.replace(maps, horizon=args.horizon)
    carleman = carleman_embed(explicit_maps, options=options)
    pass_seconds, pass_first, system = timed(
        lambda: assemble_block_system(carleman, options=options), args.repeats
    )
    bare = dataclasses.replace(system, matrix=None)
    fast_seconds, fast_first, fast = timed(lambda: assemble_matrix(bare), args.repeats)
    bmat_seconds, bmat_first, reference = timed(lambda: bmat_assembly(bare), args.repeats)
    reference.sum_duplicates()
    reference.sort_indices()
    assert fast.shape == reference.shape and fast.nnz == reference.nnz == system.nnz
    assert np.array_equal(fast.indptr, reference.indptr)
    assert np.array_equal(fast.indices, reference.indices)
    assert np.array_equal(fast.data, reference.data)
    del fast, reference

    # 2. Implicit access.
    implicit_maps = dataclasses.replace(maps, horizon=args.implicit_horizon)
    implicit_carleman = carleman_embed(implicit_maps, options=options)
    implicit = assemble_block_system(implicit_carleman, options=options)
    assert implicit.matrix is None
    rng = np.random.default_rng(args.seed)
    indices = [int(i) for i in rng.integers(0, implicit.dim, size=args.rows)]
    row_times, column_times, row_nnz = [], [], []
    for index in indices:
        start = time.perf_counter()
        columns, _ = matrix_row(implicit, index)
        middle = time.perf_counter()
        matrix_column(implicit, index)
        row_times.append(middle - start)
        column_times.append(time.perf_counter() - middle)
        row_nnz.append(columns.size)
    row_median, column_median = statistics.median(row_times), statistics.median(column_times)

    print(
        f"explicit: N = {args.order}, D_N = {system.block_size}, T = {args.horizon}, "
        f"n_b = {system.n_blocks}, dim = {system.dim}, nnz = {system.nnz}"
    )
    built = "explicit" if system.matrix is not None else "implicit"
    print(f"{'contender':<40}{'median s':>10}{'first s':>10}")
    print(f"{'assemble_matrix (fast)':<40}{fast_seconds:>10.3f}{fast_first:>10.3f}")
    print(f"{'scipy.sparse.bmat':<40}{bmat_seconds:>10.3f}{bmat_first:>10.3f}")
    print(f"{f'assemble_block_system ({built})':<40}{pass_seconds:>10.3f}{pass_first:>10.3f}")
    print(
        f"ratio bmat / fast = {bmat_seconds / fast_seconds:.1f}; "
        f"fast path goal < {GOAL_ASSEMBLY_SECONDS:g} s: "
        f"{'met' if fast_seconds < GOAL_ASSEMBLY_SECONDS else 'MISSED'}"
    )
    print(
        f"implicit: T = {args.implicit_horizon}, dim = {implicit.dim:.3e}, "
        f"{args.rows} random rows (mean nnz {statistics.mean(row_nnz):.1f})"
    )
    print(
        f"row(i) median {row_median * 1e6:.1f} us, column(j) median {column_median * 1e6:.1f} us; "
        f"goal < {GOAL_ROW_SECONDS * 1e6:g} us: "
        f"{'met' if row_median < GOAL_ROW_SECONDS else 'MISSED'}"
    )

    if args.json:
        result = {
            "benchmark": "block_system_assembly_and_implicit_access",
            "spec": SPEC.name,
            "order": args.order,
            "explicit": {
                "horizon": args.horizon,
                "block_size": system.block_size,
                "n_blocks": system.n_blocks,
                "dim": system.dim,
                "nnz": system.nnz,
                "fast_seconds": fast_seconds,
                "bmat_seconds": bmat_seconds,
                "pass_seconds": pass_seconds,
                "fast_first_seconds": fast_first,
                "bmat_first_seconds": bmat_first,
                "pass_first_seconds": pass_first,
                "pass_built_matrix": system.matrix is not None,
                "ratio_bmat_over_fast": bmat_seconds / fast_seconds,
                "goal_seconds": GOAL_ASSEMBLY_SECONDS,
            },
            "implicit": {
                "horizon": args.implicit_horizon,
                "dim": implicit.dim,
                "rows": args.rows,
                "row_median_seconds": row_median,
                "column_median_seconds": column_median,
                "goal_seconds": GOAL_ROW_SECONDS,
            },
            "repeats": args.repeats,
        }
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
