"""Spec expressions (``qrtc.ir.spec``) to the typed expression IR (``qrtc.ir.expr``).

Resolves names, infers and checks every shape, and enforces polynomial-ness: ``^`` takes a
non-negative integer constant, ``/`` divides by a non-zero constant, and the analytic functions
appear only as ``taylor(f(u), order = k, at = c)``. Errors are collected, not raised: a
sub-expression with an error lowers to ``None`` and its users stay silent, so one mistake gives
one message.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import numpy as np

from qrtc.errors import QrtError, SourceSpan, SpecError
from qrtc.frontend.constants import NotConstant, describe_shape, fold, fold_integer
from qrtc.frontend.taylor import ANALYTIC_FUNCTIONS, taylor_coefficients
from qrtc.ir import expr
from qrtc.ir import spec as ast

__all__ = ["FUNCTIONS", "MAX_EXPONENT", "ExpressionLowering", "suggest"]

FUNCTIONS: dict[str, str] = {
    "dot": "dot(a, b): sum of a[k] * b[k] over two vectors of equal length",
    "sum": "sum(a): sum of all entries",
    "mean": "mean(a): average of all entries",
    "transpose": "transpose(W): a matrix transposed",
    "taylor": "taylor(f(u), order = k, at = c): the order-k Taylor polynomial of f about c",
}

# Functions users reach for that have no polynomial form at all.
_NOT_ANALYTIC = {"relu", "abs", "max", "min", "sign", "clip", "round", "floor", "ceil", "step"}

_MAX_TAYLOR_ORDER = 32
MAX_EXPONENT = 64
"""Highest power accepted: the Carleman lift grows as d^(degree), so even this is generous."""


def suggest(name: str, candidates: object) -> str | None:
    """``did you mean 'x'?`` for the closest candidate, if any is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)  # type: ignore[call-overload]
    return f"did you mean {matches[0]!r}?" if matches else None


class ExpressionLowering:
    """Lowers expressions against a symbol table; appends every error to ``errors``."""

    def __init__(self, symbols: Mapping[str, expr.Node | None], errors: list[QrtError]) -> None:
        """``symbols[name] is None`` marks a name whose declaration already failed: its users
        stay silent instead of reporting it as unknown."""
        self._symbols = symbols
        self._errors = errors

    def lower(self, node: ast.Expr) -> expr.Node | None:
        """The typed node for ``node``, or None after reporting why there is none."""
        try:
            return self._lower(node)
        except _Reported:
            return None

    # ---- dispatch -------------------------------------------------------------------------

    def _fail(self, message: str, span: SourceSpan | None, hint: str | None = None) -> _Reported:
        self._errors.append(SpecError(message, span=span, hint=hint))
        return _Reported()

    def _lower(self, node: ast.Expr) -> expr.Node:
        match node:
            case ast.Number() | ast.Negate() | ast.ArrayLiteral() | ast.BinaryOp() if (
                constant := self._try_fold(node)
            ) is not None:
                return constant
            case ast.Name(id=name):
                return self._name(name, node.span)
            case ast.String():
                raise self._fail("a string is not a value in an expression", node.span)
            case ast.Negate(operand=operand):
                value = self._lower(operand)
                return expr.Neg(operand=value, shape=value.shape, span=node.span)
            case ast.ArrayLiteral(items=items):
                return self._stack(items, node.span)
            case ast.BinaryOp():
                return self._binary(node)
            case ast.Index():
                return self._index(node)
            case ast.Call():
                return self._call(node)
        raise AssertionError(f"unhandled node {node!r}")  # pragma: no cover

    def _try_fold(self, node: ast.Expr) -> expr.Constant | None:
        try:
            value = fold(node)
        except NotConstant:
            return None
        except SpecError as error:
            self._errors.append(error)
            raise _Reported() from None
        return expr.Constant(value=value, span=node.span)

    def _name(self, name: str, span: SourceSpan | None) -> expr.Node:
        if name in self._symbols:
            node = self._symbols[name]
            if node is None:
                raise _Reported()
            return node
        hint = suggest(name, self._symbols)
        if name in FUNCTIONS or name in ANALYTIC_FUNCTIONS:
            hint = f"'{name}' is a function; call it as {name}(...)"
        raise self._fail(f"unknown name {name!r}", span, hint or self._known_names_hint())

    def _known_names_hint(self) -> str | None:
        if not self._symbols:
            return None
        return "declared names: " + ", ".join(sorted(self._symbols))

    # ---- operators ------------------------------------------------------------------------

    def _stack(self, items: tuple[ast.Expr, ...], span: SourceSpan | None) -> expr.Node:
        if not items:
            raise self._fail("an empty array has no value", span)
        values = [self._lower(item) for item in items]
        first = values[0].shape
        for value, item in zip(values, items, strict=True):
            if value.shape != first:
                raise self._fail(
                    f"array items must all have the same shape; the first is "
                    f"{describe_shape(first)}, this one {describe_shape(value.shape)}",
                    item.span,
                )
        return expr.Stack(items=tuple(values), shape=(len(values), *first), span=span)

    def _binary(self, node: ast.BinaryOp) -> expr.Node:
        if node.op == "^":
            return self._power(node)
        if node.op == "/":
            return self._divide(node)
        left = self._lower_or_none(node.left)
        right = self._lower_or_none(node.right)
        if left is None or right is None:
            raise _Reported()
        if node.op == "@":
            return self._matmul(left, right, node)
        if left.shape != right.shape and left.shape != () and right.shape != ():
            raise self._fail(
                f"'{node.op}' needs equal shapes or a scalar side, but the left side has "
                f"{describe_shape(left.shape)} and the right side {describe_shape(right.shape)}",
                node.span,
                hint="use '@' for matrix products and dot(a, b) for inner products"
                if node.op == "*"
                else None,
            )
        shape = left.shape or right.shape
        if node.op == "+":
            return expr.Add(left=left, right=right, shape=shape, span=node.span)
        if node.op == "-":
            return expr.Sub(left=left, right=right, shape=shape, span=node.span)
        return expr.Mul(left=left, right=right, shape=shape, span=node.span)

    def _lower_or_none(self, node: ast.Expr) -> expr.Node | None:
        # Both operands are lowered even if the first fails, so both report their errors.
        return self.lower(node)

    def _power(self, node: ast.BinaryOp) -> expr.Node:
        base = self._lower_or_none(node.left)
        try:
            exponent = fold_integer(node.right, "an exponent")
        except NotConstant:
            raise self._fail(
                "an exponent must be a constant non-negative integer",
                node.right.span,
                hint="x^y with a variable y is not a polynomial",
            ) from None
        except SpecError as error:
            raise self._fail(
                error.message.replace("must be an integer", "must be a non-negative integer"),
                error.span,
                hint="only polynomial expressions can be compiled; for other powers use "
                "taylor(exp(...)) or taylor(log(...))",
            ) from None
        if exponent < 0:
            raise self._fail(
                f"an exponent must be a non-negative integer, not {exponent}",
                node.right.span,
                hint="negative powers are not polynomial; divide by constants only",
            )
        if exponent > MAX_EXPONENT:
            raise self._fail(
                f"exponent {exponent} is too large; qrtc builds polynomials of degree up to "
                f"{MAX_EXPONENT}",
                node.right.span,
            )
        if base is None:
            raise _Reported()
        return expr.Power(operand=base, exponent=exponent, shape=base.shape, span=node.span)

    def _divide(self, node: ast.BinaryOp) -> expr.Node:
        numerator = self._lower_or_none(node.left)
        try:
            divisor = fold(node.right)
        except NotConstant:
            raise self._fail(
                "can only divide by a constant",
                node.right.span,
                hint="division by a variable is not polynomial",
            ) from None
        except SpecError as error:
            self._errors.append(error)
            raise _Reported() from None
        if np.any(divisor == 0):
            raise self._fail("division by zero", node.right.span)
        if numerator is None:
            raise _Reported()
        if divisor.shape not in ((), numerator.shape):
            raise self._fail(
                f"cannot divide {describe_shape(numerator.shape)} by "
                f"{describe_shape(divisor.shape)}",
                node.span,
            )
        with np.errstate(over="ignore"):
            inverse = 1.0 / divisor
        if not np.all(np.isfinite(inverse)):
            raise self._fail(
                "dividing by this constant overflows: its reciprocal is not a finite number",
                node.right.span,
            )
        reciprocal = expr.Constant(value=inverse, span=node.right.span)
        return expr.Mul(left=numerator, right=reciprocal, shape=numerator.shape, span=node.span)

    def _matmul(self, left: expr.Node, right: expr.Node, node: ast.BinaryOp) -> expr.Node:
        a, b = left.shape, right.shape
        if len(a) == 1 and len(b) == 1 and a == b:
            return expr.Dot(left=left, right=right, span=node.span)
        valid = 1 <= len(a) <= 2 and 1 <= len(b) <= 2 and a[-1] == b[0]
        if not valid:
            raise self._fail(
                f"cannot multiply {describe_shape(a)} by {describe_shape(b)} with '@'",
                node.span,
                hint="'@' needs (m, k) @ (k, n), (m, k) @ (k,) or (k,) @ (k, n)",
            )
        shape = a[:-1] + b[1:]
        return expr.MatMul(left=left, right=right, shape=shape, span=node.span)

    def _index(self, node: ast.Index) -> expr.Node:
        base = self._lower(node.base)
        if len(node.indices) > len(base.shape):
            raise self._fail(
                f"{len(node.indices)} indices for a value of {describe_shape(base.shape)}",
                node.span,
            )
        indices = []
        for axis, index in enumerate(node.indices):
            try:
                value = fold_integer(index, "an index")
            except NotConstant:
                raise self._fail("an index must be a constant integer", index.span) from None
            except SpecError as error:
                self._errors.append(error)
                raise _Reported() from None
            length = base.shape[axis]
            if not 0 <= value < length:
                raise self._fail(
                    f"index {value} is out of range for an axis of length {length}",
                    index.span,
                    hint=f"indices start at 0 and run to {length - 1}",
                )
            indices.append(value)
        return expr.Index(
            operand=base,
            indices=tuple(indices),
            shape=base.shape[len(indices) :],
            span=node.span,
        )

    # ---- calls ----------------------------------------------------------------------------

    def _call(self, node: ast.Call) -> expr.Node:
        name = node.func
        if name == "taylor":
            return self._taylor(node)
        if name in ANALYTIC_FUNCTIONS:
            raise self._fail(
                f"{name}(...) is not a polynomial",
                node.span,
                hint=f"use its Taylor polynomial, e.g. taylor({name}(u), order = 3, at = "
                f"{'1' if name == 'log' else '0'})",
            )
        if name in _NOT_ANALYTIC:
            raise self._fail(
                f"{name}(...) is not a polynomial and has no Taylor polynomial",
                node.func_span,
                hint="qrtc compiles polynomial models; use a polynomial activation such as "
                "u^2, or taylor(softplus(u), ...) for a smooth ReLU",
            )
        if name not in FUNCTIONS:
            hint = suggest(name, FUNCTIONS) or "functions: " + ", ".join(FUNCTIONS)
            raise self._fail(f"unknown function {name!r}", node.func_span, hint)
        arity = 2 if name == "dot" else 1
        if len(node.args) != arity or node.keywords:
            raise self._fail(
                f"{name} takes {arity} positional argument{'s' if arity > 1 else ''}",
                node.span,
                hint=FUNCTIONS[name],
            )
        args = [self._lower_or_none(arg) for arg in node.args]
        if any(arg is None for arg in args):
            raise _Reported()
        operands = [arg for arg in args if arg is not None]
        if name == "dot":
            a, b = operands
            if len(a.shape) != 1 or a.shape != b.shape:
                raise self._fail(
                    f"dot needs two vectors of equal length, not {describe_shape(a.shape)} and "
                    f"{describe_shape(b.shape)}",
                    node.span,
                    hint="use '@' for matrix products",
                )
            return expr.Dot(left=a, right=b, span=node.span)
        (operand,) = operands
        if name == "sum":
            return expr.Sum(operand=operand, span=node.span)
        if name == "mean":
            size = int(np.prod(operand.shape, dtype=np.int64))
            total = expr.Sum(operand=operand, span=node.span)
            return expr.Mul(
                left=total,
                right=expr.Constant(value=np.asarray(1.0 / size)),
                shape=(),
                span=node.span,
            )
        assert name == "transpose", name
        if len(operand.shape) != 2:
            raise self._fail(
                f"transpose needs a matrix, not {describe_shape(operand.shape)}", node.span
            )
        rows, columns = operand.shape
        return expr.Transpose(operand=operand, shape=(columns, rows), span=node.span)

    def _taylor(self, node: ast.Call) -> expr.Node:
        usage = "taylor(f(u), order = k, at = c) with f one of " + ", ".join(ANALYTIC_FUNCTIONS)
        if len(node.args) != 1:
            raise self._fail("taylor takes exactly one positional argument", node.span, usage)
        inner = node.args[0]
        if not isinstance(inner, ast.Call) or inner.func not in ANALYTIC_FUNCTIONS:
            raise self._fail(
                "the first argument of taylor must be a call of an analytic function",
                inner.span,
                usage,
            )
        if len(inner.args) != 1 or inner.keywords:
            raise self._fail(f"{inner.func} takes one argument", inner.span)
        operand = self._lower_or_none(inner.args[0])
        keywords = {keyword.name: keyword for keyword in node.keywords}
        for keyword in node.keywords:
            if keyword.name not in ("order", "at"):
                raise self._fail(
                    f"taylor has no argument {keyword.name!r}",
                    keyword.span,
                    suggest(keyword.name, ("order", "at")) or usage,
                )
        if "order" not in keywords:
            raise self._fail("taylor needs 'order = k'", node.span, usage)
        order = self._keyword_integer(keywords["order"], "the Taylor order")
        center = 0.0
        if "at" in keywords:
            try:
                value = fold(keywords["at"].value)
            except NotConstant:
                raise self._fail(
                    "the Taylor centre 'at' must be a constant", keywords["at"].value.span
                ) from None
            except SpecError as error:
                self._errors.append(error)
                raise _Reported() from None
            if value.shape != ():
                raise self._fail("the Taylor centre 'at' must be a number", keywords["at"].span)
            center = float(value)
        if not 1 <= order <= _MAX_TAYLOR_ORDER:
            raise self._fail(
                f"the Taylor order must be between 1 and {_MAX_TAYLOR_ORDER}, not {order}",
                keywords["order"].value.span,
            )
        try:
            coefficients = taylor_coefficients(inner.func, center, order)
        except ValueError as error:
            raise self._fail(
                str(error), keywords["at"].value.span if "at" in keywords else node.span
            ) from None
        if operand is None:
            raise _Reported()
        return expr.Taylor(
            operand=operand,
            function=inner.func,
            center=center,
            coefficients=coefficients,
            shape=operand.shape,
            span=node.span,
        )

    def _keyword_integer(self, keyword: ast.Keyword, what: str) -> int:
        try:
            return fold_integer(keyword.value, what)
        except NotConstant:
            raise self._fail(f"{what} must be a constant integer", keyword.value.span) from None
        except SpecError as error:
            self._errors.append(error)
            raise _Reported() from None


class _Reported(Exception):
    """Unwinds a failed sub-expression whose error is already in the list."""
