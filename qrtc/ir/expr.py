r"""Typed expression IR: the model and loss of one example, with every shape resolved.

The checker lowers the spec's ``predict``/``loss``/``let`` expressions to this DAG. It describes
**one example**: :class:`Input` is that example's perturbed features $x_i + \delta_i$ (shape
``input_shape``), :class:`Label` its target $y_i$, :class:`Parameter` a block of the flat
parameter vector $\theta \in \mathbb{R}^n$. Batching over the $M$ samples is the evaluator's job.

Every node is polynomial in $(\theta, x + \delta, y)$: non-polynomial functions only enter as a
:class:`Taylor` polynomial with explicit coefficients. Two independent consumers read this IR:
``qrtc.reference`` (numeric evaluation and its own reverse-mode autodiff) and the lowering to
polynomial update maps; neither shares code with the other.

Shapes are tuples of positive ints, ``()`` for scalars. Arrays are read-only float64.
Nodes compare by identity (``eq=False``); structurally equal sub-expressions written twice in the
spec are two nodes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from qrtc.errors import SourceSpan

__all__ = [
    "Add",
    "Constant",
    "children",
    "Dot",
    "Index",
    "Input",
    "Label",
    "MatMul",
    "Mul",
    "Neg",
    "Node",
    "Parameter",
    "Power",
    "Stack",
    "Sub",
    "Sum",
    "Taylor",
    "Transpose",
    "freeze_array",
    "postorder",
    "to_text",
]


def freeze_array(array: NDArray[np.float64]) -> NDArray[np.float64]:
    """A read-only float64 copy of ``array``.

    An array that is already read-only, float64 and owns its memory is returned as it is: nobody
    can write to it any more, and a copy of a gigabyte-sized trajectory would double peak memory.
    """
    if (
        isinstance(array, np.ndarray)
        and array.dtype == np.float64
        and not array.flags.writeable
        and array.flags.owndata
    ):
        return array
    frozen = np.array(array, dtype=np.float64, copy=True)
    frozen.flags.writeable = False
    return frozen


def _span() -> SourceSpan | None:
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Parameter:
    """The block ``theta[offset : offset + size].reshape(shape)`` of the flat parameter vector."""

    name: str
    shape: tuple[int, ...]
    offset: int
    span: SourceSpan | None = _span()

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Input:
    r"""The example's perturbed features $x_i + \delta_i$, shape ``shape``."""

    name: str
    shape: tuple[int, ...]
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Label:
    """The example's target $y_i$, shape ``shape``."""

    name: str
    shape: tuple[int, ...]
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Constant:
    """A constant array (read-only float64); ``shape == value.shape``."""

    value: NDArray[np.float64]
    span: SourceSpan | None = _span()

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", freeze_array(self.value))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.value.shape)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Add:
    """``left + right``; equal shapes, or one side scalar (broadcast)."""

    left: Node
    right: Node
    shape: tuple[int, ...]
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Sub:
    """``left - right``; equal shapes, or one side scalar (broadcast)."""

    left: Node
    right: Node
    shape: tuple[int, ...]
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Mul:
    """Elementwise ``left * right``; equal shapes, or one side scalar. Division by a constant
    ``c`` is lowered to ``Mul(a, Constant(1 / c))``."""

    left: Node
    right: Node
    shape: tuple[int, ...]
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Neg:
    """``-operand``."""

    operand: Node
    shape: tuple[int, ...]
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Power:
    """Elementwise ``operand ** exponent`` with a non-negative integer exponent."""

    operand: Node
    exponent: int
    shape: tuple[int, ...]
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Dot:
    """$\\sum_k a_k b_k$ of two vectors of equal length; shape ``()``."""

    left: Node
    right: Node
    shape: tuple[int, ...] = ()
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Sum:
    """Sum of all entries of ``operand``; shape ``()``."""

    operand: Node
    shape: tuple[int, ...] = ()
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MatMul:
    """``left @ right`` with numpy's rules for 1-D and 2-D operands: (m,k)@(k,n) -> (m,n),
    (m,k)@(k,) -> (m,), (k,)@(k,n) -> (n,). (Vector @ vector is written ``dot``.)"""

    left: Node
    right: Node
    shape: tuple[int, ...]
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Transpose:
    """Transpose of a 2-D operand."""

    operand: Node
    shape: tuple[int, ...]
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Index:
    """``operand[i0, i1, ...]``: integer indices into the leading axes (0-based, in range)."""

    operand: Node
    indices: tuple[int, ...]
    shape: tuple[int, ...]
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Stack:
    """``[item_0, item_1, ...]``: items of equal shape ``s`` stacked into ``(len(items), *s)``."""

    items: tuple[Node, ...]
    shape: tuple[int, ...]
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Taylor:
    r"""Elementwise $\sum_{k=0}^{K} c_k\,(u - a)^k$: the order-$K$ Taylor polynomial of
    ``function`` about ``center`` $a$, applied to ``operand`` $u$.

    ``coefficients[k]`` $= f^{(k)}(a)/k!$, computed by the checker; ``function`` and ``order``
    are kept for messages and reports only.
    """

    operand: Node
    function: str
    center: float
    coefficients: tuple[float, ...]
    shape: tuple[int, ...]
    span: SourceSpan | None = _span()

    @property
    def order(self) -> int:
        return len(self.coefficients) - 1


Node = (
    Parameter
    | Input
    | Label
    | Constant
    | Add
    | Sub
    | Mul
    | Neg
    | Power
    | Dot
    | Sum
    | MatMul
    | Transpose
    | Index
    | Stack
    | Taylor
)


def children(node: Node) -> tuple[Node, ...]:
    """The operands of ``node`` in a fixed order."""
    match node:
        case Add() | Sub() | Mul() | Dot() | MatMul():
            return (node.left, node.right)
        case Neg() | Power() | Sum() | Transpose() | Index() | Taylor():
            return (node.operand,)
        case Stack():
            return node.items
        case _:
            return ()


def postorder(root: Node) -> Iterator[Node]:
    """Each node of the DAG under ``root`` exactly once, operands before users; no recursion."""
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in seen:
            continue
        if expanded:
            seen.add(id(node))
            yield node
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(children(node)) if id(child) not in seen)


# Binding strength of each rendered form: a child binding less than its parent is parenthesised.
_SUM, _PRODUCT, _NEGATION, _POWER, _ATOM = 1, 2, 3, 4, 5


def to_text(root: Node, *, limit: int = 400) -> str:
    """``root`` as one line of infix text, deterministic, for ``Problem.to_text``.

    Calls print as in the spec (``dot``, ``sum``, ``transpose``); a :class:`Taylor` node as
    ``taylor(function, order K, at a)(u)``; a constant in full up to 8 entries. Each
    sub-expression is cut to ``limit`` characters (``...``), so a DAG with shared nodes
    cannot blow up; built bottom-up, without recursion.
    """
    rendered: dict[int, tuple[str, int]] = {}

    def child(node: Node, binding: int) -> str:
        text, strength = rendered[id(node)]
        return f"({text})" if strength < binding else text

    for node in postorder(root):
        match node:
            case Parameter() | Input() | Label():
                text, strength = node.name, _ATOM
            case Constant():
                negative = node.value.ndim == 0 and float(node.value) < 0
                text, strength = _constant_text(node.value), _NEGATION if negative else _ATOM
            case Add() | Sub():
                op = " + " if isinstance(node, Add) else " - "
                # a - (b - c): the right operand of a difference binds like a product.
                right = child(node.right, _PRODUCT if isinstance(node, Sub) else _SUM)
                text, strength = child(node.left, _SUM) + op + right, _SUM
            case Mul() | MatMul():
                op = " * " if isinstance(node, Mul) else " @ "
                right = child(node.right, _NEGATION)
                text, strength = child(node.left, _PRODUCT) + op + right, _PRODUCT
            case Neg():
                text, strength = "-" + child(node.operand, _POWER), _NEGATION
            case Power():
                text, strength = f"{child(node.operand, _ATOM)}^{node.exponent}", _POWER
            case Dot():
                left, right = rendered[id(node.left)][0], rendered[id(node.right)][0]
                text, strength = f"dot({left}, {right})", _ATOM
            case Sum():
                text, strength = f"sum({rendered[id(node.operand)][0]})", _ATOM
            case Transpose():
                text, strength = f"transpose({rendered[id(node.operand)][0]})", _ATOM
            case Index():
                indices = ", ".join(str(i) for i in node.indices)
                text, strength = f"{child(node.operand, _ATOM)}[{indices}]", _ATOM
            case Stack():
                items = ", ".join(rendered[id(item)][0] for item in node.items)
                text, strength = f"[{items}]", _ATOM
            case Taylor():
                operand = rendered[id(node.operand)][0]
                text = f"taylor({node.function}, order {node.order}, at {node.center:g})({operand})"
                strength = _ATOM
        if len(text) > limit:
            text, strength = text[: limit - 3] + "...", _ATOM
        rendered[id(node)] = (text, strength)
    return rendered[id(root)][0]


def _constant_text(value: NDArray[np.float64]) -> str:
    if value.ndim == 0:
        return _number(float(value))
    if value.size <= 8:
        return "[" + ", ".join(_constant_text(row) for row in value) + "]"
    return f"const{tuple(int(d) for d in value.shape)}"


def _number(value: float) -> str:
    return f"{(value if value != 0 else 0.0):.6g}"
