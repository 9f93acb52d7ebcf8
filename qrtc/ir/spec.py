r"""Stage 0 IR: the syntax tree of a ``.qrt`` spec, exactly as written.

A :class:`Spec` is what :func:`qrtc.parse` returns and what ``qrtc fmt`` prints. It holds no
numbers beyond the literals in the text and knows nothing about shapes; :func:`qrtc.check`
lowers it to a :class:`qrtc.ir.problem.Problem`.

Every node carries ``span``, the region of the source it was parsed from. Spans are excluded
from equality, so ``parse(fmt(spec)) == spec`` compares meaning, not layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from qrtc.errors import SourceSpan

__all__ = [
    "ArrayLiteral",
    "AttackSection",
    "BinaryOp",
    "Call",
    "Comment",
    "CompileSection",
    "DataDecl",
    "Definition",
    "Expr",
    "Index",
    "InlineData",
    "InputDecl",
    "Keyword",
    "LabelDecl",
    "Name",
    "Negate",
    "Number",
    "ParamDecl",
    "Sample",
    "Section",
    "Setting",
    "Spec",
    "Statement",
    "String",
    "TrainSection",
]

BinaryOperator = Literal["+", "-", "*", "/", "@", "^"]


def _span() -> SourceSpan | None:
    return field(default=None, compare=False, repr=False)


# ---- expressions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Number:
    """A non-negative numeric literal; ``int`` when written without '.' or exponent."""

    value: int | float
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Name:
    """A reference to a declared name, a setting value (``linf``) or ``auto``."""

    id: str
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class String:
    """A double-quoted string literal; ``value`` has the escapes resolved."""

    value: str
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class ArrayLiteral:
    """``[e1, e2, ...]``; nested literals make matrices."""

    items: tuple[Expr, ...]
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Negate:
    """Unary minus ``-operand``."""

    operand: Expr
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class BinaryOp:
    """``left op right``; ``^`` is the power, ``@`` the matrix product, ``*`` elementwise."""

    op: BinaryOperator
    left: Expr
    right: Expr
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Keyword:
    """``name = value`` inside a call's argument list."""

    name: str
    value: Expr
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """``func(args..., keywords...)``; positional arguments always come first."""

    func: str
    args: tuple[Expr, ...] = ()
    keywords: tuple[Keyword, ...] = ()
    span: SourceSpan | None = _span()
    func_span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Index:
    """``base[i, j, ...]`` with one expression per indexed axis."""

    base: Expr
    indices: tuple[Expr, ...]
    span: SourceSpan | None = _span()


Expr = Number | Name | String | ArrayLiteral | Negate | BinaryOp | Call | Index


# ---- statements -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamDecl:
    """``param name[shape] = init``; ``init`` is None for the default (zeros)."""

    name: str
    shape: tuple[int, ...] = ()
    init: Expr | None = None
    span: SourceSpan | None = _span()
    name_span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class InputDecl:
    """``input name[shape]``: one example's features; the perturbation has the same shape."""

    name: str
    shape: tuple[int, ...] = ()
    span: SourceSpan | None = _span()
    name_span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelDecl:
    """``label name[shape]``: one example's target."""

    name: str
    shape: tuple[int, ...] = ()
    span: SourceSpan | None = _span()
    name_span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """``input -> label`` inside ``inline { ... }``."""

    input: Expr
    label: Expr
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class InlineData:
    """``inline { x1 -> y1; x2 -> y2 }``."""

    samples: tuple[Sample, ...]
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class DataDecl:
    """``data = source``: inline samples, or a call to ``csv``, ``npy`` or ``synthetic``."""

    source: InlineData | Call
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Definition:
    """``let name = expr``, ``predict name = expr`` or ``loss name = expr``."""

    kind: Literal["let", "predict", "loss"]
    name: str
    expr: Expr
    span: SourceSpan | None = _span()
    name_span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Setting:
    """``name = value`` inside a section."""

    name: str
    value: Expr
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class AttackSection:
    """``attack method { settings }``; ``method`` is ``pgd``."""

    method: str
    settings: tuple[Setting, ...] = ()
    span: SourceSpan | None = _span()
    method_span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainSection:
    """``train { lr = ...; horizon = ... }``."""

    settings: tuple[Setting, ...] = ()
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class CompileSection:
    """``compile { carleman_order = ...; scale = ...; padding = ...; precision = ... }``."""

    settings: tuple[Setting, ...] = ()
    span: SourceSpan | None = _span()


Section = AttackSection | TrainSection | CompileSection
Statement = ParamDecl | InputDecl | LabelDecl | DataDecl | Definition | Section


@dataclass(frozen=True, slots=True, kw_only=True)
class Comment:
    """A ``# ...`` comment: ``text`` starts with ``#`` and has no trailing whitespace.

    Comments carry no meaning; the parser keeps them so that ``qrtc fmt`` loses nothing. Where a
    comment belongs (before which statement, at the end of which line) is read from ``span``.
    """

    text: str
    span: SourceSpan | None = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """A whole ``.qrt`` file: its statements in source order.

    ``file`` is the path used in messages and to resolve data files; ``text`` the source;
    ``comments`` the source's comments in order. None of them takes part in equality.
    """

    statements: tuple[Statement, ...]
    file: str = field(default="<spec>", compare=False)
    text: str = field(default="", compare=False, repr=False)
    comments: tuple[Comment, ...] = field(default=(), compare=False, repr=False)
