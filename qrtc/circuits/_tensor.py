"""In-place actions on a state tensor, for the gates' ``_apply_unitary_`` (no matrices built)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import cirq

Index = tuple[int | slice, ...]


def bits_of(value: int, width: int) -> tuple[int, ...]:
    """``value`` as ``width`` bits, most significant first."""
    assert 0 <= value < (1 << width) or width == 0 and value == 0
    return tuple((value >> (width - 1 - k)) & 1 for k in range(width))


def subspace(ndim: int, axes: Sequence[int], values: Sequence[int]) -> Index:
    """The index that fixes each axis in ``axes`` to the matching bit of ``values``."""
    index: list[int | slice] = [slice(None)] * ndim
    for axis, value in zip(axes, values, strict=True):
        index[axis] = value
    return tuple(index)


def _with(index: Index, axis: int, value: int) -> Index:
    return index[:axis] + (value,) + index[axis + 1 :]


def flip(tensor: NDArray[np.complexfloating], index: Index, axis: int) -> None:
    """X on ``axis`` inside the sub-tensor ``index`` (which leaves ``axis`` free)."""
    zero, one = _with(index, axis, 0), _with(index, axis, 1)
    saved = tensor[zero].copy()
    tensor[zero] = tensor[one]
    tensor[one] = saved


def rotate_y(tensor: NDArray[np.complexfloating], index: Index, axis: int, angle: float) -> None:
    r"""$R_y(\theta) = \begin{pmatrix}\cos\theta/2 & -\sin\theta/2\\ \sin\theta/2 & \cos\theta/2
    \end{pmatrix}$ on ``axis`` inside the sub-tensor ``index``."""
    zero, one = _with(index, axis, 0), _with(index, axis, 1)
    cos, sin = np.cos(angle / 2), np.sin(angle / 2)
    amplitude_zero = tensor[zero].copy()
    amplitude_one = tensor[one]
    tensor[zero] = cos * amplitude_zero - sin * amplitude_one
    tensor[one] = sin * amplitude_zero + cos * amplitude_one


def apply_classical(
    args: cirq.ApplyUnitaryArgs, mapping: Callable[[NDArray[np.int64]], NDArray[np.int64]]
) -> NDArray[np.complexfloating]:
    """Apply the basis permutation ``x -> mapping(x)`` on the gate's qubits (big-endian)."""
    n = len(args.axes)
    moved = np.moveaxis(args.target_tensor, args.axes, range(n))
    flat = moved.reshape(1 << n, -1)
    permuted = np.empty_like(flat)
    permuted[mapping(np.arange(1 << n, dtype=np.int64))] = flat
    out = np.moveaxis(args.available_buffer, args.axes, range(n))
    out[...] = permuted.reshape(moved.shape)
    return args.available_buffer


def field_of(indices: NDArray[np.int64], total: int, start: int, width: int) -> NDArray[np.int64]:
    """Bits ``start .. start + width`` (counted from the most significant of ``total``)."""
    shift = total - start - width
    return (indices >> shift) & ((1 << width) - 1)


def with_field(
    indices: NDArray[np.int64], total: int, start: int, width: int, value: NDArray[np.int64]
) -> NDArray[np.int64]:
    """``indices`` with the bit field of :func:`field_of` replaced by ``value``."""
    shift = total - start - width
    mask = ((1 << width) - 1) << shift
    return (indices & ~mask) | ((value << shift) & mask)
