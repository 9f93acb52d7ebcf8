r"""Numeric evaluation and reverse-mode differentiation of :mod:`qrtc.ir.expr`, over all samples.

The expression IR describes one example. Here it is evaluated for all $M$ examples at once: a node
that depends on :class:`~qrtc.ir.expr.Input` or :class:`~qrtc.ir.expr.Label` is *batched* (its
value has a leading axis of length $M$, shape ``(M, *node.shape)``); a node built only from
parameters and constants is *unbatched* (shape ``node.shape``) and is computed once.

Reverse mode differentiates $\sum_i L_i$. Because the samples are independent,
$\partial(\sum_j L_j)/\partial x_i = \partial L_i/\partial x_i$, so one backward sweep gives every
per-sample input gradient, and the $\theta$ gradient summed over samples. An unbatched operand of a
batched node receives the adjoint summed over the batch axis.

This module is one of the two independent readers of the IR (the other is the lowering to
polynomial update maps, paper.md §2 A0); it shares no code with it. Every traversal is iterative
(:func:`qrtc.ir.expr.postorder`), so deep specs do not hit Python's recursion limit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TypeAlias, assert_never

import numpy as np
from numpy.typing import NDArray

from qrtc.ir import expr

__all__ = [
    "evaluate",
    "value_and_gradients",
    "value_and_input_gradient",
    "value_and_theta_gradient",
]

Array: TypeAlias = NDArray[np.float64]


def evaluate(root: expr.Node, theta: Array, inputs: Array, labels: Array) -> Array:
    """Value of ``root`` for every sample.

    Args:
        root: any node of the expression DAG.
        theta: $\\theta$, shape ``(n,)``.
        inputs: the model's inputs $x_i + \\delta_i$, shape ``(M, *input_shape)``.
        labels: $y_i$, shape ``(M, *label_shape)``.

    Returns:
        A new array of shape ``(M, *root.shape)``; an unbatched root is repeated $M$ times.
    """
    theta, inputs, labels = _as_arrays(theta, inputs, labels)
    plan = _plan(root)
    value = _forward(plan, theta, inputs, labels)[id(root)]
    n_samples = inputs.shape[0]
    if plan.batched[id(root)]:
        return np.array(value, dtype=np.float64)
    return np.array(np.broadcast_to(value, (n_samples, *root.shape)), dtype=np.float64)


def value_and_gradients(
    root: expr.Node, theta: Array, inputs: Array, labels: Array
) -> tuple[Array, Array, Array]:
    r"""Per-sample loss and both gradients, in one forward and one backward sweep.

    Args:
        root: a scalar node (shape ``()``), the per-example loss $L_i$.
        theta: $\theta$, shape ``(n,)``.
        inputs: $x_i + \delta_i$, shape ``(M, *input_shape)``.
        labels: $y_i$, shape ``(M, *label_shape)``.

    Returns:
        ``(loss, grad_theta, grad_input)``: $L_i$ of shape ``(M,)``;
        $\sum_i \partial L_i/\partial\theta$ of shape ``(n,)``; $\partial L_i/\partial x_i$ of
        shape ``(M, *input_shape)`` (equal to $\partial L_i/\partial\delta_i$). All new arrays.
    """
    loss, grad_theta, grad_input = _differentiate(
        root, theta, inputs, labels, wrt_theta=True, wrt_input=True
    )
    assert grad_theta is not None and grad_input is not None
    return loss, grad_theta, grad_input


def value_and_theta_gradient(
    root: expr.Node, theta: Array, inputs: Array, labels: Array
) -> tuple[Array, Array]:
    r"""``(loss (M,), grad_theta (n,))`` of :func:`value_and_gradients`, skipping the input side."""
    loss, grad_theta, _ = _differentiate(
        root, theta, inputs, labels, wrt_theta=True, wrt_input=False
    )
    assert grad_theta is not None
    return loss, grad_theta


def value_and_input_gradient(
    root: expr.Node, theta: Array, inputs: Array, labels: Array
) -> tuple[Array, Array]:
    r"""``(loss (M,), grad_input (M, *input_shape))`` of :func:`value_and_gradients`, skipping
    the $\theta$ side."""
    loss, _, grad_input = _differentiate(
        root, theta, inputs, labels, wrt_theta=False, wrt_input=True
    )
    assert grad_input is not None
    return loss, grad_input


# ---- sweeps -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class _Plan:
    """Everything that depends on the DAG alone, computed once per root.

    Attributes:
        order: the nodes, operands before users.
        batched: ``id(node) -> bool``, whether the node depends on the input or the label.
        wanted: ``(wrt_theta, wrt_input) -> ids`` of the nodes that lead to a requested leaf;
            only they get adjoints, so the attack never pays for the theta side and the learner
            never pays for the (M, d) input side.
    """

    order: tuple[expr.Node, ...]
    batched: dict[int, bool]
    wanted: dict[tuple[bool, bool], frozenset[int]]


# Keyed by node identity (nodes have eq=False); bounded so that many short-lived problems (tests,
# Hypothesis) do not pin their DAGs in memory.
@functools.lru_cache(maxsize=128)
def _plan(root: expr.Node) -> _Plan:
    order = tuple(expr.postorder(root))
    batched: dict[int, bool] = {}
    to_theta: set[int] = set()
    to_input: set[int] = set()
    for node in order:
        kids = expr.children(node)
        batched[id(node)] = isinstance(node, expr.Input | expr.Label) or any(
            batched[id(child)] for child in kids
        )
        if isinstance(node, expr.Parameter) or any(id(child) in to_theta for child in kids):
            to_theta.add(id(node))
        if isinstance(node, expr.Input) or any(id(child) in to_input for child in kids):
            to_input.add(id(node))
    wanted = {
        (True, True): frozenset(to_theta | to_input),
        (True, False): frozenset(to_theta),
        (False, True): frozenset(to_input),
        (False, False): frozenset(),
    }
    return _Plan(order=order, batched=batched, wanted=wanted)


def _as_arrays(theta: Array, inputs: Array, labels: Array) -> tuple[Array, Array, Array]:
    theta = np.asarray(theta, dtype=np.float64)
    inputs = np.asarray(inputs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if theta.ndim != 1:
        raise ValueError(f"theta must have shape (n,), not {theta.shape}")
    if inputs.ndim < 1 or labels.shape[:1] != inputs.shape[:1]:
        raise ValueError(f"inputs {inputs.shape} and labels {labels.shape} need the same M")
    return theta, inputs, labels


def _differentiate(
    root: expr.Node,
    theta: Array,
    inputs: Array,
    labels: Array,
    *,
    wrt_theta: bool,
    wrt_input: bool,
) -> tuple[Array, Array | None, Array | None]:
    if root.shape != ():
        raise ValueError(f"can only differentiate a scalar node, not shape {root.shape}")
    theta, inputs, labels = _as_arrays(theta, inputs, labels)
    n_samples = inputs.shape[0]
    plan = _plan(root)
    order = plan.order
    values = _forward(plan, theta, inputs, labels)

    if plan.batched[id(root)]:
        loss = np.array(values[id(root)], dtype=np.float64)
        seed = np.ones(n_samples)
    else:
        loss = np.full(n_samples, float(values[id(root)]))
        # An unbatched root is the same L for every sample, so the adjoint of sum_i L_i is M.
        seed = np.asarray(float(n_samples))

    adjoints = _backward(plan, values, seed, plan.wanted[wrt_theta, wrt_input])

    grad_theta: Array | None = None
    grad_input: Array | None = None
    if wrt_theta:
        grad_theta = np.zeros_like(theta)
        for node in order:
            if isinstance(node, expr.Parameter) and id(node) in adjoints:
                block = slice(node.offset, node.offset + node.size)
                grad_theta[block] += adjoints[id(node)].reshape(-1)
    if wrt_input:
        parts = [adjoints[id(n)] for n in order if isinstance(n, expr.Input) and id(n) in adjoints]
        if len(parts) == 1 and _is_owned(parts[0], inputs.shape):
            # The common case: hand the one (M, d) adjoint over instead of copying it.
            grad_input = parts[0]
        else:
            grad_input = np.zeros_like(inputs)
            for part in parts:
                grad_input += part
    return loss, grad_theta, grad_input


def _is_owned(array: Array, shape: tuple[int, ...]) -> bool:
    """Whether ``array`` is a fresh, writable, contiguous float64 array of ``shape``."""
    return (
        array.shape == shape
        and array.base is None
        and array.flags.writeable
        and array.flags.c_contiguous
        and array.dtype == np.float64
    )


def _forward(plan: _Plan, theta: Array, inputs: Array, labels: Array) -> dict[int, Array]:
    """Values keyed by ``id(node)``: shape ``(M, *shape)`` where batched, else ``shape``."""
    values: dict[int, Array] = {}
    batched = plan.batched
    for node in plan.order:
        is_batched = batched[id(node)]
        match node:
            case expr.Parameter():
                value = theta[node.offset : node.offset + node.size].reshape(node.shape)
            case expr.Input():
                _check_shape(node, inputs)
                value = inputs
            case expr.Label():
                _check_shape(node, labels)
                value = labels
            case expr.Constant():
                value = node.value
            case expr.Add() | expr.Sub() | expr.Mul():
                left = _lifted(values, batched, node.left, node.shape)
                right = _lifted(values, batched, node.right, node.shape)
                if isinstance(node, expr.Add):
                    value = left + right
                elif isinstance(node, expr.Sub):
                    value = left - right
                else:
                    value = left * right
            case expr.Neg():
                value = -values[id(node.operand)]
            case expr.Power():
                base = values[id(node.operand)]
                value = base**node.exponent if node.exponent != 1 else base
            case expr.Dot():
                value = _dot(
                    values[id(node.left)],
                    batched[id(node.left)],
                    values[id(node.right)],
                    batched[id(node.right)],
                )
            case expr.Sum():
                operand = values[id(node.operand)]
                if is_batched:
                    value = operand.reshape(operand.shape[0], -1).sum(axis=1)
                else:
                    value = np.asarray(operand.sum())
            case expr.MatMul():
                value = _matmul_node(node, values, batched)
            case expr.Transpose():
                value = np.swapaxes(values[id(node.operand)], -1, -2)
            case expr.Index():
                value = values[id(node.operand)][_index_key(node.indices, is_batched)]
            case expr.Stack():
                value = _stack(node, values, batched, is_batched)
            case expr.Taylor():
                shifted = values[id(node.operand)] - node.center
                value = _horner(node.coefficients, shifted)
            case _:
                assert_never(node)
        values[id(node)] = value
    return values


def _backward(
    plan: _Plan, values: dict[int, Array], seed: Array, wanted: frozenset[int]
) -> dict[int, Array]:
    """Adjoints of $\\sum_i L_i$ keyed by ``id(node)``, shaped like the node's value."""
    order, batched = plan.order, plan.batched
    adjoints: dict[int, Array] = {}
    root = order[-1]
    if id(root) in wanted:
        adjoints[id(root)] = seed

    def send(child: expr.Node, contribution: Array) -> None:
        key = id(child)
        previous = adjoints.get(key)
        # Never add in place: a contribution may be a view of another node's adjoint.
        adjoints[key] = contribution if previous is None else previous + contribution

    for node in reversed(order):
        grad = adjoints.get(id(node))
        if grad is None:
            continue
        out_batched = batched[id(node)]
        for child, contribution in _local_adjoints(
            node, grad, out_batched, values, batched, wanted
        ):
            send(child, contribution)
    return adjoints


def _local_adjoints(
    node: expr.Node,
    grad: Array,
    out_batched: bool,
    values: dict[int, Array],
    batched: dict[int, bool],
    wanted: frozenset[int],
) -> list[tuple[expr.Node, Array]]:
    """``(child, adjoint contribution)`` for every wanted operand of ``node``."""
    result: list[tuple[expr.Node, Array]] = []

    def wants(child: expr.Node) -> bool:
        return id(child) in wanted

    def reduced(child: expr.Node, contribution: Array) -> Array:
        return _reduce(contribution, out_batched, child.shape, batched[id(child)])

    match node:
        case expr.Add() | expr.Sub():
            if wants(node.left):
                result.append((node.left, reduced(node.left, grad)))
            if wants(node.right):
                signed = -grad if isinstance(node, expr.Sub) else grad
                result.append((node.right, reduced(node.right, signed)))
        case expr.Mul():
            if wants(node.left):
                other = _lifted(values, batched, node.right, node.shape)
                result.append((node.left, reduced(node.left, grad * other)))
            if wants(node.right):
                other = _lifted(values, batched, node.left, node.shape)
                result.append((node.right, reduced(node.right, grad * other)))
        case expr.Neg():
            if wants(node.operand):
                result.append((node.operand, -grad))
        case expr.Power():
            if wants(node.operand) and node.exponent >= 1:
                base = values[id(node.operand)]
                if node.exponent == 1:
                    result.append((node.operand, grad))
                elif node.exponent == 2:
                    result.append((node.operand, 2.0 * base * grad))
                else:
                    result.append(
                        (node.operand, node.exponent * base ** (node.exponent - 1) * grad)
                    )
        case expr.Dot():
            left, right = node.left, node.right
            if wants(left):
                result.append((left, _dot_adjoint(grad, out_batched, values, batched, left, right)))
            if wants(right):
                result.append(
                    (right, _dot_adjoint(grad, out_batched, values, batched, right, left))
                )
        case expr.Sum():
            if wants(node.operand):
                shape = values[id(node.operand)].shape
                lead = grad.reshape(grad.shape + (1,) * len(node.operand.shape))
                result.append((node.operand, np.broadcast_to(lead, shape)))
        case expr.MatMul():
            result.extend(_matmul_adjoints(node, grad, out_batched, values, batched, wanted))
        case expr.Transpose():
            if wants(node.operand):
                result.append((node.operand, np.swapaxes(grad, -1, -2)))
        case expr.Index():
            if wants(node.operand):
                scattered = np.zeros(values[id(node.operand)].shape)
                scattered[_index_key(node.indices, out_batched)] = grad
                result.append((node.operand, scattered))
        case expr.Stack():
            for position, item in enumerate(node.items):
                if wants(item):
                    part = grad[:, position] if out_batched else grad[position]
                    result.append((item, reduced(item, part)))
        case expr.Taylor():
            if wants(node.operand) and len(node.coefficients) > 1:
                derivative = tuple(k * c for k, c in enumerate(node.coefficients) if k >= 1)
                shifted = values[id(node.operand)] - node.center
                result.append((node.operand, grad * _horner(derivative, shifted)))
        case _:
            pass
    return result


# ---- helpers ----------------------------------------------------------------------------------


def _check_shape(node: expr.Input | expr.Label, array: Array) -> None:
    if array.shape[1:] != node.shape:
        raise ValueError(
            f"{type(node).__name__.lower()} {node.name!r} has shape {node.shape}, "
            f"but the data has per-sample shape {array.shape[1:]}"
        )


def _lifted(
    values: dict[int, Array], batched: dict[int, bool], child: expr.Node, out_shape: tuple[int, ...]
) -> Array:
    """``child``'s value, reshaped to broadcast against a value of shape ``(M?, *out_shape)``."""
    value = values[id(child)]
    # A batched scalar (M,) meeting a non-scalar would align with the wrong (trailing) axis.
    if batched[id(child)] and child.shape == () and out_shape != ():
        return value.reshape(value.shape[0], *(1,) * len(out_shape))
    return value


def _reduce(
    grad: Array, grad_batched: bool, shape: tuple[int, ...], operand_batched: bool
) -> Array:
    """Sum a broadcast adjoint back to the operand: over the batch axis for an unbatched
    operand, over the element axes for a scalar operand."""
    if grad_batched and not operand_batched:
        grad = grad.sum(axis=0)
    core = grad.shape[1:] if operand_batched else grad.shape
    if core != shape:
        assert shape == (), (core, shape)
        grad = grad.reshape(grad.shape[0], -1).sum(axis=1) if operand_batched else grad.sum()
    return np.asarray(grad)


def _index_key(indices: tuple[int, ...], is_batched: bool) -> tuple[slice | int, ...]:
    return (slice(None), *indices) if is_batched else indices


def _horner(coefficients: tuple[float, ...], shifted: Array) -> Array:
    r"""$\sum_k c_k w^k$ elementwise, by Horner's rule."""
    value = np.full_like(shifted, coefficients[-1])
    for coefficient in reversed(coefficients[:-1]):
        value = value * shifted + coefficient
    return value


def _dot(left: Array, left_batched: bool, right: Array, right_batched: bool) -> Array:
    if left_batched and right_batched:
        return np.asarray(np.einsum("ij,ij->i", left, right))
    if left_batched:
        return left @ right  # (M, k) @ (k,): one BLAS gemv
    if right_batched:
        return right @ left
    return np.asarray(np.dot(left, right))


def _dot_adjoint(
    grad: Array,
    out_batched: bool,
    values: dict[int, Array],
    batched: dict[int, bool],
    operand: expr.Node,
    other: expr.Node,
) -> Array:
    other_value = values[id(other)]
    if batched[id(operand)]:
        return grad[:, None] * other_value  # (M, k): the per-sample gradients themselves
    if out_batched:
        return other_value.T @ grad  # sum_i grad_i other_i without an (M, k) temporary
    return grad * other_value


def _stack(
    node: expr.Stack, values: dict[int, Array], batched: dict[int, bool], is_batched: bool
) -> Array:
    if not is_batched:
        return np.stack([values[id(item)] for item in node.items])
    n_samples = next(values[id(i)].shape[0] for i in node.items if batched[id(i)])
    item_shape = node.shape[1:]
    parts = [
        values[id(item)]
        if batched[id(item)]
        else np.broadcast_to(values[id(item)], (n_samples, *item_shape))
        for item in node.items
    ]
    return np.stack(parts, axis=1)


# MatMul works on "promoted" operands: a 1-D left becomes a (1, k) row, a 1-D right a (k, 1)
# column, each with the batch axis in front where batched, so one code path covers numpy's rules.


def _promote(value: Array, is_vector: bool, is_left: bool) -> Array:
    if not is_vector:
        return value
    return value[..., None, :] if is_left else value[..., :, None]


def _bmm(a: Array, a_batched: bool, b: Array, b_batched: bool) -> Array:
    """``a_i @ b_i`` per sample, shape ``(M?, m, n)``; one BLAS call when one side is unbatched."""
    if a_batched and b_batched:
        return np.asarray(np.matmul(a, b))
    if a_batched:
        n_samples, rows, inner = a.shape
        return (a.reshape(n_samples * rows, inner) @ b).reshape(n_samples, rows, b.shape[1])
    if b_batched:
        # C_i^T = B_i^T A^T: fold the batch into the rows of a single matrix product.
        n_samples, inner, cols = b.shape
        folded = np.swapaxes(b, 1, 2).reshape(n_samples * cols, inner) @ a.T
        return np.swapaxes(folded.reshape(n_samples, cols, a.shape[0]), 1, 2)
    return a @ b


def _bmm_summed(a: Array, a_batched: bool, b: Array, b_batched: bool) -> Array:
    """``sum_i a_i @ b_i``, shape ``(m, n)``; at least one side batched."""
    if a_batched and b_batched:
        return np.tensordot(a, b, axes=([0, 2], [0, 1]))
    if a_batched:
        return np.asarray(a.sum(axis=0) @ b)
    return np.asarray(a @ b.sum(axis=0))


def _matmul_node(node: expr.MatMul, values: dict[int, Array], batched: dict[int, bool]) -> Array:
    left_vector, right_vector = len(node.left.shape) == 1, len(node.right.shape) == 1
    a = _promote(values[id(node.left)], left_vector, is_left=True)
    b = _promote(values[id(node.right)], right_vector, is_left=False)
    product = _bmm(a, batched[id(node.left)], b, batched[id(node.right)])
    if left_vector:
        product = product[..., 0, :]
    if right_vector:
        product = product[..., 0]
    return product


def _matmul_adjoints(
    node: expr.MatMul,
    grad: Array,
    out_batched: bool,
    values: dict[int, Array],
    batched: dict[int, bool],
    wanted: frozenset[int],
) -> list[tuple[expr.Node, Array]]:
    r"""$\bar A = \bar C B^\top$, $\bar B = A^\top \bar C$ on promoted operands."""
    left_vector, right_vector = len(node.left.shape) == 1, len(node.right.shape) == 1
    a_batched, b_batched = batched[id(node.left)], batched[id(node.right)]
    a = _promote(values[id(node.left)], left_vector, is_left=True)
    b = _promote(values[id(node.right)], right_vector, is_left=False)
    g = grad[..., None] if right_vector else grad
    g = g[..., None, :] if left_vector else g

    def product(x: Array, x_batched: bool, y: Array, y_batched: bool, to_batched: bool) -> Array:
        if to_batched or not out_batched:
            return _bmm(x, x_batched, y, y_batched)
        return _bmm_summed(x, x_batched, y, y_batched)

    result: list[tuple[expr.Node, Array]] = []
    if id(node.left) in wanted:
        grad_a = product(g, out_batched, np.swapaxes(b, -1, -2), b_batched, a_batched)
        result.append((node.left, grad_a[..., 0, :] if left_vector else grad_a))
    if id(node.right) in wanted:
        grad_b = product(np.swapaxes(a, -1, -2), a_batched, g, out_batched, b_batched)
        result.append((node.right, grad_b[..., 0] if right_vector else grad_b))
    return result
