"""Constant folding of spec expressions: setting values, literals, exponents, indices, divisors.

A constant expression is built from numbers, array literals, unary minus and ``+ - * / ^ @``.
``fold`` returns its value as a float64 array, or raises :class:`NotConstant` (the caller decides
whether that is an error) or :class:`~qrtc.errors.SpecError` (a constant that has no value:
division by zero, ragged array, overflow).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qrtc.errors import SourceSpan, SpecError
from qrtc.ir import spec as ast

__all__ = ["NotConstant", "describe_shape", "fold", "fold_integer"]


class NotConstant(Exception):
    """The expression refers to a name or calls a function; ``node`` is the first such part."""

    def __init__(self, node: ast.Expr) -> None:
        super().__init__(node)
        self.node = node


def describe_shape(shape: tuple[int, ...]) -> str:
    """``a scalar`` or ``shape [2, 3]``, as the user writes shapes."""
    if not shape:
        return "a scalar"
    return f"shape [{', '.join(str(d) for d in shape)}]"


def fold(node: ast.Expr) -> NDArray[np.float64]:
    """The value of a constant expression; raises NotConstant or SpecError."""
    with np.errstate(all="ignore"):
        value = _fold(node)
    if not np.all(np.isfinite(value)):
        raise SpecError(
            "this constant is not a finite number",
            span=node.span,
            hint="numbers must be finite; check for overflow or an invalid power",
        )
    return value


def fold_integer(node: ast.Expr, what: str) -> int:
    """A constant that must be an integer, e.g. an exponent or index; ``what`` names it."""
    value = fold(node)
    if value.shape != () or float(value) != int(value):
        shown = _show(value)
        raise SpecError(f"{what} must be an integer, not {shown}", span=node.span)
    return int(value)


def _show(value: NDArray[np.float64]) -> str:
    if value.shape == ():
        number = float(value)
        return repr(int(number)) if number.is_integer() else repr(number)
    return f"an array of {describe_shape(value.shape)}"


def _fold(node: ast.Expr) -> NDArray[np.float64]:
    match node:
        case ast.Number(value=value):
            return np.asarray(float(value))
        case ast.Negate(operand=operand):
            return -_fold(operand)
        case ast.ArrayLiteral(items=items):
            return _stack([_fold(item) for item in items], node.span)
        case ast.BinaryOp(op=op, left=left, right=right):
            a, b = _fold(left), _fold(right)
            return _binary(op, a, b, node.span, right.span)
        case _:
            raise NotConstant(node)


def _stack(values: list[NDArray[np.float64]], span: SourceSpan | None) -> NDArray[np.float64]:
    if not values:
        raise SpecError("an empty array has no value", span=span)
    first = values[0].shape
    for value in values[1:]:
        if value.shape != first:
            raise SpecError(
                f"array items must all have the same shape; found {describe_shape(first)} "
                f"and {describe_shape(value.shape)}",
                span=span,
            )
    return np.stack(values)


def _binary(
    op: str,
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    span: SourceSpan | None,
    right_span: SourceSpan | None,
) -> NDArray[np.float64]:
    if op == "@":
        if a.ndim == 0 or b.ndim == 0 or a.ndim > 2 or b.ndim > 2 or a.shape[-1] != b.shape[0]:
            raise SpecError(
                f"cannot multiply {describe_shape(a.shape)} by {describe_shape(b.shape)} with '@'",
                span=span,
            )
        return np.asarray(a @ b)
    if a.shape != b.shape and a.shape != () and b.shape != ():
        raise SpecError(
            f"'{op}' needs equal shapes or a scalar side, not {describe_shape(a.shape)} "
            f"and {describe_shape(b.shape)}",
            span=span,
        )
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if np.any(b == 0):
            raise SpecError("division by zero", span=right_span)
        return a / b
    assert op == "^", op
    return np.power(a, b)
