r"""The canonical text of a :class:`~qrtc.ir.spec.Spec`: what ``qrtc fmt`` prints.

``parse(format_spec(spec)) == spec`` for every spec, and ``format_spec`` is idempotent:
``format_spec(parse(format_spec(spec))) == format_spec(spec)``, comments included.

The canonical form:

- One statement per line, in source order. A blank line separates runs of statements of
  different kinds (declarations ``param``/``input``/``label``; ``data``; definitions
  ``let``/``predict``/``loss``; sections ``attack``/``train``/``compile``). Elsewhere between
  statements, and the comments on lines of their own before them, a blank line of the source is
  kept (several collapse into one). There are no other blank lines.
- A section, and ``data = inline { ... }``, sits on one line
  (``train { lr = 0.2; horizon = 3 }``, samples separated by ``"; "``) when it fits in
  :data:`LINE_WIDTH` columns and holds no comment. Otherwise each setting gets its own line,
  indented four spaces and without ``;`` (unless the next setting is named like a statement
  keyword), and each sample its own line ending in ``;``. Empty braces print as ``{}``.
- Expressions carry the fewest parentheses that re-parse to the same tree. Binding, loosest
  first: ``+ -`` (left-associative), ``* / @`` (left-associative), unary ``-``, ``^``
  (right-associative; its right operand is a unary, so ``-x^2`` is ``-(x^2)`` and ``2^-1`` needs
  no parentheses), postfix indexing ``w[0]``, atoms.
- Binary operators have one space on each side (``a + b``, ``W @ x``) except ``^``, which has
  none (``(f - y)^2``). Unary minus is attached to its operand (``-x``, ``--x``). Items of
  arrays, shapes, indices and calls are separated by ``", "``; keywords and settings are written
  ``name = value``.
- Integers print as integers, floats with ``repr`` (``0.05``, ``1e-05``, ``1e+16``: all valid
  ``.qrt`` numbers that read back to the same float); an infinite literal, which only a literal
  too large for a float produces, prints as ``1e999``. Strings print with ``json.dumps``.

Comments (:attr:`Spec.comments <qrtc.ir.spec.Spec.comments>`) are all kept, in source order, and
placed by their spans:

- A comment on a line of its own stays before the statement, setting or sample that follows it,
  indented like that item; one with nothing after it in its section stays before the ``}``, and
  one after the last statement stays at the end of the file.
- A comment after code stays at the end of the line of the statement, setting or sample that
  ends on its line; one after ``attack pgd {`` stays after the ``{``.
- A comment inside a one-line item (say, in the middle of a multi-line expression) moves to a
  line of its own just before that item: the item is printed on one line.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from qrtc.errors import SourceSpan
from qrtc.ir import spec as ast

__all__ = ["INDENT", "LINE_WIDTH", "format_spec"]

LINE_WIDTH = 100
"""Widest line a section or inline data block may take before it is split, one item a line."""

INDENT = "    "
"""Indentation of the settings of a section and the samples of an inline data block."""

_Position = tuple[int, int]
_Key = tuple[int, ...]
"""``()`` is the file, ``(i,)`` statement ``i``, ``(i, j)`` setting or sample ``j`` of it."""


def format_spec(spec: ast.Spec) -> str:
    """The canonical text of ``spec``, ending in one newline (empty for an empty spec).

    Raises:
        ValueError: a number in ``spec`` is NaN, or a name or string cannot be written.
    """
    notes = _attach_comments(spec)
    chunks: list[_Chunk] = []
    previous_group: str | None = None
    for index, statement in enumerate(spec.statements):
        group = _GROUPS[type(statement)]
        first = len(chunks)
        chunks.extend(_statement_chunks(index, statement, notes))
        if previous_group is not None and group != previous_group:
            chunks[first].blank_before = True
        previous_group = group
    chunks.extend(_Chunk([comment.text], comment.line, comment.line) for comment in notes.footer)
    lines: list[str] = []
    for position, chunk in enumerate(chunks):
        if position and (chunk.blank_before or _gap(chunks[position - 1], chunk)):
            lines.append("")
        lines.extend(chunk.lines)
    return "\n".join(lines) + "\n" if lines else ""


# ---- layout ---------------------------------------------------------------------------------

_GROUPS: dict[type, str] = {
    ast.ParamDecl: "declaration",
    ast.InputDecl: "declaration",
    ast.LabelDecl: "declaration",
    ast.DataDecl: "data",
    ast.Definition: "definition",
    ast.AttackSection: "section",
    ast.TrainSection: "section",
    ast.CompileSection: "section",
}


@dataclass
class _Chunk:
    """Consecutive output lines and the source lines they came from (None: moved or unknown)."""

    lines: list[str]
    first_line: int | None
    last_line: int | None
    blank_before: bool = False


def _gap(previous: _Chunk, chunk: _Chunk) -> bool:
    """A blank source line lay between two top-level chunks."""
    if previous.last_line is None or chunk.first_line is None:
        return False
    return chunk.first_line - previous.last_line >= 2


def _statement_chunks(index: int, statement: ast.Statement, notes: _Notes) -> list[_Chunk]:
    key = (index,)
    span = statement.span
    chunks = [_Chunk([c.text], c.line, c.line) for c in notes.leading.get(key, [])]
    trailing = notes.trailing.get(key, [])
    chunks.extend(_Chunk([text], None, None) for text in trailing[:-1])
    lines = _statement_lines(index, statement, notes)
    if index in notes.header:
        lines[0] = f"{lines[0]}  {notes.header[index]}"
    if trailing:
        lines[-1] = f"{lines[-1]}  {trailing[-1]}"
    chunks.append(_Chunk(lines, span.line if span else None, span.end_line if span else None))
    return chunks


def _statement_lines(index: int, statement: ast.Statement, notes: _Notes) -> list[str]:
    match statement:
        case ast.ParamDecl(name=name, shape=shape, init=init):
            head = f"param {_name(name)}{_shape(shape)}"
            return [head if init is None else f"{head} = {_expr(init)}"]
        case ast.InputDecl(name=name, shape=shape):
            return [f"input {_name(name)}{_shape(shape)}"]
        case ast.LabelDecl(name=name, shape=shape):
            return [f"label {_name(name)}{_shape(shape)}"]
        case ast.Definition(kind=kind, name=name, expr=expr):
            return [f"{kind} {_name(name)} = {_expr(expr)}"]
        case ast.DataDecl(source=ast.InlineData(samples=samples)):
            items = [f"{_expr(s.input)} -> {_expr(s.label)}" for s in samples]
            return _block(index, "data = inline", items, [";"] * len(items), notes)
        case ast.DataDecl(source=ast.Call() as source):
            return [f"data = {_expr(source)}"]
        case ast.AttackSection(method=method, settings=settings):
            return _block(index, f"attack {_name(method)}", *_settings(settings), notes)
        case ast.TrainSection(settings=settings) | ast.CompileSection(settings=settings):
            keyword = "train" if isinstance(statement, ast.TrainSection) else "compile"
            return _block(index, keyword, *_settings(settings), notes)
    raise AssertionError(f"not a statement: {statement!r}")  # pragma: no cover


# LALR merges the states after an expression, so where a setting's value ends, a statement
# keyword is taken for one even when a setting name would fit: `train { lr = f(1) input = 2 }`
# does not parse. A ';' ends the value.
_STATEMENT_KEYWORDS = frozenset(
    ["param", "input", "label", "data", "let", "predict", "loss", "attack", "train", "compile"]
)


def _settings(settings: Sequence[ast.Setting]) -> tuple[list[str], list[str]]:
    """Settings as ``name = value``, and what ends each on a line of its own."""
    items = [f"{_name(s.name)} = {_expr(s.value)}" for s in settings]
    ends = [";" if after.name in _STATEMENT_KEYWORDS else "" for after in settings[1:]]
    return items, [*ends, ""]


def _block(
    index: int, head: str, items: list[str], terminators: list[str], notes: _Notes
) -> list[str]:
    """``head { items }`` on one line if it fits and has no comment inside, else one a line."""
    has_comments = index in notes.header or (index,) in notes.footers
    has_comments = has_comments or any(
        (index, j) in notes.leading or (index, j) in notes.trailing for j in range(len(items))
    )
    one_line = f"{head} {{ {'; '.join(items)} }}" if items else f"{head} {{}}"
    if not has_comments and len(one_line) <= LINE_WIDTH:
        return [one_line]
    lines = [f"{head} {{"]
    for j, item in enumerate(items):
        key = (index, j)
        trailing = notes.trailing.get(key, [])
        before = [c.text for c in notes.leading.get(key, [])] + trailing[:-1]
        lines.extend(INDENT + text for text in before)
        line = INDENT + item + terminators[j]
        lines.append(f"{line}  {trailing[-1]}" if trailing else line)
    lines.extend(INDENT + c.text for c in notes.footers.get((index,), []))
    lines.append("}")
    return lines


# ---- expressions ----------------------------------------------------------------------------

# Binding strength, loosest first; an operand printed below the level its slot needs gets
# parentheses.
_SUM, _PRODUCT, _UNARY, _POWER, _POSTFIX, _ATOM = range(1, 7)
_BINARY_LEVEL = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "@": _PRODUCT}


def _expr(expr: ast.Expr, minimum: int = 0) -> str:
    text, level = _expr_and_level(expr)
    return f"({text})" if level < minimum else text


def _expr_and_level(expr: ast.Expr) -> tuple[str, int]:
    match expr:
        case ast.Number(value=value):
            return _number(value)
        case ast.Name(id=name):
            return _name(name), _ATOM
        case ast.String(value=value):
            return _string(value), _ATOM
        case ast.ArrayLiteral(items=items):
            return f"[{_join(items)}]", _ATOM
        case ast.Call(func=func, args=args, keywords=keywords):
            arguments = [_expr(arg) for arg in args]
            arguments += [f"{_name(k.name)} = {_expr(k.value)}" for k in keywords]
            return f"{_name(func)}({', '.join(arguments)})", _ATOM
        case ast.Index(base=base, indices=indices):
            return f"{_expr(base, _POSTFIX)}[{_join(indices)}]", _POSTFIX
        case ast.Negate(operand=operand):
            return f"-{_expr(operand, _UNARY)}", _UNARY
        case ast.BinaryOp(op="^", left=left, right=right):
            return f"{_expr(left, _POSTFIX)}^{_expr(right, _UNARY)}", _POWER
        case ast.BinaryOp(op=op, left=left, right=right):
            level = _BINARY_LEVEL[op]
            return f"{_expr(left, level)} {op} {_expr(right, level + 1)}", level
    raise AssertionError(f"not an expression: {expr!r}")  # pragma: no cover


def _join(items: Sequence[ast.Expr]) -> str:
    return ", ".join(_expr(item) for item in items)


def _number(value: int | float) -> tuple[str, int]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"a number literal must be an int or a float, not {value!r}")
    if isinstance(value, int):
        text = str(value)
    elif math.isnan(value):
        raise ValueError("NaN has no .qrt literal")
    elif math.isinf(value):
        text = "-1e999" if value < 0 else "1e999"
    else:
        text = repr(value)
    # A negative literal (never produced by the parser) reads back as a negation.
    return text, _UNARY if text.startswith("-") else _ATOM


_NAME = re.compile(r"(?!\d)\w+")  # NAME in qrt.lark


def _name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a .qrt name")
    return name


def _string(value: str) -> str:
    # Keep non-ASCII text readable, but escape lone surrogates: they cannot be written as UTF-8.
    ascii_only = any("\ud800" <= c <= "\udfff" for c in value)
    return json.dumps(value, ensure_ascii=ascii_only)


def _shape(shape: tuple[int, ...]) -> str:
    return f"[{', '.join(str(d) for d in shape)}]" if shape else ""


# ---- comments -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Placed:
    text: str
    line: int | None
    """Source line, or None when the comment moved (it lay inside its item) or has no span."""


@dataclass
class _Notes:
    """Where each comment goes: keys as in ``_Key``, values in source order."""

    leading: dict[_Key, list[_Placed]] = field(default_factory=dict)
    trailing: dict[_Key, list[str]] = field(default_factory=dict)
    header: dict[int, str] = field(default_factory=dict)
    """The comment after ``attack pgd {`` (or ``data = inline {``), by statement index."""
    footers: dict[_Key, list[_Placed]] = field(default_factory=dict)

    @property
    def footer(self) -> list[_Placed]:
        return self.footers.get((), [])


def _children(statement: ast.Statement) -> Sequence[ast.Setting | ast.Sample] | None:
    """The settings or samples of a statement that prints as a block, else None."""
    if isinstance(statement, ast.AttackSection | ast.TrainSection | ast.CompileSection):
        return statement.settings
    if isinstance(statement, ast.DataDecl) and isinstance(statement.source, ast.InlineData):
        return statement.source.samples
    return None


class _Items:
    """The spans of a run of items in source order (statements, or one block's children)."""

    def __init__(self, spans: Sequence[SourceSpan | None]) -> None:
        self._index = [i for i, span in enumerate(spans) if span is not None]
        located = [span for span in spans if span is not None]
        self._starts = [(span.line, span.column) for span in located]
        self._ends = [(span.end_line, span.end_column) for span in located]
        self._end_lines = {i: span.end_line for i, span in zip(self._index, located, strict=True)}

    def locate(self, position: _Position) -> tuple[int | None, int | None, int | None]:
        """(item containing ``position``, last item before it, first item after it)."""
        k = bisect.bisect_right(self._starts, position) - 1
        following = self._index[k + 1] if k + 1 < len(self._index) else None
        if k < 0:
            return None, None, following
        if position < self._ends[k]:
            return self._index[k], None, None
        return None, self._index[k], following

    def end_line(self, item: int) -> int:
        return self._end_lines[item]


def _attach_comments(spec: ast.Spec) -> _Notes:
    notes = _Notes()
    own_line = _own_line_test(spec)
    placed = sorted(
        (c for c in spec.comments if c.span is not None),
        key=lambda c: (c.span.line, c.span.column) if c.span else (0, 0),
    )
    statements = _Items([s.span for s in spec.statements])
    blocks: dict[int, _Items] = {}
    opened: set[int] = set()
    for comment in placed:
        assert comment.span is not None
        position = (comment.span.line, comment.span.column)
        alone = own_line(comment)
        inside, previous, following = statements.locate(position)
        if inside is None:
            _place_between(notes, (), comment, alone, previous, following, statements)
            continue
        children = _children(spec.statements[inside])
        if children is None:
            notes.leading.setdefault((inside,), []).append(_Placed(comment.text, None))
            continue
        if inside not in blocks:
            blocks[inside] = _Items([child.span for child in children])
        child, previous, following = blocks[inside].locate(position)
        if child is not None:
            notes.leading.setdefault((inside, child), []).append(_Placed(comment.text, None))
            continue
        if previous is None:
            # Before the first setting or sample: the first such comment, if it follows code, goes
            # after the '{'; the others go on lines of their own, so their order is kept.
            first = inside not in opened
            opened.add(inside)
            if first and not alone:
                notes.header[inside] = comment.text
                continue
            alone = True
        _place_between(notes, (inside,), comment, alone, previous, following, blocks[inside])
    # Comments without a span have no place; keep them at the end of the file.
    unplaced = [_Placed(c.text, None) for c in spec.comments if c.span is None]
    if unplaced:
        notes.footers.setdefault((), []).extend(unplaced)
    return notes


def _place_between(
    notes: _Notes,
    container: _Key,
    comment: ast.Comment,
    alone: bool,
    previous: int | None,
    following: int | None,
    items: _Items,
) -> None:
    assert comment.span is not None
    line = comment.span.line
    if not alone and previous is not None and items.end_line(previous) == line:
        notes.trailing.setdefault((*container, previous), []).append(comment.text)
        return
    # A comment after code that ends no item (say, after a lone ';') starts a line of its own.
    kept = _Placed(comment.text, line if alone and not container else None)
    if following is not None:
        notes.leading.setdefault((*container, following), []).append(kept)
    else:
        notes.footers.setdefault(container, []).append(kept)


def _own_line_test(spec: ast.Spec) -> Callable[[ast.Comment], bool]:
    """A predicate: does a comment stand on a line of its own (nothing but blanks before it)?"""
    text = spec.text
    line_starts = [0, *(match.end() for match in re.finditer("\n", text))]
    first_end: dict[int, int] = {}  # line -> leftmost end column of an item ending on it
    for line, column in _item_ends(spec):
        first_end[line] = min(column, first_end.get(line, column))

    def own_line(comment: ast.Comment) -> bool:
        span = comment.span
        assert span is not None
        if span.line <= len(line_starts):
            start = line_starts[span.line - 1]
            offset = start + span.column - 1
            if text.startswith(comment.text, offset) and "\n" not in text[start:offset]:
                return text[start:offset].strip() == ""
        # No source text to look at (a spec built in code): trust the items' spans.
        return first_end.get(span.line, span.column + 1) > span.column

    return own_line


def _item_ends(spec: ast.Spec) -> list[_Position]:
    ends: list[_Position] = []
    for statement in spec.statements:
        nodes: list[ast.Statement | ast.Setting | ast.Sample] = [statement]
        nodes.extend(_children(statement) or ())
        ends.extend((n.span.end_line, n.span.end_column) for n in nodes if n.span is not None)
    return ends
