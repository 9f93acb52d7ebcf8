r"""Table lookups: XOR a classical value, or rotate a qubit by a classical angle, per address.

``XorLookup``: $|c\rangle|a\rangle|d\rangle \mapsto |c\rangle|a\rangle|d \oplus f(a)\rangle$
when the control qubits $c$ equal ``control_values`` (identity otherwise), with $f$ given by
its non-zero entries. ``RotationLookup``: $|c\rangle|a\rangle|v\rangle \mapsto |c\rangle|a\rangle
R_y(\theta(a))|v\rangle$, $\theta(a)$ from the table, ``default_angle`` elsewhere.

Both are written entry by entry (a sparse table; design.md §3's "table lookup over the
non-zeros"): one ``MultiControlledX`` fan-out onto the set bits of $f(a)$ per entry, or one
default rotation plus one ``MultiControlledRy`` by $\theta(a) - \theta_{\rm default}$ per entry
(all $R_y$ on one qubit commute). With $k$ controls, $w$ address bits and $e$ entries the cost is
therefore $e$ gates of $k + w$ controls each; see :mod:`qrtc.circuits.controlled` for theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import cirq
import numpy as np
from numpy.typing import NDArray

from qrtc.circuits._serialization import NAMESPACE, JsonDataclass
from qrtc.circuits._tensor import bits_of, flip, rotate_y, subspace
from qrtc.circuits.controlled import MultiControlledRy, MultiControlledX

__all__ = ["RotationLookup", "Table", "XorLookup"]


@dataclass(frozen=True, eq=False)
class Table(cirq.SerializableByKey):
    r"""A sparse classical table: distinct ``addresses`` (sorted, int64) and their ``values``.

    Equal when both arrays are equal, dtype included (exact, no tolerance); read-only. In cirq
    JSON a table is written once and referenced by every gate that shares it (a QSVT circuit
    holds each table of $U$ in $d$ copies of $U$ and $U^\dagger$), its values as exact
    JSON numbers with their dtype.
    """

    addresses: NDArray[np.int64]
    values: NDArray[Any]
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        assert self.addresses.shape == self.values.shape and self.addresses.ndim == 1
        assert np.all(np.diff(self.addresses) > 0), "addresses must be sorted and distinct"
        for array in (self.addresses, self.values):
            array.flags.writeable = False
        key = (self.addresses.tobytes(), self.values.dtype.str, self.values.tobytes())
        object.__setattr__(self, "_hash", hash(key))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Table):
            return NotImplemented
        return self is other or (
            self._hash == other._hash
            and self.values.dtype == other.values.dtype
            and np.array_equal(self.addresses, other.addresses)
            and np.array_equal(self.values, other.values)
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        # Python's float repr round-trips exactly, numpy's array repr (8 digits) does not.
        return (
            f"Table(addresses=np.array({self.addresses.tolist()!r}, dtype=np.int64), "
            f"values=np.array({self.values.tolist()!r}, dtype=np.{self.values.dtype.name}))"
        )

    @classmethod
    def _json_namespace_(cls) -> str:
        return NAMESPACE

    def _json_dict_(self) -> dict[str, Any]:
        return {
            "addresses": self.addresses.tolist(),
            "values": self.values.tolist(),
            "dtype": self.values.dtype.name,
        }

    @classmethod
    def _from_json_dict_(
        cls, addresses: list[int], values: list[Any], dtype: str, **kwargs: Any
    ) -> Table:
        return cls(np.array(addresses, dtype=np.int64), np.array(values, dtype=np.dtype(dtype)))

    @classmethod
    def from_arrays(cls, addresses: NDArray[np.int64], values: NDArray[Any]) -> Table:
        order = np.argsort(addresses, kind="stable")
        return cls(np.ascontiguousarray(addresses[order]), np.ascontiguousarray(values[order]))

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, int | float]], *, integer: bool) -> Table:
        items = list(pairs)
        addresses = np.array([a for a, _ in items], dtype=np.int64)
        values = np.array([v for _, v in items], dtype=np.int64 if integer else np.float64)
        return cls.from_arrays(addresses, values)

    def __len__(self) -> int:
        return int(self.addresses.size)

    def items(self) -> Iterator[tuple[int, Any]]:
        return zip(self.addresses.tolist(), self.values.tolist(), strict=True)

    def lookup(self, addresses: NDArray[np.int64]) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
        """For each address: whether the table has it, and its position in the table."""
        position = np.searchsorted(self.addresses, addresses)
        clipped = np.minimum(position, max(len(self) - 1, 0))
        found = (
            (position < len(self)) & (self.addresses[clipped] == addresses)
            if len(self)
            else (np.zeros(addresses.shape, dtype=bool))
        )
        return found, clipped


@dataclass(frozen=True)
class XorLookup(JsonDataclass, cirq.Gate):
    """Qubits: controls, ``address_width`` address qubits, ``data_width`` data qubits.

    ``table`` maps addresses to non-zero integer values.
    """

    address_width: int
    data_width: int
    table: Table
    control_values: tuple[int, ...] = ()
    label: str = "lookup"

    def __post_init__(self) -> None:
        if len(self.table):
            assert (
                self.table.addresses[0] >= 0 and self.table.addresses[-1] < 1 << self.address_width
            )
            assert self.table.values.min() > 0 and self.table.values.max() < 1 << self.data_width

    def _num_qubits_(self) -> int:
        return len(self.control_values) + self.address_width + self.data_width

    def num_work_qubits(self) -> int:
        """The most any entry's ``MultiControlledX`` needs (they run one after another)."""
        controls = len(self.control_values) + self.address_width
        fan_outs = {int(v).bit_count() for v in np.unique(self.table.values).tolist()}
        return max(
            (MultiControlledX((1,) * controls, t).num_work_qubits() for t in fan_outs), default=0
        )

    def _has_unitary_(self) -> bool:
        return True

    def __pow__(self, power: int) -> XorLookup:
        if power in (1, -1):
            return self
        return NotImplemented

    def _apply_unitary_(self, args: cirq.ApplyUnitaryArgs) -> np.ndarray:
        tensor = args.target_tensor
        n_select = len(self.control_values) + self.address_width
        select_axes, data_axes = args.axes[:n_select], args.axes[n_select:]
        for address, value in self.table.items():
            bits = self.control_values + bits_of(address, self.address_width)
            index = subspace(tensor.ndim, select_axes, bits)
            for axis, bit in zip(data_axes, bits_of(value, self.data_width), strict=True):
                if bit:
                    flip(tensor, index, axis)
        return tensor

    def _decompose_(self, qubits: Sequence[cirq.Qid]) -> list[cirq.Operation]:
        n_select = len(self.control_values) + self.address_width
        select, data = qubits[:n_select], qubits[n_select:]
        ops = []
        for address, value in self.table.items():
            targets = [q for q, b in zip(data, bits_of(value, self.data_width), strict=True) if b]
            gate = MultiControlledX(
                self.control_values + bits_of(address, self.address_width), len(targets)
            )
            ops.append(gate.on(*select, *targets))
        return ops

    def _circuit_diagram_info_(self, args: cirq.CircuitDiagramInfoArgs) -> tuple[str, ...]:
        return (
            *("@" if v else "(0)" for v in self.control_values),
            *(f"{self.label}:addr" for _ in range(self.address_width)),
            *(f"{self.label}:^=" for _ in range(self.data_width)),
        )


@dataclass(frozen=True)
class RotationLookup(JsonDataclass, cirq.Gate):
    """Qubits: controls, ``address_width`` address qubits, the rotated qubit.

    ``table`` maps addresses to angles; every other address rotates by ``default_angle``.
    """

    address_width: int
    table: Table
    default_angle: float
    control_values: tuple[int, ...] = ()
    label: str = "value"

    def __post_init__(self) -> None:
        if len(self.table):
            assert (
                self.table.addresses[0] >= 0 and self.table.addresses[-1] < 1 << self.address_width
            )

    def _num_qubits_(self) -> int:
        return len(self.control_values) + self.address_width + 1

    def num_work_qubits(self) -> int:
        """The most any of the ``MultiControlledRy`` needs (they run one after another)."""
        default = MultiControlledRy(self.default_angle, self.control_values).num_work_qubits()
        if not np.any(self.table.values != self.default_angle):
            return default
        controls = (1,) * (len(self.control_values) + self.address_width)
        return max(default, MultiControlledRy(0.0, controls).num_work_qubits())

    def _has_unitary_(self) -> bool:
        return True

    def __pow__(self, power: int) -> RotationLookup:
        if power == 1:
            return self
        if power == -1:
            # Every rotation acts on the same qubit about the same axis: they commute.
            negated = Table(self.table.addresses, -self.table.values)
            return RotationLookup(
                self.address_width, negated, -self.default_angle, self.control_values, self.label
            )
        return NotImplemented

    def _apply_unitary_(self, args: cirq.ApplyUnitaryArgs) -> np.ndarray:
        tensor = args.target_tensor
        n_controls = len(self.control_values)
        address_axes, target = args.axes[n_controls:-1], args.axes[-1]
        controlled = subspace(tensor.ndim, args.axes[:n_controls], self.control_values)
        rotate_y(tensor, controlled, target, self.default_angle)
        for address, angle in self.table.items():
            index = subspace(
                tensor.ndim,
                (*args.axes[:n_controls], *address_axes),
                self.control_values + bits_of(address, self.address_width),
            )
            rotate_y(tensor, index, target, angle - self.default_angle)
        return tensor

    def _decompose_(self, qubits: Sequence[cirq.Qid]) -> list[cirq.Operation]:
        n_controls = len(self.control_values)
        controls, target = qubits[:n_controls], qubits[-1]
        ops = [MultiControlledRy(self.default_angle, self.control_values).on(*controls, target)]
        for address, angle in self.table.items():
            if angle == self.default_angle:
                continue
            gate = MultiControlledRy(
                angle - self.default_angle,
                self.control_values + bits_of(address, self.address_width),
            )
            ops.append(gate.on(*qubits))
        return ops

    def _circuit_diagram_info_(self, args: cirq.CircuitDiagramInfoArgs) -> tuple[str, ...]:
        return (
            *("@" if v else "(0)" for v in self.control_values),
            *(f"{self.label}:addr" for _ in range(self.address_width)),
            f"{self.label}:Ry",
        )
