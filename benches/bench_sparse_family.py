r"""A built sparse family of models: does the query count stay flat in model size?

``qrtc resources --set params=N`` extrapolates along the paper's sparse family by holding the
row sparsity, $\alpha$, $\Lambda$ and $g$ at the spec's values. This script builds the family
instead (:func:`qrtc.studies.family.replicate`: the spec copied $r$ times, each copy with its own
parameters and its own samples whose features live in that copy's block, lr and precision
scaled so every copy follows the original) and measures, side by side for the two attack
supports (``support = all``: the attack perturbs every feature; ``support = data``: only each
sample's non-zero ones):

* the sparsity of the Carleman matrices, with the constant column (the data-dependent constant
  $-\frac{\eta}{M}\sum_i y_i x_i$ of the gradient) counted apart;
* $\alpha$, $\kappa_{\rm eff}$ (exact from the live part of $\mathbf L$ while it fits, else the
  window bound), the QSVT queries $d(2k+1)$ and the classical PGD multiply-adds;
* the log-log slope of the queries over the members with an exact $\kappa_{\rm eff}$.

Measured (2026-11-25, ``python benches/bench_sparse_family.py``, robust_linreg, $n$ = 2..32):
with ``support = all`` the copies couple (every sample's zero features are perturbed): the row
sparsity grows 6, 9, 15, 27, $\alpha$ 5.9 to 27.0 and the queries as $n^{0.73}$. With
``support = data`` the row and column sparsity stay at 6 and 4; only the constant column grows,
one entry per parameter ($n + 1$), so $\alpha$ grows as about $\sqrt n$ (5.9 to 15.1),
$\|\mathbf L^{-1}\| = \kappa_{\rm eff}/\alpha$ stays at 12.6, and the queries grow as
$n^{0.35}$ over this range (3871 to 9891), tending to $n^{0.5}$. With the constant column
block-encoded apart (``split``, a formula: qrtc does not build that encoding) $\alpha$ stays at
5.507 for every $n$.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import write_json  # benches/ is sys.path[0] when run as a script

from qrtc.circuits.sparse_access import SparseAccessTables  # noqa: E402
from qrtc.errors import QrtError  # noqa: E402
from qrtc.frontend.format import format_spec  # noqa: E402
from qrtc.frontend.parse import parse, parse_file  # noqa: E402
from qrtc.ir.spec import Spec  # noqa: E402
from qrtc.numerics.select_matrix import carleman_select_matrix  # noqa: E402
from qrtc.pipeline import compile_spec  # noqa: E402
from qrtc.resources.estimate import estimate_resources  # noqa: E402
from qrtc.studies.family import replicate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def with_support(spec: Spec, support: str) -> Spec:
    """``spec`` with ``support = <support>`` in its attack section."""
    text = format_spec(spec)
    head, brace, rest = text.partition("attack pgd {")
    settings, close, tail = rest.partition("}")
    kept = ";".join(s for s in settings.split(";") if "support" not in s).strip()
    return parse(f"{head}{brace} {kept}; support = {support} {close}{tail}", file=spec.file)


def sparsity(spec: Spec) -> dict[str, int]:
    """Row and column sparsity of both Carleman matrices, the constant column apart."""
    carleman = compile_spec(spec, until="carleman").carleman
    assert carleman is not None
    rows, columns, constant = 0, 0, 0
    for step in (carleman.attack.matrix, carleman.learner.matrix):
        coo = step.tocoo()
        nonzero = coo.data != 0
        row, column = coo.row[nonzero], coo.col[nonzero]
        rows = max(rows, int(np.bincount(row).max()))
        counts = np.bincount(column, minlength=step.shape[1])
        constant = max(constant, int(counts[0]))
        columns = max(columns, int(counts[1:].max()))
    return {"row": rows, "column": columns, "constant_column": constant}


def split_alpha(spec: Spec) -> float:
    r"""$1 + \sqrt{s_r s_c'}A'_{\max} + \max\|\hat b\|$: the normalisation if the constant
    column $\hat b$ (column 0 below row 0) were block-encoded apart, by preparing
    $\hat b/\|\hat b\|$, and the rest by sparse access. A formula for an encoding qrtc does
    not build, to size what the constant column costs."""
    carleman = compile_spec(spec, until="carleman").carleman
    assert carleman is not None
    select = carleman_select_matrix(carleman).tocoo()
    size = 1 << (carleman.lifted_size - 1).bit_length()
    # Column 0 of C_A's and C_L's blocks, below their row 0; the identity block has none.
    constant = np.isin(select.col, (0, size)) & (select.row != select.col)
    constants = [
        float(np.linalg.norm(select.data[constant & (select.col == column)]))
        for column in (0, size)
    ]
    select = scipy.sparse.csr_array(
        (select.data[~constant], (select.row[~constant], select.col[~constant])),
        shape=select.shape,
    )
    rest = SparseAccessTables.from_matrix(select)
    return 1.0 + float(rest.alpha) + max(constants)


def slope(rows: list[dict[str, Any]]) -> float | None:
    exact = [row for row in rows if row["kappa_source"].startswith("exact")]
    if len(exact) < 2:
        return None
    n = np.log([row["params"] for row in exact])
    return float(np.polyfit(n, np.log([row["queries"] for row in exact]), 1)[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=str(ROOT / "examples" / "robust_linreg.qrt"))
    parser.add_argument("--max-copies", type=int, default=16)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    base = parse_file(args.spec)
    result: dict[str, Any] = {"spec": args.spec}
    for support in ("all", "data"):
        print(f"{Path(args.spec).name}, support = {support}")
        print(
            f"{'n':>5}{'rows':>6}{'cols':>6}{'const':>7}{'alpha':>9}{'split':>8}{'kappa_eff':>11}  "
            f"{'kappa from':<32}{'queries':>10}{'classical':>11}{'seconds':>9}"
        )
        rows: list[dict[str, Any]] = []
        copies = 1
        while copies <= args.max_copies:
            start = time.perf_counter()
            try:
                member = replicate(with_support(base, support), copies)
                estimate = estimate_resources(member)
            except QrtError as error:
                print(f"  r = {copies}: not built: {error.message}")
                break
            seconds = time.perf_counter() - start
            counts = sparsity(member)
            alpha_split = split_alpha(member)
            rows.append(
                {
                    "params": estimate.n_params,
                    **counts,
                    "alpha": estimate.alpha,
                    "alpha_constant_column_apart": alpha_split,
                    "kappa_eff": estimate.kappa,
                    "kappa_source": estimate.kappa_source,
                    "queries": estimate.queries,
                    "classical_operations": estimate.classical_operations,
                    "seconds": seconds,
                }
            )
            print(
                f"{estimate.n_params:>5}{counts['row']:>6}{counts['column']:>6}"
                f"{counts['constant_column']:>7}{estimate.alpha:>9.3f}{alpha_split:>8.3f}"
                f"{estimate.kappa:>11.1f}  "
                f"{estimate.kappa_source:<32}{estimate.queries:>10}"
                f"{estimate.classical_operations:>11.3g}{seconds:>9.2f}"
            )
            copies *= 2
        exponent = slope(rows)
        if exponent is not None:
            print(f"  queries ~ n^{exponent:.2f} over the members with an exact kappa_eff\n")
        result[support] = {"members": rows, "query_exponent": exponent}
    if args.json is not None:
        write_json(str(args.json), result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
