r"""The driver: the pipeline as data, and the one place that calls its passes.

:data:`STAGES` is the registry of every stage, in order — name, what it builds, its output
type and the pass (or backend) that builds it. It is the only list of stage names: ``qrtc
compile --emit``, the progress bars, ``qrtc run``'s stage table and the verification rungs all
read it. :func:`compile` returns a :class:`Compilation` whose attribute for each stage is built
on first use, once (earlier stages first, each timed and reported to ``on_stage``)::

    c = qrtc.compile("examples/tiny_robust.qrt")
    c.block_system        # problem, trajectory, maps, carleman are built on the way
    c.qsvt.circuit        # the QSVT inversion circuit, without simulating it
    c.readout.theta_quantum

The decisions taken between stages are made here and nowhere else: the automatic encoding
choice (:func:`choose_encoding`), the polynomial's share of ``precision``
(:data:`~qrtc.passes.invert_block_encoding.POLYNOMIAL_SHARE`, through
:func:`~qrtc.passes.invert_block_encoding.polynomial_error_for`), and the simulation's size and
time model (:mod:`qrtc.backends.simulate`), checked before the QSVT circuit is built when the
compilation goes as far as simulating it.

With ``verify=True`` (the default when the environment sets ``QRTC_VERIFY=1``; always in
tests) each stage's ``verify()`` runs on the pass's output, where the IR has one, and then the
stage's ``check``: the checks that need shared numerics, which the IR does not import.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, get_args

import numpy as np
from numpy.typing import NDArray

from qrtc.errors import CompileError, QrtError
from qrtc.frontend.parse import parse_file
from qrtc.ir.spec import Spec

# Passes and backends are imported by the stages that call them, so that importing the driver
# (every command does, for the stage names) loads neither scipy's solvers nor cirq.
if TYPE_CHECKING:
    import cirq

    from qrtc.backends.simulate import PostselectedState
    from qrtc.ir.block_encoding import BlockEncoding
    from qrtc.ir.block_system import BlockSystem
    from qrtc.ir.carleman import CarlemanMaps
    from qrtc.ir.polynomial_maps import PolynomialMaps
    from qrtc.ir.problem import CompileOptions, Problem
    from qrtc.ir.qsvt import QsvtCircuit
    from qrtc.ir.readout import Readout
    from qrtc.ir.trajectory import Trajectory
    from qrtc.numerics.conditioning import EffectiveConditionNumber

__all__ = [
    "CLASSICAL_STAGES",
    "STAGES",
    "STAGE_NAMES",
    "Compilation",
    "EncodingChoice",
    "PipelineOptions",
    "SimulationPlan",
    "Stage",
    "StageEntry",
    "choose_encoding",
    "compile",
    "compile_spec",
    "stage_entry",
]

Stage = Literal[
    "problem",
    "trajectory",
    "maps",
    "carleman",
    "block_system",
    "block_encoding",
    "qsvt",
    "simulation",
    "readout",
]
EncodingChoice = Literal["auto", "structured", "generic"]
Simulator = Literal["qsim", "cirq"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineOptions:
    """What the command line (or a caller) chooses beyond the spec's own ``compile`` block.

    Attributes:
        encoding: the block encoding of $\\mathbf L$: ``"auto"`` (:func:`choose_encoding`),
            ``"structured"`` or ``"generic"``.
        simulator: ``"qsim"`` (complex64) or ``"cirq"`` (``cirq.Simulator``, complex128).
        shots: also sample the post-selection this many times (None: exact only).
        seed: seed of that sampling.
        cross_check: simulate with the other simulator too and keep the largest difference.
        time_limit_s: refuse a simulation the time model puts above this (seconds).
        verify: run each stage's ``verify()`` on the pass's output.
    """

    encoding: EncodingChoice = "auto"
    simulator: Simulator = "qsim"
    shots: int | None = None
    seed: int | None = None
    cross_check: bool = False
    time_limit_s: float = 600.0
    verify: bool = False

    def __post_init__(self) -> None:
        if self.encoding not in get_args(EncodingChoice):
            raise ValueError(
                f"encoding must be one of {get_args(EncodingChoice)}, not {self.encoding!r}"
            )
        if self.simulator not in get_args(Simulator):
            raise ValueError(
                f"simulator must be one of {get_args(Simulator)}, not {self.simulator!r}"
            )
        if self.shots is not None and self.shots < 1:
            raise ValueError(f"shots must be a positive integer, not {self.shots!r}")
        if not self.time_limit_s > 0:
            raise ValueError(f"time_limit_s must be positive, not {self.time_limit_s!r}")


@dataclass(frozen=True, slots=True)
class StageEntry:
    """One stage of the registry: its name, what it is, its output type and how it is built.

    ``build(compilation)`` calls the stage's pass on the stages before it (already built);
    ``check(output)``, if any, runs after ``output.verify()`` when the compilation verifies.
    """

    name: Stage
    summary: str
    output: str
    build: Callable[[Compilation], object]
    check: Callable[[Any], None] | None = None

    @property
    def index(self) -> int:
        return STAGE_NAMES.index(self.name)

    @property
    def cli_name(self) -> str:
        """The name on the command line (``--emit block-system``)."""
        return self.name.replace("_", "-")


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationPlan:
    """The size of the QSVT simulation, known before its circuit is built.

    Attributes:
        width: qubits the simulation holds (work qubits of the lowered $U$ included).
        degree: the inverse polynomial's degree (queries to $U$).
        operations: lowered operations applied (``degree`` times $U$'s, plus the phases).
        seconds: the time model's estimate (:func:`~qrtc.backends.simulate.check_simulation_time`).
    """

    width: int
    degree: int
    operations: int
    seconds: float


class Compilation:
    """Everything built from one spec, each stage on first use and then kept.

    Attributes named after the stages (:data:`STAGE_NAMES`) build that stage and every one
    before it; building one past ``until`` raises ``ValueError``. A stage that failed raises
    the same error again. ``seconds`` holds each built stage's wall time.
    """

    def __init__(
        self,
        spec: Spec,
        *,
        until: Stage = "readout",
        options: PipelineOptions | None = None,
        compile_options: CompileOptions | None = None,
        on_stage: Callable[[Stage, int, int], None] | None = None,
    ) -> None:
        if until not in STAGE_NAMES:
            raise ValueError(f"unknown stage {until!r}; stages: {', '.join(STAGE_NAMES)}")
        self.spec = spec
        self.until: Stage = until
        self.options = options if options is not None else PipelineOptions()
        self.on_stage = on_stage
        self.seconds: dict[str, float] = {}
        self._compile_options = compile_options
        self._built: dict[str, tuple[bool, Any]] = {}
        self._memo: dict[str, Any] = {}

    def __repr__(self) -> str:
        built = [name for name in STAGE_NAMES if self._built.get(name, (False,))[0]]
        return f"<Compilation of {self.spec.file!r}, until {self.until!r}, built: {built}>"

    # -- building -------------------------------------------------------------------------------

    def stage(self, name: Stage) -> object:
        """The stage ``name``, built (with every stage before it) if it was not yet."""
        if name not in STAGE_NAMES:
            raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGE_NAMES)}")
        target = STAGE_NAMES.index(name)
        if target > STAGE_NAMES.index(self.until):
            raise ValueError(f"stage {name!r} is past this compilation's last, {self.until!r}")
        for entry in STAGES[: target + 1]:
            if entry.name not in self._built:
                self._build(entry)
        ok, value = self._built[name]
        if not ok:
            raise value
        return value

    def _build(self, entry: StageEntry) -> None:
        if self.on_stage is not None:
            self.on_stage(entry.name, entry.index, STAGE_NAMES.index(self.until) + 1)
        started = time.perf_counter()
        try:
            value = entry.build(self)
            if self.options.verify and hasattr(value, "verify"):
                value.verify()
            if self.options.verify and entry.check is not None:
                entry.check(value)
        except QrtError as error:
            self._built[entry.name] = (False, error)
            raise
        finally:
            self.seconds[entry.name] = time.perf_counter() - started
        self._built[entry.name] = (True, value)

    def build(self, until: Stage | None = None) -> Compilation:
        """Build every stage up to ``until`` (default: this compilation's last); returns self."""
        self.stage(until or self.until)
        return self

    def is_built(self, name: Stage) -> bool:
        """Whether stage ``name`` was built (successfully)."""
        return self._built.get(name, (False,))[0] is True

    def _once(self, key: str, make: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = make()
        return cast(T, self._memo[key])

    # -- the stages -----------------------------------------------------------------------------

    @property
    def problem(self) -> Problem:
        """The checked spec: numbers only (:func:`qrtc.check`)."""
        return cast("Problem", self.stage("problem"))

    @property
    def trajectory(self) -> Trajectory:
        """The exact classical PGD trajectory (:func:`qrtc.reference.train`)."""
        return cast("Trajectory", self.stage("trajectory"))

    @property
    def maps(self) -> PolynomialMaps:
        return cast("PolynomialMaps", self.stage("maps"))

    @property
    def carleman(self) -> CarlemanMaps:
        return cast("CarlemanMaps", self.stage("carleman"))

    @property
    def block_system(self) -> BlockSystem:
        return cast("BlockSystem", self.stage("block_system"))

    @property
    def block_encoding(self) -> BlockEncoding:
        return cast("BlockEncoding", self.stage("block_encoding"))

    @property
    def qsvt(self) -> QsvtCircuit:
        return cast("QsvtCircuit", self.stage("qsvt"))

    @property
    def simulation(self) -> PostselectedState:
        return cast("PostselectedState", self.stage("simulation"))

    @property
    def readout(self) -> Readout:
        return cast("Readout", self.stage("readout"))

    # -- what the stages share ------------------------------------------------------------------

    @property
    def compile_options(self) -> CompileOptions:
        """The spec's ``compile`` block, with this compilation's overrides."""
        if self._compile_options is not None:
            return self._compile_options
        return self.problem.options

    @property
    def solution(self) -> NDArray[np.float64]:
        r"""$\mathbf x = \mathbf L^{-1}\mathbf b$ by sparse LU, shape ``(dim,)``."""
        from qrtc.passes.read_out import classical_solution

        return self._once("solution", lambda: classical_solution(self._explicit_system()))

    @property
    def polynomial_error(self) -> float:
        r"""$\varepsilon_P$, the polynomial's share of ``precision``, relative to
        $\|\mathbf x\|$."""
        from qrtc.passes.invert_block_encoding import polynomial_error_for

        norm = float(np.linalg.norm(self.solution))
        return polynomial_error_for(self.block_system, norm, self.compile_options.precision)

    @property
    def kappa(self) -> EffectiveConditionNumber:
        r"""$\kappa_{\rm eff}$ of the block encoding that was chosen."""
        from qrtc.numerics.conditioning import effective_condition_number

        return self._once(
            "kappa",
            lambda: effective_condition_number(self.block_system, self.block_encoding.alpha),
        )

    def lowered_encoding(self) -> cirq.Circuit:
        """The chosen $U$ in the gates qsim runs (what the simulation applies per query)."""
        encoding = self.block_encoding
        return self._lowered(encoding.method, encoding)

    def _lowered(self, method: str, encoding: BlockEncoding) -> cirq.Circuit:
        from qrtc.backends.simulate import lower_for_simulation

        return self._once(f"lowered {method}", lambda: lower_for_simulation(encoding.circuit))

    @property
    def simulation_plan(self) -> SimulationPlan:
        """The QSVT simulation's size, checked against memory and ``time_limit_s``.

        Raises:
            SimulationTooLarge: it would not fit in memory or not finish within the limit.
        """
        from qrtc.backends import simulate
        from qrtc.qsp.polynomial import inverse_polynomial_degree

        def plan() -> SimulationPlan:
            what = f"the QSVT circuit of {self.spec.file}"
            encoding = self.block_encoding
            # The gate-level width is a lower bound: refuse before lowering (minutes when wide).
            simulate.check_fits(len(encoding.qubit_order) + simulate.QSVT_ANCILLAS, what=what)
            lowered = self.lowered_encoding()
            width = simulate.qsvt_width(encoding.qubit_order, lowered)
            simulate.check_fits(width, what=what)
            # The degree first (milliseconds): refuse a hopeless simulation before building it.
            degree = inverse_polynomial_degree(self.kappa.value, self.polynomial_error)
            operations = simulate.qsvt_operations(lowered, degree)
            seconds = simulate.check_simulation_time(
                operations, width, limit_s=self.options.time_limit_s, what=what
            )
            return SimulationPlan(
                width=width, degree=degree, operations=operations, seconds=seconds
            )

        return self._once("simulation plan", plan)

    @property
    def cross_check(self) -> float | None:
        """Largest amplitude difference between qsim and ``cirq.Simulator`` (None unless the
        options ask for the cross-check)."""
        _ = self.simulation
        return cast("float | None", self._memo.get("cross check"))

    def initial_state(self) -> NDArray[np.complex128]:
        r"""$|0\rangle_{\rm anc}|\mathbf b\rangle$ on the QSVT circuit's qubits, shape
        ``(2**n_qubits,)``: ancillas most significant, $|\mathbf b\rangle$ at $e(i)$."""
        from qrtc.backends.qasm import input_state

        return input_state(self.qsvt, self.block_system.initial_block)

    def _explicit_system(self) -> BlockSystem:
        system = self.block_system
        if system.matrix is None:
            raise CompileError(
                f"L has dimension {system.dim:,}, too large to build explicitly, let alone "
                "simulate",
                span=system.origin,
                hint="estimate the resources instead: `qrtc resources FILE`",
            )
        return system

    # -- derived compilations -------------------------------------------------------------------

    def derive(
        self,
        *,
        horizon: int | None = None,
        carleman_order: int | None = None,
        precision: float | None = None,
    ) -> Compilation:
        """The same spec compiled with other options, sharing every stage they do not change.

        ``carleman_order`` re-embeds the maps (stages from ``carleman`` on are new). ``horizon``
        keeps the Carleman matrices and only lengthens the block system: the maps, frozen
        along the spec's own horizon, are assumed to hold beyond it (what ``qrtc resources
        --set horizon`` extrapolates). ``precision`` changes the error budget from the block
        system on.
        """
        options = self.compile_options
        if carleman_order is not None:
            options = dataclasses.replace(options, carleman_order=carleman_order)
        if precision is not None:
            options = dataclasses.replace(options, precision=precision)
        last = max(STAGE_NAMES.index(self.until), STAGE_NAMES.index("block_system"))
        derived = Compilation(
            self.spec, until=STAGE_NAMES[last], options=self.options, compile_options=options
        )
        shared: tuple[Stage, ...] = ("problem", "trajectory", "maps")
        if carleman_order is None:
            shared += ("carleman",)
        for name in shared:
            derived._built[name] = (True, self.stage(name))
        if horizon is not None and carleman_order is None:
            if horizon < 1:
                raise CompileError(f"horizon must be at least 1, not {horizon}", span=options.span)
            derived._built["carleman"] = (
                True,
                dataclasses.replace(self.carleman, horizon=horizon),
            )
        return derived

    def carleman_by_order(self, orders: Iterable[int]) -> tuple[CarlemanMaps, ...]:
        """The maps embedded at each order of ``orders`` (increasing), stopping at the first
        the Carleman pass refuses as not buildable; that refusal is raised if it is the first.

        Raises:
            CompileError: not even the first order can be embedded.
        """
        embedded: list[CarlemanMaps] = []
        for order in orders:
            try:
                embedded.append(self.derive(carleman_order=order).carleman)
            except CompileError:
                if not embedded:
                    raise
                break
        return tuple(embedded)


# -- the passes, called from here alone ---------------------------------------------------------


def _problem(c: Compilation) -> Problem:
    from qrtc.frontend.check import check

    return check(c.spec)


def _trajectory(c: Compilation) -> Trajectory:
    from qrtc.reference import train

    return train(c.problem)


def _maps(c: Compilation) -> PolynomialMaps:
    from qrtc.passes.derive_polynomial_maps import derive_polynomial_maps

    return derive_polynomial_maps(c.problem, c.trajectory)


def _carleman(c: Compilation) -> CarlemanMaps:
    from qrtc.passes.carleman_embed import carleman_embed

    return carleman_embed(c.maps, options=c.compile_options)


def _block_system(c: Compilation) -> BlockSystem:
    from qrtc.passes.assemble_block_system import assemble_block_system

    return assemble_block_system(c.carleman, options=c.compile_options)


def _check_carleman(carleman: CarlemanMaps) -> None:
    from qrtc.numerics.lift import assert_lift_commutes

    assert_lift_commutes(carleman)


def _check_block_system(system: BlockSystem) -> None:
    from qrtc.numerics.block_matrix import assert_rows_agree

    assert_rows_agree(system)


def choose_encoding(c: Compilation, choice: EncodingChoice) -> BlockEncoding:
    """The block encoding of ``c.block_system``: the one named, or for ``"auto"`` the one
    whose lowered circuit is narrower (what limits a simulation), structured on a tie.

    The generic encoding is a candidate only up to ``MAX_GENERIC_NNZ`` non-zeros; candidates
    whose gate-level width does not fit in memory are not lowered (lowering a wide encoding
    alone can take minutes and gigabytes); if none fits, the narrowest by gate-level width.
    """
    from qrtc.backends import simulate
    from qrtc.passes.encode_block_system import MAX_GENERIC_NNZ, encode_block_system

    system = c.block_system
    if choice != "auto":
        return encode_block_system(system, method=choice)
    candidates = [encode_block_system(system, method="structured")]
    if system.matrix is not None and system.nnz <= MAX_GENERIC_NNZ:
        candidates.append(encode_block_system(system, method="generic"))
    widths = [len(e.qubit_order) + simulate.QSVT_ANCILLAS for e in candidates]
    fitting = [e for e, width in zip(candidates, widths, strict=True) if simulate.fits(width)]
    if not fitting:
        return candidates[widths.index(min(widths))]
    return min(fitting, key=lambda e: simulate.qsvt_width(e.qubit_order, c._lowered(e.method, e)))


def _block_encoding(c: Compilation) -> BlockEncoding:
    return choose_encoding(c, c.options.encoding)


def _qsvt(c: Compilation) -> QsvtCircuit:
    from qrtc.passes.invert_block_encoding import invert_block_encoding

    if STAGE_NAMES.index(c.until) >= STAGE_NAMES.index("simulation"):
        _ = c.simulation_plan  # refuse what would not finish before building its circuit
    return invert_block_encoding(
        c._explicit_system(),
        c.block_encoding,
        polynomial_error=c.polynomial_error,
        kappa=c.kappa,
    )


def _simulation(c: Compilation) -> PostselectedState:
    from qrtc.backends.simulate import simulate_postselected

    _ = c.simulation_plan
    qsvt, options = c.qsvt, c.options
    initial = c.initial_state()
    state = simulate_postselected(
        qsvt.circuit,
        qsvt.qubit_order,
        initial,
        qsvt.postselect,
        simulator=options.simulator,
        shots=options.shots,
        seed=options.seed,
    )
    if options.cross_check:
        other = simulate_postselected(
            qsvt.circuit,
            qsvt.qubit_order,
            initial,
            qsvt.postselect,
            simulator="cirq" if options.simulator == "qsim" else "qsim",
        )
        c._memo["cross check"] = float(np.max(np.abs(other.amplitudes - state.amplitudes)))
    return state


def _readout(c: Compilation) -> Readout:
    from qrtc.passes.read_out import read_out

    state = c.simulation
    return read_out(
        c.block_system,
        c.qsvt,
        c.trajectory,
        amplitudes=state.amplitudes,
        sampled_success_probability=state.sampled_success,
        shots=c.options.shots,
        solution=c.solution,
    )


STAGES: tuple[StageEntry, ...] = (
    StageEntry("problem", "the checked spec, numbers only", "Problem", _problem),
    StageEntry("trajectory", "exact classical PGD training (reference)", "Trajectory", _trajectory),
    StageEntry("maps", "attack and learner polynomial maps", "PolynomialMaps", _maps),
    StageEntry("carleman", "Carleman-linearised maps", "CarlemanMaps", _carleman, _check_carleman),
    StageEntry(
        "block_system",
        "sparse block system L x = b",
        "BlockSystem",
        _block_system,
        _check_block_system,
    ),
    StageEntry("block_encoding", "block encoding U of L", "BlockEncoding", _block_encoding),
    StageEntry("qsvt", "QSVT inversion circuit", "QsvtCircuit", _qsvt),
    StageEntry("simulation", "post-selected simulation", "PostselectedState", _simulation),
    StageEntry("readout", "theta_T read out, errors by source", "Readout", _readout),
)
"""Every stage, in order; each is built from the ones before it."""

STAGE_NAMES: tuple[Stage, ...] = get_args(Stage)
assert tuple(entry.name for entry in STAGES) == STAGE_NAMES
CLASSICAL_STAGES: tuple[Stage, ...] = STAGE_NAMES[: STAGE_NAMES.index("block_system") + 1]
"""The stages that build no circuit (they import neither cirq nor qsim)."""


def stage_entry(name: str) -> StageEntry:
    """The registry entry of ``name`` (``block-system`` and ``block_system`` both work)."""
    key = name.replace("-", "_")
    for entry in STAGES:
        if entry.name == key:
            return entry
    raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGE_NAMES)}")


def compile(  # noqa: A001 - the public name users expect (qrtc.compile)
    spec_or_path: Spec | str | os.PathLike[str],
    *,
    until: Stage = "readout",
    on_stage: Callable[[Stage, int, int], None] | None = None,
    verify: bool | None = None,
    **options: Any,
) -> Compilation:
    """Compile a spec lazily: each stage is built when its attribute is first read.

    Args:
        spec_or_path: a parsed :class:`~qrtc.ir.spec.Spec` or the path of a ``.qrt`` file.
        until: the last stage this compilation may build.
        on_stage: called as ``on_stage(stage, index, total)`` as each stage starts.
        verify: run each stage's ``verify()`` (default: ``QRTC_VERIFY=1`` in the environment).
        **options: fields of :class:`PipelineOptions` (``encoding``, ``simulator``, ``shots``,
            ``seed``, ``cross_check``, ``time_limit_s``).

    Raises:
        QrtError: the file cannot be read or parsed (later stages raise their own errors
            when they are built).
        TypeError, ValueError: an unknown option or stage.
    """
    spec = spec_or_path if isinstance(spec_or_path, Spec) else parse_file(os.fspath(spec_or_path))
    if verify is None:
        verify = os.environ.get("QRTC_VERIFY") == "1"
    return Compilation(
        spec,
        until=until,
        options=PipelineOptions(verify=verify, **options),
        on_stage=on_stage,
    )


def compile_spec(
    spec: Spec,
    *,
    until: Stage = "block_system",
    verify: bool | None = None,
    on_stage: Callable[[Stage, int, int], None] | None = None,
    **options: Any,
) -> Compilation:
    """:func:`compile`, with every stage up to ``until`` built now (errors raised here)."""
    return compile(spec, until=until, verify=verify, on_stage=on_stage, **options).build()
