r"""State-vector simulation of a circuit with post-selection: qsim, and cirq.Simulator to check it.

**Lowering.** Simulators take cirq's gates, not ours. :func:`lower_for_simulation` maps
``MultiControlledX`` / ``MultiControlledRy`` (what tables, lookups and state preparation
decompose into) straight to cirq controlled gates, ``Increment`` / ``LessThanConstant`` to
controlled X gates, and ``BlockTypeOracle`` (time registers up to ``MAX_TYPE_TABLE_BITS``) to a
table of controlled X, all without work qubits. Everything else is decomposed; the clean work
qubits those decompositions allocate are shared by every allocation whose live range (first to
last gate on it) does not overlap another's, and named ``sim_work[k]``. qsim applies a gate
with $c$ controls to the $2^{n-c}$ amplitudes where they match, where its AND-ladder
decomposition would be $2c$ Toffolis on a state $2^{c}$ times larger. The structured and generic
encodings of every shipped example lower with no work qubit at all.

**Post-selection.** The final state $|\psi\rangle$ over ``qubit_order`` followed by the work
qubits (big-endian: ``qubit_order[0]`` most significant) is projected, by indexing, onto the
post-selected values and work qubits $|0\rangle$:
$a = (\langle v|_{\rm post} \otimes \langle 0|_{\rm work} \otimes I_{\rm kept})|\psi\rangle$,
success probability $p = \|a\|^2$. The probability $\|(I - |0\rangle\langle 0|)_{\rm work}
|\psi\rangle\|^2$ that a work qubit ends in $|1\rangle$ is reported as ``work_leak`` and must be
float noise (clean work qubits).

**Precision.** qsim runs in single precision (complex64, unit roundoff $u = 2^{-24} \approx
6\times 10^{-8}$). Controlled X gates only move amplitudes (exact); each rotation adds $O(u)$ to
the 2-norm error, so $g$ rotations give about $\sqrt g\,u$ (at worst $g u$). Measured against
cirq.Simulator in complex128 (``simulator="cirq"``, the reference) on whole QSVT-like states:
2-norm error 1.4e-7 (14 qubits, 1.3k gates), 1.4e-7 (18, 6.5k), 3.0e-7 (18, 26k gates); the
tests hold qsim to atol 1e-5.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cirq
import numpy as np
from numpy.typing import NDArray
from qsimcirq.qsim_simulator import QSimSimulator

from qrtc.circuits.arithmetic import Increment, LessThanConstant
from qrtc.circuits.controlled import MultiControlledRy, MultiControlledX
from qrtc.circuits.time_register import BlockTypeOracle
from qrtc.circuits.work import ExplicitWork
from qrtc.errors import BackendError

__all__ = [
    "DEFAULT_TIME_LIMIT_S",
    "PEAK_STATE_COPIES",
    "PostselectedState",
    "SimulationTooLarge",
    "check_fits",
    "check_simulation_time",
    "fits",
    "lower_for_simulation",
    "measure_idle_cores",
    "qsim_options",
    "qsvt_operations",
    "qsvt_width",
    "simulate_postselected",
    "state_bytes",
    "work_qubit",
]

Simulator = Literal["qsim", "cirq"]

# -- lowering -----------------------------------------------------------------------------------

# Gates qsim translates natively (qsimcirq.qsim_circuit.TYPE_TRANSLATOR) and cirq.Simulator applies.
_NATIVE_GATES: tuple[type[cirq.Gate], ...] = (
    cirq.XPowGate,
    cirq.YPowGate,
    cirq.ZPowGate,
    cirq.HPowGate,
    cirq.CXPowGate,
    cirq.CZPowGate,
    cirq.CCXPowGate,
    cirq.CCZPowGate,
    cirq.SwapPowGate,
    cirq.ISwapPowGate,
    cirq.PhasedXPowGate,
    cirq.PhasedXZGate,
    cirq.FSimGate,
)
# qsim applies a controlled gate to at most 4 target qubits.
_MAX_CONTROLLED_TARGETS = 4


def _is_native(op: cirq.Operation) -> bool:
    gate = op.gate
    if isinstance(gate, cirq.ControlledGate):
        values = gate.control_values
        return (
            isinstance(values, cirq.ProductOfSums)
            and all(len(v) == 1 for v in values)
            and gate.sub_gate.num_qubits() <= _MAX_CONTROLLED_TARGETS
            and isinstance(gate.sub_gate, _NATIVE_GATES)
        )
    return isinstance(gate, (*_NATIVE_GATES, cirq.GlobalPhaseGate))


def _direct(op: cirq.Operation) -> list[cirq.Operation] | None:
    """Our gates that map to cirq controlled gates without work qubits; None for the rest."""
    gate, qubits = op.gate, op.qubits
    if isinstance(gate, ExplicitWork):
        # The work qubits passed in stay |0>: lower the gate itself on its own qubits.
        return _direct(gate.gate.on(*qubits[: len(qubits) - gate.n_work]))
    if isinstance(gate, BlockTypeOracle):
        if gate.outer_width + gate.phase_width > MAX_TYPE_TABLE_BITS:
            return None
        return gate.ancilla_free_operations(qubits)
    if isinstance(gate, MultiControlledX | MultiControlledRy | Increment | LessThanConstant):
        return gate.ancilla_free_operations(qubits)
    return None


# Up to this many time-register bits, BlockTypeOracle is lowered to a table of controlled X
# (at most 2 per register value) instead of its comparators, whose flags and ladders are 2 to 4
# work qubits, i.e. a state 4 to 16 times larger.
MAX_TYPE_TABLE_BITS = 10


def _flatten(
    ops: Iterable[cirq.Operation], context: cirq.DecompositionContext
) -> Iterator[cirq.Operation]:
    stack: list[Iterator[cirq.Operation]] = [iter(ops)]
    while stack:
        op = next(stack[-1], None)
        if op is None:
            stack.pop()
            continue
        if _is_native(op):
            yield op
            continue
        direct = _direct(op)
        if direct is not None:
            yield from direct
            continue
        sub = cirq.decompose_once(op, None, context=context)
        if sub is None:
            raise ValueError(f"no simulation rule for {op!r}: neither native nor decomposable")
        stack.append(iter(sub))


def work_qubit(index: int) -> cirq.NamedQubit:
    """The ``index``-th work qubit that :func:`lower_for_simulation` introduces."""
    return cirq.NamedQubit(f"sim_work[{index}]")


def _share_work_qubits(ops: list[cirq.Operation], logical: set[cirq.Qid]) -> list[cirq.Operation]:
    # Interval partitioning: a clean work qubit is |0> before its first and after its last
    # gate, so allocations with disjoint live ranges can use one physical qubit.
    first: dict[cirq.Qid, int] = {}
    last: dict[cirq.Qid, int] = {}
    for i, op in enumerate(ops):
        for q in op.qubits:
            if q in logical:
                first.setdefault(q, i)
                last[q] = i
    physical: dict[cirq.Qid, cirq.Qid] = {}
    busy: list[tuple[int, int]] = []  # (last use, physical index)
    free: list[int] = []
    for q in sorted(first, key=first.__getitem__):
        while busy and busy[0][0] < first[q]:
            heapq.heappush(free, heapq.heappop(busy)[1])
        index = heapq.heappop(free) if free else len(busy) + len(free)
        heapq.heappush(busy, (last[q], index))
        physical[q] = work_qubit(index)
    if not physical:
        return ops
    return [
        op.transform_qubits(lambda q: physical.get(q, q))
        if any(q in physical for q in op.qubits)
        else op
        for op in ops
    ]


def lower_for_simulation(circuit: cirq.AbstractCircuit) -> cirq.Circuit:
    """``circuit`` as gates both qsim and cirq.Simulator take natively, one per moment.

    The result acts on the qubits of ``circuit`` plus work qubits ``sim_work[k]`` that start in
    and return to $|0\\rangle$; on the original qubits with the work qubits in $|0\\rangle$ it
    is the same unitary. Global phases are kept as ``cirq.GlobalPhaseGate`` operations.
    (One operation per moment: 1.8x faster to build than cirq's packed moments, and the
    simulators do not care.)

    Raises:
        ValueError: an operation that is neither native nor decomposable.
    """
    return _circuit(_lowered_operations(circuit))


def _circuit(ops: Iterable[cirq.Operation]) -> cirq.Circuit:
    return cirq.Circuit(cirq.Moment(op) for op in ops)


def _lowered_operations(circuit: cirq.AbstractCircuit) -> list[cirq.Operation]:
    original = set(circuit.all_qubits())
    context = cirq.DecompositionContext(cirq.SimpleQubitManager("_sim_alloc"))
    # A QSVT circuit applies the same operations of U and U^dagger d times: lower each once.
    # Only lowerings without work qubits are reused, so that every allocation stays fresh.
    memo: dict[cirq.Operation, list[cirq.Operation]] = {}
    ops: list[cirq.Operation] = []
    for op in circuit.all_operations():
        lowered = memo.get(op)
        if lowered is None:
            lowered = list(_flatten([op], context))
            if {q for sub in lowered for q in sub.qubits} <= set(op.qubits):
                memo[op] = lowered
        ops += lowered
    allocated = {q for op in ops for q in op.qubits} - original
    return _share_work_qubits(ops, allocated)


# -- qsim options -------------------------------------------------------------------------------


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# Below this many qubits threads gain nothing measurable (a few ms either way): most lowered
# gates are controlled by many qubits and touch 2^(n - controls) amplitudes.
THREAD_MIN_QUBITS = 18
# qsim fuses uncontrolled gates up to this many qubits (2 below 20 qubits, 3 from 20, as
# qsimcirq's documentation advises; within noise of each other and of 4 here).
_FUSED_SMALL, _FUSED_LARGE, _FUSED_LARGE_FROM = 2, 3, 20


def qsim_options(
    n_qubits: int,
    n_gates: int,
    *,
    cores: int | None = None,
    idle_cores: float | None = None,
) -> dict[str, int]:
    r"""qsim's ``{'t': threads, 'f': max fused gate size}`` for a lowered circuit of this size.

    Threads: 1 below ``THREAD_MIN_QUBITS`` qubits, else the whole idle cores, at least 1 and at
    most ``cores`` (default: the cores this process may run on); ``idle_cores`` defaults to
    :func:`measure_idle_cores`. Fused size: 2 below 20 qubits, 3 from 20. ``n_gates`` does not
    change the choice over the range measured ($10^3$-$10^4$ gates).

    Measured on a 2-core machine shared with other work, seconds, min of 3-5 runs with qsim's
    translation of the circuit (~35 us a gate, the same for all options) excluded, on
    $U U^\dagger$ lowered, $U$ the generic encoding of a random $2^w \times 2^w$ matrix with
    48 non-zeros::

                     both cores idle              | another process busy on a core
        qubits gates f2,t1  f3,t1  f2,t2  f3,t2  | f2,t1  f3,t1  f2,t2  f3,t2
          13    646  0.0041 0.0038 0.0041 0.0044 |
          17    810  0.0066 0.0073 0.0063 0.0066 |
          19    898  0.0188 0.0169 0.0119 0.0131 |
          22   1126  0.120  0.133  0.075  0.072  | 0.115  0.105  7.49   7.95
          24   1250  0.416  0.416  0.239  0.260  | 0.394  0.396  9.12   8.39
          26   1318                              | 1.70   1.59   8.23   9.94

    A second thread gains 1.6-1.7x from 22 qubits when a core is idle, and costs 5-70x when
    none is: it waits for a core at every gate's barrier. Hence threads only for cores idle
    right now (the load average lags by a minute; here it read 3 while the cores were idle).
    ``f = 4`` was within noise of ``f = 3`` throughout.
    """
    del n_gates
    cores = _cores() if cores is None else max(1, cores)
    fused = _FUSED_SMALL if n_qubits < _FUSED_LARGE_FROM else _FUSED_LARGE
    if n_qubits < THREAD_MIN_QUBITS or cores == 1:
        return {"t": 1, "f": fused}
    idle = measure_idle_cores() if idle_cores is None else idle_cores
    # 0.25 of slack: a core that is 80 % idle is as good as idle.
    return {"t": max(1, min(cores, math.floor(idle + 0.25))), "f": fused}


def measure_idle_cores(interval_s: float = 0.05) -> float:
    """Cores idle over the next ``interval_s`` (from ``/proc/stat``; 1.0 where unreadable)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields[:8])  # idle + iowait, all but guest time

    try:
        idle_before, total_before = sample()
        time.sleep(interval_s)
        idle_after, total_after = sample()
    except (OSError, ValueError, IndexError):
        return 1.0
    share = (idle_after - idle_before) / max(1, total_after - total_before)
    return share * (os.cpu_count() or 1)


# -- memory -------------------------------------------------------------------------------------

# State vectors held at once at the peak of simulate_postselected: measured (ru_maxrss) 3.0
# for qsim (our input, qsim's state, the returned copy) and 3.2 for cirq.Simulator.
PEAK_STATE_COPIES = 3.5
# Leave this share of the available memory to everything else.
_SAFETY = 0.75


def state_bytes(n_qubits: int, *, dtype: type[np.complexfloating[Any, Any]] = np.complex64) -> int:
    """Bytes of one state vector of ``n_qubits`` qubits: $2^n$ times the item size."""
    return (1 << n_qubits) * np.dtype(dtype).itemsize


def _human(n_bytes: float) -> str:
    if n_bytes >= 1024**6:
        return f"2^{math.log2(n_bytes):.1f} B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n_bytes < 1024 or unit == "PiB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    raise AssertionError("unreachable")


def available_memory() -> int:
    """Bytes this process can still allocate: ``MemAvailable`` and the cgroup limit, if any."""
    candidates: list[int] = []
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    candidates.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    if not candidates:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    try:
        with (
            open("/sys/fs/cgroup/memory.max") as limit,
            open("/sys/fs/cgroup/memory.current") as current,
        ):
            text = limit.read().strip()
            if text != "max":
                candidates.append(int(text) - int(current.read().strip()))
    except (OSError, ValueError):
        pass
    return max(0, min(candidates)) if candidates else 1 << 62


class SimulationTooLarge(BackendError):
    """The state vectors of a simulation would not fit in memory, or it would take too long."""


# The time model of a simulation: a fixed cost per gate (lowering and qsimcirq's translation,
# ~60 us) plus 2^n amplitude updates per gate at a rate far above one update per cycle,
# because multi-controlled gates touch only their subspace and qsim fuses gates. Measured on 2
# cores: 1.4e11 per second at 22 qubits (32k lowered gates in 0.96 s) and 3e11 at 25
# (examples/robust_linreg.qrt, 2.56e6 gates in 436 s); 1.5e11 errs on the slow side.
SECONDS_PER_GATE = 6e-5
AMPLITUDE_UPDATES_PER_SECOND = 1.5e11
DEFAULT_TIME_LIMIT_S = 600.0
# Operations a projector phase adds per query after lowering (MCX, CNOT, Rz, CNOT, Rz, MCX).
PHASE_OPERATIONS_PER_QUERY = 6
# The two QSVT ancillas (signal, branch) that the lowered U does not touch.
QSVT_ANCILLAS = 2


def qsvt_width(encoding_qubits: Iterable[cirq.Qid], lowered_u: cirq.AbstractCircuit) -> int:
    """Qubits a QSVT simulation holds: what the lowered $U$ touches, its encoding's qubits
    and the two QSVT ancillas."""
    return len(set(lowered_u.all_qubits()) | set(encoding_qubits)) + QSVT_ANCILLAS


def qsvt_operations(lowered_u: cirq.AbstractCircuit, degree: int) -> int:
    """Operations a QSVT simulation of ``degree`` queries to the lowered $U$ applies."""
    per_query = sum(1 for _ in lowered_u.all_operations()) + PHASE_OPERATIONS_PER_QUERY
    return degree * per_query


def check_simulation_time(
    n_gates: int, n_qubits: int, *, limit_s: float, what: str = "the QSVT circuit"
) -> float:
    """The estimated seconds to simulate; raises :class:`SimulationTooLarge` above ``limit_s``."""
    seconds = n_gates * (SECONDS_PER_GATE + float(2**n_qubits) / AMPLITUDE_UPDATES_PER_SECOND)
    if seconds > limit_s:
        raise SimulationTooLarge(
            f"simulating {what} ({n_gates:,} gates on {n_qubits} qubits) would take about "
            f"{_duration(seconds)} here, over the limit of {_duration(limit_s)}",
            hint="raise the limit with --time-limit SECONDS, or estimate the resources "
            "without simulating: `qrtc compile FILE --emit resources`",
        )
    return seconds


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.3g} days"


def fits(n_qubits: int) -> bool:
    """Whether :func:`check_fits` accepts ``n_qubits`` (complex64 state vectors)."""
    try:
        check_fits(n_qubits)
    except SimulationTooLarge:
        return False
    return True


def check_fits(
    n_qubits: int,
    *,
    memory_bytes: int | None = None,
    dtype: type[np.complexfloating[Any, Any]] = np.complex64,
    what: str = "the circuit",
) -> None:
    """Raise :class:`SimulationTooLarge` unless ``PEAK_STATE_COPIES`` state vectors fit.

    Call it before anything of size $2^n$ is allocated. ``memory_bytes`` is the memory
    available (default: :func:`available_memory`); ``_SAFETY`` of it may be used.
    """
    need = int(PEAK_STATE_COPIES * state_bytes(n_qubits, dtype=dtype))
    have = available_memory() if memory_bytes is None else memory_bytes
    if need <= _SAFETY * have:
        return
    raise SimulationTooLarge(
        f"simulating {what} on {n_qubits} qubits needs {_human(need)} "
        f"({PEAK_STATE_COPIES:g} state vectors of {_human(state_bytes(n_qubits, dtype=dtype))}, "
        f"{np.dtype(dtype).name}), but only {_human(have)} of memory is available "
        f"(at most {_SAFETY:.0%} of it is used)",
        hint="estimate its cost without simulating: `qrtc compile FILE --emit resources`",
    )


# -- simulation ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PostselectedState:
    r"""The kept qubits' amplitudes after post-selection, and what it took.

    Attributes:
        amplitudes: $a = (\langle v|_{\rm post} \otimes \langle 0|_{\rm work})|\psi\rangle$,
            shape ``(2**len(kept),)``, complex128, *not* renormalised; big-endian in ``kept``.
        kept: the qubits of ``qubit_order`` not post-selected, in that order.
        success_probability: $p = \|a\|^2$, exact up to the simulator's precision.
        sampled_success: successes / shots among ``shots`` outcomes of the post-selected
            qubits drawn from $|\psi\rangle$'s distribution (None without shots).
        shots: number of samples, or None.
        work_leak: probability that a work qubit ends in $|1\rangle$ (float noise if clean).
        simulator: ``"qsim"`` (complex64) or ``"cirq"`` (cirq.Simulator, complex128).
        options: the qsim options used (empty for cirq).
        n_qubits: qubits simulated, work qubits included.
        n_work_qubits: work qubits the lowering added.
        n_gates: operations of the lowered circuit.
        lowering_s: seconds spent lowering the circuit.
        wall_s: seconds spent in the simulator.
    """

    amplitudes: NDArray[np.complex128]
    kept: tuple[cirq.Qid, ...]
    success_probability: float
    sampled_success: float | None
    shots: int | None
    work_leak: float
    simulator: Simulator
    options: dict[str, int] = field(default_factory=dict)
    n_qubits: int
    n_work_qubits: int
    n_gates: int
    lowering_s: float
    wall_s: float

    def __post_init__(self) -> None:
        assert self.amplitudes.shape == (1 << len(self.kept),)
        self.amplitudes.flags.writeable = False

    @property
    def sampled_standard_error(self) -> float | None:
        r"""Binomial standard error of ``sampled_success``: $\sqrt{\hat p(1-\hat p)/N}$."""
        if self.sampled_success is None or not self.shots:
            return None
        p = self.sampled_success
        return math.sqrt(p * (1 - p) / self.shots)

    @property
    def normalized(self) -> NDArray[np.complex128]:
        """The post-selected state $a/\\|a\\|$ (zeros if nothing survives)."""
        norm = math.sqrt(self.success_probability)
        return self.amplitudes / norm if norm > 0 else np.zeros_like(self.amplitudes)

    def verify(self) -> None:
        r"""Check the amplitudes and the bookkeeping.

        The amplitudes are finite and $p = \|a\|^2$ (to rounding) lies in $[0, 1]$ up to the
        simulator's precision; ``kept`` lists each qubit once; sampling fields are both set
        (``shots`` $\ge 1$, a fraction in $[0, 1]$) or both None; ``work_leak`` is float noise
        (at most ``WORK_LEAK_TOLERANCE``); the counts are consistent
        (``n_qubits`` $\ge$ kept + work qubits) and the timings finite and non-negative.
        """
        amplitudes = self.amplitudes
        assert amplitudes.shape == (1 << len(self.kept),), amplitudes.shape
        assert np.all(np.isfinite(amplitudes)), "amplitudes are not finite"
        assert len(set(self.kept)) == len(self.kept), "kept lists a qubit twice"
        norm2 = float(np.vdot(amplitudes, amplitudes).real)
        assert math.isclose(self.success_probability, norm2, rel_tol=1e-9, abs_tol=1e-15), (
            f"success_probability {self.success_probability} is not |a|^2 = {norm2}"
        )
        # complex64 amplitudes of a unit state: |a|^2 may exceed 1 by rounding only.
        assert 0 <= self.success_probability <= 1 + 1e-5, self.success_probability
        assert (self.shots is None) == (self.sampled_success is None), (
            "sampled_success and shots come together"
        )
        if self.shots is not None and self.sampled_success is not None:
            assert self.shots >= 1 and 0 <= self.sampled_success <= 1, (
                self.shots,
                self.sampled_success,
            )
        assert 0 <= self.work_leak <= WORK_LEAK_TOLERANCE, f"work_leak = {self.work_leak}"
        assert self.simulator in ("qsim", "cirq"), self.simulator
        assert self.simulator == "qsim" or not self.options, "options are qsim's only"
        assert self.n_work_qubits >= 0 and self.n_gates >= 0, (self.n_work_qubits, self.n_gates)
        assert self.n_qubits >= len(self.kept) + self.n_work_qubits, self.n_qubits
        for seconds in (self.lowering_s, self.wall_s):
            assert math.isfinite(seconds) and seconds >= 0, seconds

    def to_text(self, *, decimals: int = 4, limit: int = 64) -> str:
        r"""A deterministic summary for ``qrtc compile --emit simulation``.

        Timings, qsim's options (threads follow the idle cores) and the exact work leak are
        left out. Amplitudes are printed with ``decimals`` decimals (in full up to ``limit`` of
        them, else the largest), probabilities with 4 significant digits: complex64 rounding
        (about $10^{-6}$ absolute on a QSVT state, see the module docstring) stays below the
        last digit, so two runs, thread counts or CPUs print the same text.
        """
        from qrtc.ir import _text

        def amplitude(index: int) -> str:
            value = complex(self.amplitudes[index])
            real, imag = _text.fixed(value.real, decimals), _text.fixed(value.imag, decimals)
            return f"{index}: {real}{imag}j"

        sampled = "none"
        if self.shots is not None:
            sampled = f"{_text.number(self.sampled_success, 4)} from {self.shots} shots"
        leak = "clean" if self.work_leak <= WORK_LEAK_TOLERANCE else f"{self.work_leak:.1e}"
        size = self.amplitudes.shape[0]
        if size <= limit:
            shown, header = list(range(size)), f"amplitudes ({size}, big-endian in kept):"
        else:
            magnitudes = np.round(np.abs(self.amplitudes), decimals)
            # the largest by rounded magnitude, ties by index: stable under rounding noise
            order = np.lexsort((np.arange(size), -magnitudes))[:limit]
            shown = sorted(int(i) for i in order)
            header = f"amplitudes (largest {limit} of {size}, big-endian in kept):"
        lines = [
            "simulation {",
            f"  simulator = {self.simulator}",
            f"  qubits = {self.n_qubits} ({self.n_work_qubits} work), gates = {self.n_gates}",
            "  kept: " + ", ".join(str(q) for q in self.kept),
            f"  success_probability = {_text.number(self.success_probability, 4)}",
            f"  sampled = {sampled}",
            f"  work qubits: {leak}",
            f"  {header}",
        ]
        for start in range(0, len(shown), 4):
            lines.append("    " + "  ".join(amplitude(i) for i in shown[start : start + 4]))
        lines.append("}")
        return "\n".join(lines) + "\n"


def _norm2(view: NDArray[np.complexfloating[Any, Any]], *, rows: int = 1 << 16) -> float:
    # Squared norm accumulated in double precision, a block of rows at a time, so that no
    # copy of the whole (possibly strided) view is made.
    total = 0.0
    for start in range(0, view.shape[0], rows):
        block = np.asarray(view[start : start + rows], dtype=np.complex128)
        total += float(np.vdot(block, block).real)
    return total


def simulate_postselected(
    circuit: cirq.AbstractCircuit,
    qubit_order: Sequence[cirq.Qid],
    initial_state: int | NDArray[np.complexfloating[Any, Any]] | NDArray[np.floating[Any]],
    postselect: Mapping[cirq.Qid, int],
    *,
    simulator: Simulator = "qsim",
    shots: int | None = None,
    seed: int | None = None,
    options: Mapping[str, int] | None = None,
) -> PostselectedState:
    """Run ``circuit`` on ``initial_state`` and post-select ``postselect``.

    Args:
        circuit: gates of :mod:`qrtc.circuits` and cirq's; lowered here.
        qubit_order: every qubit of ``circuit``, ``qubit_order[0]`` most significant.
        initial_state: a basis-state index, or a state vector of shape
            ``(2**len(qubit_order),)`` and unit norm (call :func:`check_fits` before building
            one); work qubits start in 0.
        postselect: qubit -> the value (0 or 1) it must be measured in.
        simulator: ``"qsim"`` or ``"cirq"``.
        shots: if given, estimate the success probability from this many samples too.
        seed: seed of the sampling (numpy ``default_rng``).
        options: qsim options overriding :func:`qsim_options`.

    Raises:
        SimulationTooLarge: the state vectors would not fit in memory (checked before any is
            allocated).
        ValueError: inconsistent arguments (a bug in the caller).
    """
    order = tuple(qubit_order)
    _check_arguments(circuit, order, initial_state, postselect, simulator, shots)
    started = time.perf_counter()
    lowered = _lowered_operations(circuit)
    phase = 1 + 0j
    for op in lowered:
        if isinstance(op.gate, cirq.GlobalPhaseGate):
            phase *= complex(op.gate.coefficient)
    # qsim has no global phase gate: the phase multiplies the amplitudes instead.
    gates = _circuit(op for op in lowered if not isinstance(op.gate, cirq.GlobalPhaseGate))
    n_gates = len(gates)
    work = tuple(sorted(set(gates.all_qubits()) - set(order), key=str))
    full_order = (*order, *work)
    n = len(full_order)
    lowering_s = time.perf_counter() - started
    dtype = np.complex64 if simulator == "qsim" else np.complex128
    check_fits(n, dtype=dtype, what=f"a circuit of {n_gates} gates")

    # Work qubits are the least significant: |x>|0...0> sits at index x * 2^w.
    state = np.zeros(1 << n, dtype=dtype)
    if isinstance(initial_state, int):
        state[initial_state << len(work)] = 1
    else:
        state[:: 1 << len(work)] = initial_state
    used: dict[str, int] = {}
    started = time.perf_counter()
    if simulator == "qsim":
        used = {**qsim_options(n, n_gates), **(options or {})}
        qsim = QSimSimulator(qsim_options=used)
        _, final, _ = qsim.simulate_into_1d_array(
            gates, qubit_order=full_order, initial_state=state
        )
    else:
        result = cirq.Simulator(dtype=np.complex128).simulate(
            gates, qubit_order=full_order, initial_state=state
        )
        final = result.final_state_vector
    wall_s = time.perf_counter() - started
    del state

    by_work = final.reshape(1 << len(order), 1 << len(work))
    work_leak = _norm2(by_work[:, 1:]) if work else 0.0
    assert work_leak <= WORK_LEAK_TOLERANCE, (
        f"a work qubit of the lowered circuit ends in |1> with probability {work_leak:.3g}: "
        "a decomposition does not return its work qubits clean"
    )
    tensor = final.reshape((2,) * n)
    index = tuple(
        postselect[q] if q in postselect else 0 if i >= len(order) else slice(None)
        for i, q in enumerate(full_order)
    )
    kept = tuple(q for q in order if q not in postselect)
    amplitudes = phase * np.asarray(tensor[index], dtype=np.complex128).reshape(-1)
    success = float(np.vdot(amplitudes, amplitudes).real)
    sampled = None if shots is None else _sample(tensor, order, postselect, shots, seed)
    return PostselectedState(
        amplitudes=amplitudes,
        kept=kept,
        success_probability=success,
        sampled_success=sampled,
        shots=shots,
        work_leak=work_leak,
        simulator=simulator,
        options=used,
        n_qubits=n,
        n_work_qubits=len(work),
        n_gates=n_gates,
        lowering_s=lowering_s,
        wall_s=wall_s,
    )


# A work qubit left in |1> with a probability above float noise (complex64 amplitudes are
# accurate to ~1e-6, so probabilities of an exactly-zero branch to ~1e-12) is a bug.
WORK_LEAK_TOLERANCE = 1e-8


def _check_arguments(
    circuit: cirq.AbstractCircuit,
    order: tuple[cirq.Qid, ...],
    initial_state: object,
    postselect: Mapping[cirq.Qid, int],
    simulator: str,
    shots: int | None,
) -> None:
    if simulator not in ("qsim", "cirq"):
        raise ValueError(f"simulator must be 'qsim' or 'cirq', not {simulator!r}")
    if len(set(order)) != len(order):
        raise ValueError("qubit_order lists a qubit twice")
    missing = set(circuit.all_qubits()) - set(order)
    if missing:
        raise ValueError(f"the circuit acts on {sorted(missing, key=str)!r}, not in qubit_order")
    if not set(postselect) <= set(order) or any(v not in (0, 1) for v in postselect.values()):
        raise ValueError("postselect must map qubits of qubit_order to 0 or 1")
    if shots is not None and shots < 1:
        raise ValueError(f"shots must be positive, not {shots}")
    size = 1 << len(order)
    if isinstance(initial_state, int):
        if not 0 <= initial_state < size:
            raise ValueError(f"initial_state {initial_state} is outside [0, 2**{len(order)})")
        return
    initial = np.asarray(initial_state)
    if initial.shape != (size,):
        raise ValueError(f"initial_state has shape {initial.shape}, not ({size},)")
    norm = float(np.linalg.norm(initial))
    if abs(norm - 1) > 1e-6:
        raise ValueError(f"initial_state has norm {norm}, not 1")


def _sample(
    tensor: NDArray[np.complexfloating[Any, Any]],
    order: tuple[cirq.Qid, ...],
    postselect: Mapping[cirq.Qid, int],
    shots: int,
    seed: int | None,
) -> float:
    """Fraction of ``shots`` outcomes of the post-selected qubits that equal ``postselect``."""
    post_axes = tuple(i for i, q in enumerate(order) if q in postselect)
    other = tuple(i for i in range(tensor.ndim) if i not in post_axes)
    marginal = np.sum(np.abs(tensor) ** 2, axis=other, dtype=np.float64).reshape(-1)
    outcome = int("".join(str(postselect[order[i]]) for i in post_axes) or "0", 2)
    counts = np.random.default_rng(seed).multinomial(shots, marginal / marginal.sum())
    return float(counts[outcome]) / shots
