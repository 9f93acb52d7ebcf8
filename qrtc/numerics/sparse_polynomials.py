r"""Arrays of sparse multivariate polynomials, vectorised with numpy.

A :class:`SparsePolynomials` of shape ``shape`` holds one polynomial in $u_0, \dots, u_{D-1}$ per
entry. For each degree $k$ its monomials are COO rows ``(output, variables, coefficient)``:
``output`` the entry's flat row-major index, ``variables`` the non-decreasing multi-index
$(a_1 \le \dots \le a_k)$ of $u_{a_1} \cdots u_{a_k}$. Every array is kept *canonical*: rows sorted
by ``(output, variables)``, no duplicates, no exact zeros; so the degree-$k$ block of a map
$\mathbb{R}^D \to \mathbb{R}^D$ is already the :class:`~qrtc.ir.polynomial_maps.SparseTensor`
$A_k$ of paper.md §2 A0.

Every operation works on whole coefficient arrays (a product is a join of terms on the shared
output index, a contraction then merges the sums), so the Python loops run over degrees and axes,
never over monomials. The lowering to polynomial maps evaluates the expression IR with these.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qrtc.ir.polynomial_maps import SparseTensor

__all__ = [
    "SparsePolynomials",
    "Terms",
    "add",
    "broadcast_to",
    "concatenate",
    "constant",
    "einsum",
    "gradient",
    "multiply",
    "negate",
    "polyval",
    "power",
    "reshape",
    "scale",
    "stack",
    "subtract",
    "sum_over",
    "take",
    "to_sparse_tensors",
    "transpose",
    "variables",
    "where",
    "zeros",
]

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class Terms:
    """The degree-``k`` monomials of a polynomial array.

    Attributes:
        outputs: shape ``(nnz,)``, int64 flat index of the entry each monomial belongs to.
        variables: shape ``(nnz, k)``, int64, each row non-decreasing.
        coefficients: shape ``(nnz,)``, float64.
    """

    outputs: Ints
    variables: Ints
    coefficients: Floats

    def __post_init__(self) -> None:
        for name in ("outputs", "variables", "coefficients"):
            object.__setattr__(self, name, _read_only(getattr(self, name)))

    @property
    def degree(self) -> int:
        return int(self.variables.shape[1])

    @property
    def nnz(self) -> int:
        return int(self.outputs.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class SparsePolynomials:
    """An array of polynomials in ``n_variables`` variables; canonical (see the module docstring).

    Attributes:
        shape: the array's shape (``()`` for one polynomial).
        n_variables: $D$.
        terms: ``terms[k]`` holds the degree-``k`` monomials, ``k = 0..len(terms) - 1``; the
            last block is non-empty unless the array is zero (then there is one empty block).
    """

    shape: tuple[int, ...]
    n_variables: int
    terms: tuple[Terms, ...]

    @property
    def size(self) -> int:
        return _prod(self.shape)

    @property
    def degree(self) -> int:
        """The highest degree with a monomial (0 for a zero or constant array)."""
        return len(self.terms) - 1

    @property
    def nnz(self) -> int:
        return sum(block.nnz for block in self.terms)

    def evaluate(self, u: ArrayLike) -> Floats:
        """The value at the point ``u`` (shape ``(D,)``), an array of shape ``shape``."""
        point = np.asarray(u, dtype=np.float64)
        assert point.shape == (self.n_variables,), point.shape
        total = np.zeros(self.size)
        for block in self.terms:
            values = block.coefficients
            if block.degree:
                values = values * np.prod(point[block.variables], axis=1)
            total += np.bincount(block.outputs, weights=values, minlength=self.size)
        return total.reshape(self.shape)

    def verify(self) -> None:
        """Check the canonical form (O(nnz))."""
        assert self.terms and (len(self.terms) == 1 or self.terms[-1].nnz)
        for k, block in enumerate(self.terms):
            assert block.variables.shape == (block.nnz, k)
            assert block.coefficients.shape == (block.nnz,)
            assert np.all((block.outputs >= 0) & (block.outputs < self.size))
            assert np.all((block.variables >= 0) & (block.variables < self.n_variables))
            assert np.all(np.diff(block.variables, axis=1) >= 0)
            assert np.all(block.coefficients != 0)
            keys = np.column_stack([block.outputs, block.variables])
            if block.nnz > 1:
                steps = np.diff(keys, axis=0)
                first = np.argmax(steps != 0, axis=1)
                assert np.all(steps[np.arange(len(steps)), first] > 0), "not sorted or repeated"


# ---- constructors -------------------------------------------------------------------------------


def zeros(shape: tuple[int, ...], n_variables: int) -> SparsePolynomials:
    return _canonical(shape, n_variables, [])


def constant(values: ArrayLike, n_variables: int) -> SparsePolynomials:
    """The constant array ``values``."""
    array = np.asarray(values, dtype=np.float64)
    flat = array.reshape(-1)
    outputs = np.flatnonzero(flat)
    block = (outputs, np.empty((len(outputs), 0), np.int64), flat[outputs])
    return _canonical(array.shape, n_variables, [block])


def variables(indices: ArrayLike, n_variables: int) -> SparsePolynomials:
    """The array whose entry ``e`` is $u_{\\mathrm{indices}[e]}$."""
    index = np.asarray(indices, dtype=np.int64)
    assert np.all((index >= 0) & (index < n_variables)), "variable index out of range"
    flat = index.reshape(-1, 1)
    block = (np.arange(len(flat)), flat, np.ones(len(flat)))
    return _canonical(index.shape, n_variables, [block])


# ---- linear operations --------------------------------------------------------------------------


def add(a: SparsePolynomials, b: SparsePolynomials) -> SparsePolynomials:
    """``a + b`` with numpy broadcasting."""
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = broadcast_to(a, shape), broadcast_to(b, shape)
    blocks = [_raw(block) for block in (*a.terms, *b.terms)]
    return _canonical(shape, a.n_variables, blocks)


def scale(a: SparsePolynomials, factor: float) -> SparsePolynomials:
    """``factor * a``."""
    blocks = [(t.outputs, t.variables, t.coefficients * factor) for t in a.terms]
    return _canonical(a.shape, a.n_variables, blocks)


def negate(a: SparsePolynomials) -> SparsePolynomials:
    return scale(a, -1.0)


def subtract(a: SparsePolynomials, b: SparsePolynomials) -> SparsePolynomials:
    return add(a, negate(b))


def reshape(a: SparsePolynomials, shape: tuple[int, ...]) -> SparsePolynomials:
    """Same entries, row-major, in a new shape of the same size."""
    assert _prod(shape) == a.size, (a.shape, shape)
    return SparsePolynomials(tuple(shape), a.n_variables, a.terms)


def broadcast_to(a: SparsePolynomials, shape: tuple[int, ...]) -> SparsePolynomials:
    """``numpy.broadcast_to`` (entries repeated, not shared)."""
    shape = tuple(shape)
    if a.shape == shape:
        return a
    assert np.broadcast_shapes(a.shape, shape) == shape, (a.shape, shape)
    lead = len(shape) - len(a.shape)
    own = [lead + axis for axis, size in enumerate(a.shape) if size == shape[lead + axis]]
    spread = [axis for axis in range(len(shape)) if axis not in own]
    spread_shape = [shape[axis] for axis in spread]
    copies = _prod(spread_shape)
    # Entry e lands at its own index with the spread axes at 0, plus each offset of those axes.
    offsets = _ravel(_unravel(np.arange(copies), spread_shape), shape, spread, copies)
    blocks = []
    for block in a.terms:
        source = _unravel(block.outputs, a.shape)
        base = _ravel([source[axis - lead] for axis in own], shape, own, block.nnz)
        outputs = (base[:, None] + offsets[None, :]).reshape(-1)
        blocks.append(
            (
                outputs,
                np.repeat(block.variables, copies, axis=0),
                np.repeat(block.coefficients, copies),
            )
        )
    return _canonical(shape, a.n_variables, blocks)


def transpose(a: SparsePolynomials, axes: Sequence[int] | None = None) -> SparsePolynomials:
    """``numpy.transpose``."""
    order = list(reversed(range(len(a.shape)))) if axes is None else list(axes)
    shape = tuple(a.shape[axis] for axis in order)

    def move(outputs: Ints) -> Ints:
        source = _unravel(outputs, a.shape)
        return _ravel([source[axis] for axis in order], shape, range(len(shape)), len(outputs))

    return _map_outputs(a, shape, move)


def take(a: SparsePolynomials, index: int, axis: int = 0) -> SparsePolynomials:
    """``a[..., index, ...]`` with the integer ``index`` on ``axis`` (the axis is removed)."""
    index = index % a.shape[axis]
    shape = a.shape[:axis] + a.shape[axis + 1 :]
    rest = [ax for ax in range(len(a.shape)) if ax != axis]

    def move(outputs: Ints) -> Ints:
        source = _unravel(outputs, a.shape)
        moved = _ravel([source[ax] for ax in rest], shape, range(len(shape)), len(outputs))
        return np.where(source[axis] == index, moved, -1)

    return _map_outputs(a, shape, move)


def sum_over(a: SparsePolynomials, axis: int | Sequence[int] | None = None) -> SparsePolynomials:
    """``numpy.sum`` over ``axis`` (all axes when None; an empty tuple sums nothing)."""
    if axis is None:
        summed = set(range(len(a.shape)))
    else:
        summed = (
            {axis % len(a.shape)} if isinstance(axis, int) else {x % len(a.shape) for x in axis}
        )
    kept = [ax for ax in range(len(a.shape)) if ax not in summed]
    shape = tuple(a.shape[ax] for ax in kept)

    def move(outputs: Ints) -> Ints:
        source = _unravel(outputs, a.shape)
        return _ravel([source[ax] for ax in kept], shape, range(len(shape)), len(outputs))

    return _map_outputs(a, shape, move)


def concatenate(items: Sequence[SparsePolynomials], axis: int = 0) -> SparsePolynomials:
    """``numpy.concatenate``: shapes equal except along ``axis``."""
    first = items[0]
    total = sum(item.shape[axis] for item in items)
    shape = first.shape[:axis] + (total,) + first.shape[axis + 1 :]
    blocks = []
    offset = 0
    for item in items:
        assert item.shape[:axis] == first.shape[:axis], (item.shape, first.shape)
        assert item.shape[axis + 1 :] == first.shape[axis + 1 :], (item.shape, first.shape)
        for block in item.terms:
            source = _unravel(block.outputs, item.shape)
            source[axis] = source[axis] + offset
            blocks.append((_ravel(source, shape, range(len(shape)), block.nnz), *_raw(block)[1:]))
        offset += item.shape[axis]
    return _canonical(shape, first.n_variables, blocks)


def stack(items: Sequence[SparsePolynomials], axis: int = 0) -> SparsePolynomials:
    """``numpy.stack``: equal shapes, a new axis at ``axis``."""
    expanded = [reshape(item, item.shape[:axis] + (1,) + item.shape[axis:]) for item in items]
    return concatenate(expanded, axis)


def where(condition: ArrayLike, a: SparsePolynomials, b: SparsePolynomials) -> SparsePolynomials:
    """Entry ``e`` of ``a`` where ``condition[e]``, else of ``b``; all three of one shape."""
    mask = np.asarray(condition, dtype=bool)
    assert mask.shape == a.shape == b.shape, (mask.shape, a.shape, b.shape)
    flat = mask.reshape(-1)
    blocks = []
    for source, keep in ((a, flat), (b, ~flat)):
        for block in source.terms:
            chosen = np.flatnonzero(keep[block.outputs])
            blocks.append(
                (
                    block.outputs[chosen],
                    np.take(block.variables, chosen, axis=0),
                    block.coefficients[chosen],
                )
            )
    return _canonical(a.shape, a.n_variables, blocks)


# ---- products ---------------------------------------------------------------------------------


def multiply(a: SparsePolynomials, b: SparsePolynomials) -> SparsePolynomials:
    """Elementwise ``a * b`` with numpy broadcasting."""
    shape = np.broadcast_shapes(a.shape, b.shape)
    labels = list(range(len(shape)))

    def aligned(x: SparsePolynomials) -> tuple[SparsePolynomials, list[int]]:
        # A size-1 axis that broadcasts carries no label; dropping it keeps every flat index.
        lead = len(shape) - len(x.shape)
        kept = [lead + ax for ax, size in enumerate(x.shape) if size == shape[lead + ax]]
        return reshape(x, tuple(shape[ax] for ax in kept)), kept

    a, a_labels = aligned(a)
    b, b_labels = aligned(b)
    return _product(a, a_labels, b, b_labels, labels)


def einsum(subscripts: str, a: SparsePolynomials, b: SparsePolynomials) -> SparsePolynomials:
    """``numpy.einsum(subscripts, a, b)`` for two operands, e.g. ``"ik,k->i"``: products joined
    on the labels both operands carry, summed over the labels the output leaves out."""
    inputs, output = subscripts.replace(" ", "").split("->")
    a_subscripts, b_subscripts = inputs.split(",")
    assert len(set(a_subscripts)) == len(a_subscripts) == len(a.shape), (subscripts, a.shape)
    assert len(set(b_subscripts)) == len(b_subscripts) == len(b.shape), (subscripts, b.shape)
    code = {label: number for number, label in enumerate(sorted(set(inputs) - {","}))}
    return _product(
        a,
        [code[c] for c in a_subscripts],
        b,
        [code[c] for c in b_subscripts],
        [code[c] for c in output],
    )


def power(a: SparsePolynomials, exponent: int) -> SparsePolynomials:
    """Elementwise ``a ** exponent`` for an integer ``exponent >= 0``, by repeated squaring."""
    assert exponent >= 0, exponent
    result: SparsePolynomials | None = None
    base = a
    while exponent:
        if exponent & 1:
            result = base if result is None else multiply(result, base)
        exponent >>= 1
        if exponent:
            base = multiply(base, base)
    return constant(np.ones(a.shape), a.n_variables) if result is None else result


def polyval(coefficients: Sequence[float], a: SparsePolynomials) -> SparsePolynomials:
    r"""Elementwise $\sum_k c_k a^k$ (``coefficients[k]`` $= c_k$), by Horner's rule."""
    value = constant(np.full(a.shape, coefficients[-1]), a.n_variables)
    for coefficient in reversed(coefficients[:-1]):
        value = add(multiply(value, a), constant(np.full(a.shape, coefficient), a.n_variables))
    return value


# ---- derivatives and export -------------------------------------------------------------------


def gradient(a: SparsePolynomials, wrt: ArrayLike) -> SparsePolynomials:
    r"""Partial derivatives $\partial a_e / \partial u_{w}$.

    Args:
        a: the array to differentiate.
        wrt: variable indices, either shape ``(m,)`` (the same $m$ variables for every entry)
            or ``(*a.shape, m)`` (entry ``e`` takes its own ``wrt[e]``); distinct along the
            last axis.

    Returns:
        Shape ``(*a.shape, m)``; entry ``(e, c)`` is $\partial a_e / \partial u_w$ with
        $w$ = ``wrt[e, c]``.
        Each monomial sheds one factor per position of its multi-index; a repeated variable
        sheds it several times, and merging those gives the power rule's multiplicity.
    """
    chosen = np.asarray(wrt, dtype=np.int64)
    m = chosen.shape[-1]
    shape = (*a.shape, m)
    n_variables = a.n_variables
    if chosen.ndim == 1:
        table = np.full(n_variables, -1, dtype=np.int64)
        table[chosen] = np.arange(m)

        def column(outputs: Ints, variable: Ints) -> Ints:
            return table[variable]
    else:
        assert chosen.shape == shape, (chosen.shape, shape)
        assert a.size * n_variables < 2**63, "entry-variable key overflows int64"
        keys = (np.arange(a.size)[:, None] * n_variables + chosen.reshape(a.size, m)).reshape(-1)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]

        def column(outputs: Ints, variable: Ints) -> Ints:
            key = outputs * n_variables + variable
            at = np.minimum(np.searchsorted(sorted_keys, key), len(sorted_keys) - 1)
            return np.where(sorted_keys[at] == key, order[at] % m, -1)

    blocks = []
    for block in a.terms[1:]:
        for position in range(block.degree):
            found = column(block.outputs, block.variables[:, position])
            keep = found >= 0
            rest = np.delete(
                np.take(block.variables, np.flatnonzero(keep), axis=0), position, axis=1
            )
            outputs = block.outputs[keep] * m + found[keep]
            blocks.append((outputs, rest, block.coefficients[keep]))
    return _canonical(shape, n_variables, blocks)


def to_sparse_tensors(
    a: SparsePolynomials, max_degree: int
) -> tuple[Floats, tuple[SparseTensor, ...]]:
    r"""A map $\mathbb{R}^D \to \mathbb{R}^D$ (``a.shape == (D,)``) as $b_0$ and $A_1..A_q$.

    Returns:
        ``(constant, terms)``: $b_0$ of shape ``(D,)`` and ``terms[k - 1]`` $= A_k$ for
        $k = 1..$ ``max_degree`` (empty where ``a`` has no monomial of that degree).
    """
    size = a.n_variables
    assert a.shape == (size,), (a.shape, size)
    assert a.degree <= max_degree, (a.degree, max_degree)
    zero = a.terms[0]
    constant_term = np.zeros(size)
    constant_term[zero.outputs] = zero.coefficients  # canonical: one monomial per entry
    tensors = []
    for k in range(1, max_degree + 1):
        if k < len(a.terms):
            block = a.terms[k]
            rows, columns, values = block.outputs, block.variables, block.coefficients
        else:
            rows, columns, values = _empty(k)
        tensors.append(SparseTensor(degree=k, size=size, rows=rows, columns=columns, values=values))
    return constant_term, tuple(tensors)


# ---- the core: output remapping, the product join, canonical form ------------------------------

_Block = tuple[Ints, Ints, Floats]


def _read_only(array: NDArray[np.generic]) -> NDArray[np.generic]:
    """``array`` made read-only in place when it owns its memory (every array built here
    does), else a read-only copy."""
    if array.flags.writeable:
        if not array.flags.owndata:
            array = array.copy()
        array.flags.writeable = False
    return array


def _prod(shape: Sequence[int]) -> int:
    total = 1
    for size in shape:
        total *= int(size)
    return total


def _empty(k: int) -> _Block:
    return (np.empty(0, np.int64), np.empty((0, k), np.int64), np.empty(0, np.float64))


def _raw(block: Terms) -> _Block:
    return (block.outputs, block.variables, block.coefficients)


def _unravel(flat: Ints, shape: Sequence[int]) -> list[Ints]:
    """Per-axis indices of the row-major flat indices ``flat`` (``[]`` for shape ``()``)."""
    indices: list[Ints] = []
    rest = flat
    for size in reversed(shape):
        indices.append(rest % size)
        rest = rest // size
    return indices[::-1]


def _ravel(indices: Sequence[Ints], shape: Sequence[int], axes: Sequence[int], length: int) -> Ints:
    """Flat row-major indices (``length`` of them) into ``shape`` of ``indices[j]`` on axis
    ``axes[j]``, the other axes at 0."""
    strides = [_prod(shape[axis + 1 :]) for axis in range(len(shape))]
    flat: Ints = np.zeros(length, dtype=np.int64)
    for index, axis in zip(indices, axes, strict=True):
        flat = flat + index * strides[axis]
    return flat


def _map_outputs(
    a: SparsePolynomials, shape: tuple[int, ...], move: Callable[[Ints], Ints]
) -> SparsePolynomials:
    """Each monomial moved to entry ``move(output)`` of ``shape`` (``-1`` drops it); monomials
    that land on one entry are summed."""
    blocks = []
    for block in a.terms:
        outputs = move(block.outputs) if block.nnz else block.outputs
        keep = outputs >= 0
        chosen = np.flatnonzero(keep)
        blocks.append(
            (outputs[chosen], np.take(block.variables, chosen, axis=0), block.coefficients[chosen])
        )
    return _canonical(shape, a.n_variables, blocks)


def _product(
    a: SparsePolynomials,
    a_labels: Sequence[int],
    b: SparsePolynomials,
    b_labels: Sequence[int],
    out_labels: Sequence[int],
) -> SparsePolynomials:
    """$\\sum_{\\text{dropped labels}} a[a\\_labels]\\, b[b\\_labels]$ as an array over
    ``out_labels``: every pair of monomials whose entries agree on the shared labels."""
    assert a.n_variables == b.n_variables
    sizes: dict[int, int] = {}
    for labels, shape in ((a_labels, a.shape), (b_labels, b.shape)):
        for label, size in zip(labels, shape, strict=True):
            assert sizes.setdefault(label, size) == size, "label sizes disagree"
    shape = tuple(sizes[label] for label in out_labels)
    shared = [label for label in a_labels if label in b_labels]
    shared_shape = [sizes[label] for label in shared]
    shared_axes = range(len(shared))

    def split(
        x: SparsePolynomials, labels: Sequence[int], owns: Callable[[int], bool]
    ) -> list[tuple[Ints, Ints]]:
        """Per block: the join key over the shared labels, and this operand's part of the
        output index."""
        parts = []
        for block in x.terms:
            index = dict(zip(labels, _unravel(block.outputs, x.shape), strict=True))
            key = _ravel([index[label] for label in shared], shared_shape, shared_axes, block.nnz)
            mine = [label for label in out_labels if label in index and owns(label)]
            axes = [list(out_labels).index(label) for label in mine]
            own = _ravel([index[label] for label in mine], shape, axes, block.nnz)
            parts.append((key, own))
        return parts

    a_parts = split(a, a_labels, lambda label: True)
    b_parts = split(b, b_labels, lambda label: label not in a_labels)
    blocks: list[_Block] = []
    for b_block, (b_key, b_own) in zip(b.terms, b_parts, strict=True):
        if not b_block.nnz:
            continue
        order = np.argsort(b_key, kind="stable")
        sorted_key = b_key[order]
        for a_block, (a_key, a_own) in zip(a.terms, a_parts, strict=True):
            if not a_block.nnz:
                continue
            start = np.searchsorted(sorted_key, a_key, side="left")
            counts = np.searchsorted(sorted_key, a_key, side="right") - start
            total = int(counts.sum())
            if not total:
                continue
            ia = np.repeat(np.arange(a_block.nnz), counts)
            first = np.cumsum(counts) - counts
            ib = order[np.arange(total) - np.repeat(first - start, counts)]
            outputs = a_own[ia] + b_own[ib]
            product_variables = np.concatenate(
                [np.take(a_block.variables, ia, axis=0), np.take(b_block.variables, ib, axis=0)],
                axis=1,
            )
            if a_block.degree and b_block.degree:
                product_variables.sort(axis=1)
            coefficients = a_block.coefficients[ia] * b_block.coefficients[ib]
            blocks.append((outputs, product_variables, coefficients))
    return _canonical(shape, a.n_variables, blocks)


def _canonical(
    shape: Sequence[int], n_variables: int, blocks: Sequence[_Block]
) -> SparsePolynomials:
    """Gather blocks by degree, sort each by ``(output, variables)``, sum repeats, drop zeros."""
    shape = tuple(int(size) for size in shape)
    size = _prod(shape)
    by_degree: dict[int, list[_Block]] = {}
    for block in blocks:
        if len(block[0]):
            by_degree.setdefault(block[1].shape[1], []).append(block)
    terms: list[Terms] = []
    for k in range(max(by_degree, default=0) + 1):
        parts = by_degree.get(k, [])
        if not parts:
            terms.append(Terms(*_empty(k)))
            continue
        if len(parts) == 1:
            outputs, variables_, coefficients = parts[0]
        else:
            outputs = np.concatenate([part[0] for part in parts])
            variables_ = np.concatenate([part[1] for part in parts])
            coefficients = np.concatenate([part[2] for part in parts])
        terms.append(Terms(*_merge(size, n_variables, outputs, variables_, coefficients)))
    while len(terms) > 1 and not terms[-1].nnz:
        terms.pop()
    return SparsePolynomials(shape, n_variables, tuple(terms))


def _merge(
    size: int, n_variables: int, outputs: Ints, variables_: Ints, coefficients: Floats
) -> _Block:
    """Sorted, merged and zero-free copy of one degree's COO rows."""
    radices = [max(size, 1)] + [n_variables] * variables_.shape[1]
    words = _pack([outputs, *variables_.T], radices)
    order: Ints | None = None
    changes: NDArray[np.bool_] | None = None
    if len(words) == 1:
        key = words[0]
        if len(key) > 1 and not np.all(key[1:] > key[:-1]):
            # Stable (timsort) is several times faster here: the rows arrive as sorted runs.
            order = np.argsort(key, kind="stable")
            sorted_key = key[order]
            changes = sorted_key[1:] != sorted_key[:-1]
    else:
        order = np.lexsort(words[::-1])
        sorted_words = np.stack([word[order] for word in words])
        changes = np.any(sorted_words[:, 1:] != sorted_words[:, :-1], axis=0)
    rows: Ints | None = None
    if order is not None and changes is not None:
        starts = np.flatnonzero(np.concatenate([[True], changes]))
        coefficients = np.add.reduceat(coefficients[order], starts)
        rows = order[starts]
    nonzero = coefficients != 0
    if not np.all(nonzero):
        coefficients = coefficients[nonzero]
        rows = np.flatnonzero(nonzero) if rows is None else rows[nonzero]
    if rows is not None:
        # Gather only the surviving rows; permuting all (nnz, k) multi-indices costs more.
        outputs, variables_ = outputs[rows], np.take(variables_, rows, axis=0)
    return (
        np.ascontiguousarray(outputs, dtype=np.int64),
        np.ascontiguousarray(variables_, dtype=np.int64),
        np.ascontiguousarray(coefficients, dtype=np.float64),
    )


def _pack(columns: Sequence[Ints], radices: Sequence[int]) -> list[Ints]:
    """Mixed-radix int64 words whose lexicographic order is that of the rows of ``columns``."""
    words: list[Ints] = []
    word: Ints | None = None
    capacity = 1
    for column, radix in zip(columns, radices, strict=True):
        if word is not None and capacity * radix < 2**63:
            word = word * radix + column
            capacity *= radix
        else:
            if word is not None:
                words.append(word)
            word = np.asarray(column, dtype=np.int64)
            capacity = radix
    assert word is not None
    words.append(word)
    return words
