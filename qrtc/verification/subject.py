r"""What the ladder verifies: one spec's compiled stages, built once, on demand.

Each stage is built the way ``qrtc run`` builds it (:mod:`qrtc.pipeline`, then the block
encoding, the QSVT inversion at the same polynomial error, and the circuit lowered for qsim).
A stage that cannot be built here raises :class:`Unavailable` with the reason; the rungs that
need it are then skipped with that reason. A spec that the compiler refuses because it breaks an
assumption (:class:`~qrtc.errors.AssumptionError`) is kept as :attr:`Subject.refusal`: only the
assumption rung reports on it. Any other :class:`~qrtc.errors.QrtError` while compiling is the
user's to fix and propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import cirq
import numpy as np
import scipy.sparse
from numpy.typing import NDArray

from qrtc.backends.simulate import (
    PostselectedState,
    SimulationTooLarge,
    check_fits,
    lower_for_simulation,
    simulate_postselected,
)
from qrtc.errors import AssumptionError, QrtError
from qrtc.ir.block_encoding import BlockEncoding
from qrtc.ir.block_system import BlockSystem
from qrtc.ir.carleman import CarlemanMaps
from qrtc.ir.polynomial_maps import PolynomialMaps
from qrtc.ir.problem import Problem
from qrtc.ir.qsvt import QsvtCircuit
from qrtc.ir.spec import Spec
from qrtc.ir.trajectory import Trajectory
from qrtc.passes.encode_block_system import MAX_GENERIC_NNZ
from qrtc.pipeline import Compilation, EncodingChoice, compile

__all__ = ["EncodingChoice", "Subject", "Unavailable"]

Simulator = Literal["qsim", "cirq"]
R = TypeVar("R")


class Unavailable(Exception):
    """A stage a rung needs cannot be built or simulated here; ``str()`` says why."""


@dataclass(eq=False)
class Subject:
    """The compiled stages of ``spec`` (:func:`qrtc.compile`, as ``qrtc run`` builds them),
    each built on first use and then kept, with the reason a rung must skip when one cannot
    be built here.

    Attributes:
        spec: the spec.
        encoding_choice: ``"auto"`` (:func:`qrtc.pipeline.choose_encoding`, as ``qrtc run``),
            ``"structured"`` or ``"generic"``.
        max_qubits: the widest state vector a rung may simulate.
        time_limit_s: the longest single simulation a rung may start (the driver's time model).
        budget_s: the time a rung may spend measuring drawn inputs (its first input is always
            measured).
    """

    spec: Spec
    encoding_choice: EncodingChoice = "auto"
    max_qubits: int = 20
    time_limit_s: float = 60.0
    budget_s: float = 10.0
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)
    _refusal: AssumptionError | None = field(default=None, repr=False)
    _simulations: dict[tuple[Simulator, bytes, int | None, int | None], PostselectedState] = field(
        default_factory=dict, repr=False
    )

    def _once(self, name: str, build: Callable[[], R]) -> R:
        """``build()`` the first time; later calls return its value or raise its exception."""
        if name not in self._memo:
            try:
                self._memo[name] = (True, build())
            except Unavailable as reason:
                self._memo[name] = (False, reason)
        ok, value = self._memo[name]
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    # -- the classical stages -------------------------------------------------------------------

    @property
    def compilation(self) -> Compilation:
        """The driver's compilation; the classical stages are built on first access, as far as
        the compiler gets before refusing (the refusal is kept, see :attr:`refusal`)."""

        def build() -> Compilation:
            compilation = compile(
                self.spec,
                until="qsvt",
                verify=False,
                encoding=self.encoding_choice,
                time_limit_s=self.time_limit_s,
            )
            try:
                compilation.build("block_system")
            except AssumptionError as error:
                self._refusal = error
            return compilation

        return self._once("compilation", build)

    @property
    def refusal(self) -> AssumptionError | None:
        """The assumption the compiler refused the spec for, if it did."""
        _ = self.compilation
        return self._refusal

    @property
    def problem(self) -> Problem:
        return self.compilation.problem

    @property
    def trajectory(self) -> Trajectory:
        return self.compilation.trajectory

    def _classical(self, build: Callable[[Compilation], R]) -> R:
        try:
            return build(self.compilation)
        except AssumptionError:
            raise Unavailable(
                "the compiler refused the spec for an assumption (see assumptions)"
            ) from None

    @property
    def maps(self) -> PolynomialMaps:
        return self._classical(lambda c: c.maps)

    @property
    def carleman(self) -> CarlemanMaps:
        return self._classical(lambda c: c.carleman)

    @property
    def system(self) -> BlockSystem:
        return self._classical(lambda c: c.block_system)

    @property
    def matrix(self) -> scipy.sparse.csr_array:
        """$\\mathbf L$ as CSR, when the block system is explicit."""
        system = self.system
        if system.matrix is None:
            raise Unavailable(f"L is implicit (dim {system.dim:,}, {system.nnz:,} non-zeros)")
        return system.matrix

    # -- the circuits -------------------------------------------------------------------------

    @property
    def encoding(self) -> BlockEncoding:
        """The block encoding the circuit rungs check: the driver's (see ``encoding_choice``)."""

        def build() -> BlockEncoding:
            system = self.system
            generic_fits = system.matrix is not None and system.nnz <= MAX_GENERIC_NNZ
            if self.encoding_choice == "generic" and not generic_fits:
                raise Unavailable(
                    f"the generic encoding tabulates every non-zero of L, and L has "
                    f"{system.nnz:,} (limit {MAX_GENERIC_NNZ:,})"
                )
            try:
                return self.compilation.block_encoding
            except QrtError as failure:
                raise Unavailable(failure.message) from None

        return self._once("encoding", build)

    @property
    def built_encoding(self) -> BlockEncoding | None:
        """The encoding, if a rung has built it (None if none asked, or it could not be)."""
        ok, value = self._memo.get("encoding", (False, None))
        return value if ok else None

    @property
    def solution(self) -> NDArray[np.float64]:
        r"""$\mathbf L^{-1}\mathbf b$ (sparse LU), the driver's."""
        _ = self.matrix
        return self._once("solution", lambda: self.compilation.solution)

    @property
    def qsvt(self) -> QsvtCircuit:
        """The QSVT inversion circuit, the driver's (the polynomial error ``qrtc run`` uses)."""

        def build() -> QsvtCircuit:
            _ = self.encoding, self.solution
            try:
                return self.compilation.qsvt
            except QrtError as failure:
                raise Unavailable(failure.message) from None

        return self._once("qsvt", build)

    @property
    def lowered_qsvt(self) -> cirq.Circuit:
        """The QSVT circuit in the gates qsim runs, after checking that it fits and finishes."""

        def build() -> cirq.Circuit:
            qsvt = self.qsvt
            if qsvt.n_qubits > self.max_qubits:
                raise Unavailable(f"{qsvt.n_qubits} qubits > limit {self.max_qubits}")
            try:
                width = self.compilation.simulation_plan.width
            except SimulationTooLarge as refusal:
                raise Unavailable(refusal.message) from None
            if width > self.max_qubits:
                raise Unavailable(f"{width} qubits > limit {self.max_qubits}")
            try:
                check_fits(width, dtype=np.complex128)  # cirq.Simulator's double precision
            except SimulationTooLarge as refusal:
                raise Unavailable(refusal.message) from None
            return lower_for_simulation(qsvt.circuit)

        return self._once("lowered_qsvt", build)

    def simulate_qsvt(
        self,
        rhs: NDArray[np.float64],
        simulator: Simulator,
        *,
        shots: int | None = None,
        seed: int | None = None,
    ) -> PostselectedState:
        r"""The post-selected state of the QSVT circuit on $|0\rangle_{\rm anc}|b\rangle$.

        ``rhs``: $b$ on the system register, shape ``(2**n_system,)``, unit norm; ``shots`` and
        ``seed``: also sample the post-selection (see
        :func:`~qrtc.backends.simulate.simulate_postselected`). Results are kept by their
        arguments, so rungs that ask for the same input share one simulation.
        """
        key = (simulator, np.asarray(rhs, dtype=np.float64).tobytes(), shots, seed)
        if key not in self._simulations:
            qsvt, lowered = self.qsvt, self.lowered_qsvt
            state = np.zeros(1 << qsvt.n_qubits, dtype=np.complex128)
            state[: rhs.shape[0]] = rhs
            self._simulations[key] = simulate_postselected(
                lowered,
                qsvt.qubit_order,
                state,
                qsvt.postselect,
                simulator=simulator,
                shots=shots,
                seed=seed,
            )
        return self._simulations[key]
