r"""Resource estimates at any size, by formula: what ``qrtc resources`` prints.

Nothing of the size asked for is built. The spec is compiled as written up to its Carleman
matrices $C_{\mathcal A}, C_{\mathcal L}$ (small: they do not grow with $T$), and everything at
the requested horizon $T$ and model size $n$ follows from them:

* **$\kappa_{\rm eff}$** exactly as the compiler computes it: $\alpha\|\tilde{\mathbf L}^{-1}\|$
  from the singular values of $\mathbf L$'s live part (dense SVD, or Lanczos on
  $\mathbf L^{-1}$, :func:`~qrtc.passes.invert_block_encoding.effective_condition_number`; so
  the estimate equals what ``qrtc run`` builds) while that part is small enough, else
  $\alpha\max(1, B)$ with $B$ the window-norm bound of :mod:`qrtc.numerics.propagator` (a
  spectral-projector tail makes it valid at any $T$).
* **$\|\mathbf x\|$** from the forward recurrence, by repeated squaring of the period
  propagator (the history sum $\sum_m (P^m y_0)^\top Q (P^m y_0)$ doubles in $O(D^3\log M)$).
* **degree** $d$ of the inverse polynomial at the relative error $\varepsilon_P$ that the
  compiler would choose (:func:`qrtc.qsp.polynomial.inverse_polynomial_degree`), its scale $s$
  (:func:`~qrtc.qsp.polynomial.inverse_polynomial_scale`), the success probability
  $p = (s\alpha\|\mathbf x\|/\|\mathbf b\|)^2$ and the amplitude-amplification rounds
  $k = \lfloor \pi/(4\arcsin\sqrt p) \rfloor$: $d(2k+1)$ block-encoding queries.
* **gates** of one query by the formulas of :mod:`qrtc.resources.formulas` (equal to
  the counted circuit), and of the QSVT circuit around it.

**Model size.** ``params`` rescales the model by $r = n/n_0$ along the paper's sparse family
(paper.md §6.5): every state coordinate scales with $n$ ($d_z \to r d_z$), the row sparsity,
$\alpha$, $\Lambda$, $\|\mathbf x\|/\|\mathbf b\|$ and $g$ stay at the spec's values (assumptions
A2-A3 read as $n$-independent, the premise of the polylog claim [P4]), so queries do not change
with $n$; registers widen as $\log_2 D_N$; the tabulated oracles that qrtc builds cost
$O(\mathrm{nnz}\,\hat C)$ per query, with $\mathrm{nnz}$ of Carleman level $j$ growing as
$r^j$. These figures are marked ``extrapolated``. The paper's polylog gate count needs
arithmetic oracles, which qrtc does not build.

**Optimal QLSA** (paper.md §6.3, Costa et al., PRX Quantum 3, 040303, 2022): the discrete
adiabatic walk takes at most $2305\,\kappa$ steps (their proven constant); Costa, An, Babbush
and Berry (arXiv 2312.07690) measured about $1.84\,\kappa$ on random matrices. Both are shown;
the eigenstate-filtering stage ($O(\kappa\log(1/\varepsilon))$) is not included in either.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

import qrtc.pipeline as pipeline
from qrtc.circuits.sparse_access import SparseAccessTables
from qrtc.errors import CompileError
from qrtc.ir.carleman import CarlemanMaps, level_offset, lifted_size
from qrtc.ir.polynomial_maps import PolynomialMap
from qrtc.ir.spec import Spec
from qrtc.numerics.conditioning import (
    MAX_LANCZOS_KAPPA_DIM,
    effective_condition_number,
    exact_kappa_method,
)
from qrtc.numerics.lift import lift
from qrtc.numerics.propagator import inverse_norm_bound, live_coordinates, window_norms
from qrtc.numerics.recurrence import forward_history
from qrtc.numerics.select_matrix import carleman_select_matrix
from qrtc.passes.invert_block_encoding import (
    POLYNOMIAL_MAX_ABS,
    POLYNOMIAL_SHARE,
    polynomial_error,
)
from qrtc.qsp.phases import symmetric_phases
from qrtc.qsp.polynomial import (
    cks_degree,
    inverse_polynomial,
    inverse_polynomial_degree,
    inverse_polynomial_scale,
)
from qrtc.resources.counted import DEFAULT_SYNTHESIS_ERROR, GateCounts, Resources
from qrtc.resources.formulas import predict_structured_resources, qsvt_resources

__all__ = [
    "COSTA_BOUND_CONSTANT",
    "COSTA_MEASURED_CONSTANT",
    "ResourceEstimate",
    "estimate_resources",
    "formulas",
    "history_norms",
]

COSTA_BOUND_CONSTANT = 2305.0
COSTA_MEASURED_CONSTANT = 1.84
# The CKS series is summed term by term: O(kappa sqrt(log)) memory, skipped beyond this kappa.
MAX_CKS_KAPPA = 1e6
# Repeated squaring of dense D x D matrices up to this D; sparse recurrence beyond.
_MAX_DENSE_HISTORY = 1500
# Phases are solved (to count Clifford phases exactly, as built) up to this degree.
MAX_PHASE_DEGREE = 20_001


@dataclass(frozen=True, slots=True)
class ResourceEstimate:
    r"""Resources of the QSVT inversion of one spec at a given horizon and model size.

    Attributes:
        horizon, pgd_steps, n_params: $T$, $K$, $n$ of the estimate.
        n_params_spec: $n_0$ of the spec as written; ``n_params / n_params_spec`` is $r$.
        carleman_order, state_size, lifted_size: $N$, $d_z$, $D_N$ at this size.
        padding, n_blocks, dim: $p$, $n_b = S + 1 + p$, $\dim\mathbf L = n_b D_N$.
        alpha: $\alpha$ of the structured block encoding.
        kappa: $\kappa_{\rm eff}$; ``kappa_source`` says how it was found.
        rhs_norm, solution_norm: $\|\mathbf b\|$, $\|\mathbf x\|$.
        terminal_probability: $g$, the weight of the $p+1$ terminal blocks in $|\mathbf x\rangle$.
        polynomial_error, degree, scale: $\varepsilon_P$, $d$, $s$ of the inverse polynomial.
        success_probability: $p$; ``rounds``: amplitude-amplification rounds $k$.
        queries: $d(2k+1)$ uses of $U$; ``queries_terminal`` also amplifies the terminal blocks.
        cks_degree: Childs–Kothari–Somma degree at equal error (None above ``MAX_CKS_KAPPA``).
        costa_bound, costa_measured: optimal-QLSA walk steps, $2305\kappa$ and $1.84\kappa$.
        one_query, circuit: resources of $U$ and of the QSVT circuit (one run, no rounds).
        classical_operations: $T(K\,c_{\mathcal A} + c_{\mathcal L})$, $c$ the terms of the
            polynomial update maps: the multiply-adds of the exact classical PGD run.
        extrapolated: which figures rest on the sparse-family assumption (empty at $r = 1$).
    """

    spec_file: str
    horizon: int
    pgd_steps: int
    n_params: int
    n_params_spec: int
    carleman_order: int
    state_size: int
    lifted_size: int
    padding: int
    n_blocks: int
    dim: int
    alpha: float
    kappa: float
    kappa_source: str
    rhs_norm: float
    solution_norm: float
    terminal_probability: float
    polynomial_error: float
    degree: int
    scale: float
    success_probability: float
    rounds: int
    queries: int
    queries_terminal: int
    cks_degree: int | None
    costa_bound: float
    costa_measured: float
    one_query: Resources
    circuit: Resources
    classical_operations: float
    extrapolated: tuple[str, ...] = field(default=())

    @property
    def qubits(self) -> dict[str, int]:
        return dict(self.circuit.qubits)

    @property
    def n_qubits(self) -> int:
        return sum(self.circuit.qubits.values())

    @property
    def total_gates(self) -> GateCounts:
        """Gates of the whole amplified run: the circuit $(2k+1)$ times."""
        return self.circuit.gates * (2 * self.rounds + 1)

    @property
    def t_count(self) -> int:
        return self.total_gates.t_count(DEFAULT_SYNTHESIS_ERROR)

    @property
    def depth(self) -> int:
        return (self.circuit.depth or 0) * (2 * self.rounds + 1)

    def to_json(self) -> dict[str, Any]:
        gates = self.total_gates
        return {
            "spec": self.spec_file,
            "horizon": self.horizon,
            "pgd_steps": self.pgd_steps,
            "params": self.n_params,
            "params_spec": self.n_params_spec,
            "carleman_order": self.carleman_order,
            "state_size": self.state_size,
            "lifted_size": self.lifted_size,
            "padding": self.padding,
            "n_blocks": self.n_blocks,
            "dim": self.dim,
            "alpha": self.alpha,
            "kappa_eff": self.kappa,
            "kappa_source": self.kappa_source,
            "rhs_norm": self.rhs_norm,
            "solution_norm": self.solution_norm,
            "terminal_probability": self.terminal_probability,
            "polynomial_error": self.polynomial_error,
            "degree": self.degree,
            "scale": self.scale,
            "success_probability": self.success_probability,
            "rounds": self.rounds,
            "queries": self.queries,
            "queries_with_terminal_amplification": self.queries_terminal,
            "cks_degree": self.cks_degree,
            "costa_bound": self.costa_bound,
            "costa_measured": self.costa_measured,
            "qubits": self.qubits,
            "n_qubits": self.n_qubits,
            "one_query": self.one_query.to_json(),
            "circuit": self.circuit.to_json(),
            "total": {
                "gates": dataclasses.asdict(gates),
                "toffoli": gates.toffoli,
                "t_count": self.t_count,
                "depth_bound": self.depth,
            },
            "classical_operations": self.classical_operations,
            "extrapolated": list(self.extrapolated),
        }

    def to_table(self) -> str:
        mark = " (extrapolated)" if self.extrapolated else ""
        gates = self.total_gates
        registers = ", ".join(f"{name} {size}" for name, size in self.qubits.items())
        rows = [
            ("horizon T, PGD steps K", f"{self.horizon:,}, {self.pgd_steps}"),
            ("parameters n", f"{self.n_params:,}" + (mark if self.extrapolated else "")),
            (
                "Carleman order N, d_z, D_N",
                f"{self.carleman_order}, {self.state_size:,}, {self.lifted_size:,}",
            ),
            ("dim L (blocks x D_N)", f"{self.dim:,} ({self.n_blocks:,} x {self.lifted_size:,})"),
            ("alpha", f"{self.alpha:.4g}"),
            ("kappa_eff", f"{self.kappa:.4g} ({self.kappa_source})"),
            ("|x| / |b|", f"{self.solution_norm / self.rhs_norm:.4g}"),
            ("polynomial: degree (rel. error)", f"{self.degree:,} ({self.polynomial_error:.3g})"),
            ("success probability, rounds", f"{self.success_probability:.4g}, {self.rounds:,}"),
            ("queries to U: d(2k+1)", f"{self.queries:,}"),
            (
                "  with the terminal blocks amplified",
                f"{self.queries_terminal:,} (g = {self.terminal_probability:.3g})",
            ),
            (
                "Childs-Kothari-Somma degree (equal error)",
                "-" if self.cks_degree is None else f"{self.cks_degree:,}",
            ),
            (
                "optimal QLSA walk steps (Costa et al.)",
                f"<= {self.costa_bound:,.0f} proven; ~{self.costa_measured:,.0f} measured",
            ),
            ("qubits", f"{self.n_qubits} ({registers}){mark}"),
            ("gates per query", f"{self.one_query.gates.total:,}{mark}"),
            ("Toffoli (whole run)", f"{gates.toffoli:,}{mark}"),
            (f"T estimate (eps_synth = {DEFAULT_SYNTHESIS_ERROR:g})", f"{self.t_count:,}{mark}"),
            ("depth (upper bound)", f"{self.depth:,}{mark}"),
            ("classical PGD multiply-adds", f"{self.classical_operations:,.0f}"),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"resources of {self.spec_file} (formulas; nothing of this size is built)"]
        lines += [f"  {name:<{width}}  {value}" for name, value in rows]
        if self.extrapolated:
            lines.append("  extrapolated along the sparse family: " + ", ".join(self.extrapolated))
        return "\n".join(lines) + "\n"


def _map_terms(polynomial_map: PolynomialMap) -> int:
    return int(np.count_nonzero(polynomial_map.constant)) + sum(
        term.nnz for term in polynomial_map.terms
    )


def history_norms(carleman: CarlemanMaps, padding: int) -> tuple[float, float, float]:
    r"""$(\|\mathbf b\|, \|\mathbf x\|, g)$ of the block system, by repeated squaring.

    $\|\mathbf x\|^2 = \sum_{s<S}\|y_s\|^2 + (p+1)\|y_S\|^2$ with $y_s = C_s\cdots C_1 y_0$;
    with $P$ the period propagator and $Q = \sum_\varphi \mathrm{pre}_\varphi^\top
    \mathrm{pre}_\varphi$ over the prefixes of one period, the history is
    $\sum_{m<T}(P^m y_0)^\top Q\,(P^m y_0)$; $G_{2^k} = \sum_{m<2^k} P^{m\top} Q P^m$ doubles as
    $G_{2^{k+1}} = G_{2^k} + P^{2^k\top} G_{2^k} P^{2^k}$.
    """
    size = carleman.lifted_size
    y0 = lift(carleman, carleman.initial_state - carleman.expansion_point)
    steps = [carleman.attack.matrix] * carleman.pgd_steps + [carleman.learner.matrix]
    if size > _MAX_DENSE_HISTORY:
        return _history_by_recurrence(carleman, padding, y0)
    prefix = np.eye(size)
    gram = np.zeros((size, size))
    for step in steps:
        gram += prefix.T @ prefix
        prefix = step @ prefix
    power, total, state = prefix, 0.0, y0
    with np.errstate(all="ignore"):
        levels: list[tuple[NDArray[np.float64], NDArray[np.float64]]] = []
        remaining = carleman.horizon
        while remaining:
            levels.append((power, gram))
            remaining >>= 1
            if remaining:
                gram = gram + power.T @ gram @ power
                power = power @ power
        for bit in reversed(range(len(levels))):
            if carleman.horizon >> bit & 1:
                power_k, gram_k = levels[bit]
                total += float(state @ gram_k @ state)
                state = power_k @ state
        terminal = (padding + 1) * float(state @ state)
    solution = math.sqrt(total + terminal)
    return float(np.linalg.norm(y0)), solution, terminal / (total + terminal)


def _history_by_recurrence(
    carleman: CarlemanMaps, padding: int, y0: NDArray[np.float64]
) -> tuple[float, float, float]:
    """The same by sparse mat-vecs, one per sub-step, for lifted sizes too large to square."""
    recurrence = forward_history(carleman)
    if recurrence is None:
        raise CompileError(
            f"the solution norm needs {carleman.n_substeps:,} sparse steps of size "
            f"{carleman.lifted_size:,}: too many to estimate here",
            span=carleman.origin,
            hint="lower the horizon or the Carleman order",
        )
    total, state = recurrence
    with np.errstate(all="ignore"):
        terminal = (padding + 1) * float(state @ state)
    return float(np.linalg.norm(y0)), math.sqrt(total + terminal), terminal / (total + terminal)


def _level_nnz(carleman: CarlemanMaps) -> NDArray[np.float64]:
    """Non-zeros of $\\hat C$ by Carleman level of the row (the identity block included)."""
    counts = np.zeros(carleman.order + 1)
    for matrix in (carleman.attack.matrix, carleman.learner.matrix):
        rows = np.diff(matrix.indptr)
        for level in range(carleman.order + 1):
            start = level_offset(carleman.state_size, level)
            stop = level_offset(carleman.state_size, level + 1)
            counts[level] += rows[start:stop].sum()
    counts += [carleman.state_size**j for j in range(carleman.order + 1)]
    return counts


def _scaled_query(one_query: Resources, carleman: CarlemanMaps, factor: float) -> Resources:
    """One query of the structured encoding of the model scaled by ``factor`` (sparse family)."""
    state = max(1, math.ceil(carleman.state_size * factor))
    new_lifted = max(1, (lifted_size(state, carleman.order) - 1).bit_length())
    old_lifted = one_query.qubits["lifted"]
    levels = _level_nnz(carleman)
    growth = float(sum(n * factor**j for j, n in enumerate(levels)) / max(1.0, float(levels.sum())))
    # A table entry costs a ladder over its address (2 lifted registers plus the block type).
    address = (2 * new_lifted + 4) / (2 * old_lifted + 4)
    per_query = growth * address
    gates = GateCounts(
        *(round(value * per_query) for value in dataclasses.astuple(one_query.gates))
    )
    qubits = dict(one_query.qubits)
    qubits["lifted"] = new_lifted
    qubits["out"] = new_lifted + 2
    qubits["work"] = one_query.qubits["work"] + 2 * (new_lifted - old_lifted)
    depth = round((one_query.depth or 0) * per_query)
    return dataclasses.replace(one_query, qubits=qubits, gates=gates, depth=depth)


def estimate_resources(
    spec: Spec,
    *,
    horizon: int | None = None,
    params: int | None = None,
    precision: float | None = None,
    exact_kappa: bool = False,
    known_kappa: tuple[float, str] | None = None,
) -> ResourceEstimate:
    r"""The resources of ``spec``'s QSVT inversion at ``horizon`` and ``params`` (defaults: as
    written), by formula.

    Raises:
        QrtError: the spec is invalid or breaks an assumption at its own size; with
            ``exact_kappa``, also when kappa_eff would be a bound (before computing it).

    ``known_kappa``: ($\kappa_{\rm eff}$, its source) of ``spec`` at this horizon, when the caller
    already has it (it does not depend on ``params``).
    """
    compilation = pipeline.compile(spec, until="block_system")
    if horizon is not None or precision is not None:
        compilation = compilation.derive(horizon=horizon, precision=precision)
    carleman, maps = compilation.carleman, compilation.maps
    options = compilation.compile_options
    n_params_spec = carleman.n_params
    n_params = n_params_spec if params is None else params
    if n_params < 1:
        raise CompileError(f"params must be at least 1, not {n_params}", span=options.span)
    factor = n_params / n_params_spec

    substeps = carleman.n_substeps
    padding = substeps if options.padding is None else options.padding
    n_blocks = substeps + 1 + padding
    tables = SparseAccessTables.from_matrix(carleman_select_matrix(carleman))
    one_query = predict_structured_resources(carleman, n_blocks, tables)
    alpha = 1.0 + float(tables.alpha)
    live_dim = n_blocks * live_coordinates(carleman).size
    method = exact_kappa_method(live_dim)
    if exact_kappa and method is None:
        raise CompileError(
            f"the live part of L has dimension {live_dim:,}, above {MAX_LANCZOS_KAPPA_DIM:,}: "
            "kappa_eff would be the window-norm bound, not exact",
            span=options.span,
        )
    found = False  # kappa_eff known, or computed from L's singular values
    if known_kappa is not None:
        (kappa, source), found = known_kappa, True
    elif method is not None:
        kappa, found = effective_condition_number(compilation.block_system, alpha)
        source = f"exact, {method}"
    if not found:
        windows = window_norms(carleman)
        kappa = alpha * max(1.0, inverse_norm_bound(windows, substeps, padding))
        source = (
            "bound, exact windows"
            if windows.propagator_is_exact(substeps)
            else f"bound, {windows.tail_kind} tail"
        )
    if not math.isfinite(kappa):
        raise CompileError(
            f"no finite bound on kappa_eff at horizon {carleman.horizon:,}: the period map of "
            "the dynamics grows (assumption A3, local stability, fails)",
            span=options.span,
            hint="`qrtc report FILE` shows the propagator norm; a smaller learning rate or a "
            "shorter horizon keeps the dynamics stable",
        )
    rhs_norm, solution_norm, terminal = history_norms(carleman, padding)
    error = polynomial_error(
        carleman.scale, padding, solution_norm, POLYNOMIAL_SHARE * options.precision
    )
    degree = inverse_polynomial_degree(kappa, error)
    scale = inverse_polynomial_scale(kappa, error, max_abs=POLYNOMIAL_MAX_ABS)
    success = min(1.0, (scale * alpha * solution_norm / rhs_norm) ** 2)
    rounds = _rounds(success)
    phases = None
    if degree <= MAX_PHASE_DEGREE:
        polynomial = inverse_polynomial(kappa, error, max_abs=POLYNOMIAL_MAX_ABS)
        phases = symmetric_phases(polynomial.coefficients).phases
    extrapolated: tuple[str, ...] = ()
    if factor != 1.0:
        one_query = _scaled_query(one_query, carleman, factor)
        extrapolated = ("qubits", "gates per query", "Toffoli", "T", "depth")
    circuit = qsvt_resources(one_query, degree, phases)
    attack_terms, learner_terms = _map_terms(maps.attack), _map_terms(maps.learner)
    classical = carleman.horizon * (carleman.pgd_steps * attack_terms + learner_terms) * factor
    state_size = max(1, math.ceil(carleman.state_size * factor))
    lifted = lifted_size(state_size, carleman.order)
    return ResourceEstimate(
        spec_file=str(spec.file),
        horizon=carleman.horizon,
        pgd_steps=carleman.pgd_steps,
        n_params=n_params,
        n_params_spec=n_params_spec,
        carleman_order=carleman.order,
        state_size=state_size,
        lifted_size=lifted,
        padding=padding,
        n_blocks=n_blocks,
        dim=n_blocks * lifted,
        alpha=alpha,
        kappa=kappa,
        kappa_source=source,
        rhs_norm=rhs_norm,
        solution_norm=solution_norm,
        terminal_probability=terminal,
        polynomial_error=error,
        degree=degree,
        scale=scale,
        success_probability=success,
        rounds=rounds,
        queries=degree * (2 * rounds + 1),
        queries_terminal=degree * (2 * _rounds(success * terminal) + 1),
        cks_degree=(cks_degree(kappa, min(0.5, kappa * error)) if kappa <= MAX_CKS_KAPPA else None),
        costa_bound=COSTA_BOUND_CONSTANT * kappa,
        costa_measured=COSTA_MEASURED_CONSTANT * kappa,
        one_query=one_query,
        circuit=circuit,
        classical_operations=float(classical),
        extrapolated=extrapolated,
    )


def _rounds(probability: float) -> int:
    r"""$k = \lfloor \pi/(4\arcsin\sqrt p)\rfloor$ rounds of amplitude amplification
    (Brassard, Høyer, Mosca, Tapp): success $\sin^2((2k+1)\arcsin\sqrt p) \ge 1 - p$."""
    if probability <= 0.0:
        return 0
    angle = math.asin(math.sqrt(min(1.0, probability)))
    return math.floor(math.pi / (4 * angle))


def formulas() -> dict[str, Any]:
    r"""The estimate's formulas as sympy expressions (``pip install 'qrtc[symbolic]'``).

    Symbols: $T, K, p, N, d_z, \alpha, \Lambda_\infty$ (window-norm tail), $\varepsilon$
    (``precision``), $\gamma$ (Carleman scale), $\|x\|, \|b\|$, $B$ (the certified peak of
    $|P/s|$, about $\kappa$), $c_{\mathcal A}, c_{\mathcal L}$ (terms of the update maps),
    $n_{\rm Tof}, n_{\rm rot}, \varepsilon_{\rm synth}$. The window sum is written with its
    tail bound, $\Sigma_S \le (S+1)\Lambda_\infty$, an upper bound on what
    :func:`estimate_resources` computes.

    Raises:
        CompileError: sympy is not installed.
    """
    try:
        import sympy as sp
    except ImportError:
        raise CompileError("symbolic formulas need sympy: pip install 'qrtc[symbolic]'") from None
    T, K, p, N, d_z, j = sp.symbols("T K p N d_z j", integer=True, positive=True)
    alpha, tail, eps, gamma, x, b, peak = sp.symbols(
        "alpha Lambda_inf epsilon gamma x_norm b_norm B", positive=True
    )
    c_A, c_L, toffoli, rotations, eps_synth = sp.symbols(
        "c_A c_L n_Toffoli n_rot epsilon_synth", positive=True
    )
    substeps = T * (K + 1)
    n_blocks = substeps + 1 + p
    lifted = sp.Sum(d_z**j, (j, 0, N))
    window_sum = (substeps + 1) * tail
    kappa = alpha * sp.sqrt((window_sum + p) * (window_sum + p * tail))
    eps_p = sp.Min(sp.Rational(1, 10), POLYNOMIAL_SHARE * eps * sp.sqrt(p + 1) / (gamma * x))
    degree = 2 * sp.ceiling(sp.acosh(1 / eps_p) / (2 * sp.atanh(1 / kappa))) - 1
    success = (sp.Float(POLYNOMIAL_MAX_ABS) / peak * alpha * x / b) ** 2
    rounds = sp.floor(sp.pi / (4 * sp.asin(sp.sqrt(success))))
    return {
        "n_blocks": n_blocks,
        "lifted_size": lifted,
        "dim_L": n_blocks * lifted,
        "time_qubits": sp.ceiling(sp.log(sp.ceiling(n_blocks / (K + 1)), 2))
        + sp.ceiling(sp.log(K + 1, 2)),
        "lifted_qubits": sp.ceiling(sp.log(lifted, 2)),
        "kappa_eff": kappa,
        "polynomial_error": eps_p,
        "degree": degree,
        "success_probability": success,
        "rounds": rounds,
        "queries": degree * (2 * rounds + 1),
        "costa_bound": COSTA_BOUND_CONSTANT * kappa,
        "costa_measured": COSTA_MEASURED_CONSTANT * kappa,
        "t_count": 7 * toffoli + rotations * sp.ceiling(3 * sp.log(rotations / eps_synth, 2)),
        "classical_operations": T * (K * c_A + c_L),
    }
