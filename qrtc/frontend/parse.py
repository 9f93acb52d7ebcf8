"""Text to :class:`qrtc.ir.spec.Spec`: Lark LALR parse, then a non-recursive transform.

This is the only module that sees Lark's exceptions. Each is translated, once, into a
:class:`~qrtc.errors.SpecSyntaxError` that names the file, line and column, shows the line with a
caret, says what was expected and, for the common mistakes of :data:`SYNTAX_EXAMPLES`, what to
write instead (``match_examples``, as in Lark's ``error_reporting_lalr.py`` example).
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.exceptions import UnexpectedEOF, VisitError
from lark.lexer import PatternStr
from lark.visitors import Transformer_NonRecursive, v_args

from qrtc.errors import QrtError, SourceSpan, SpecSyntaxError
from qrtc.frontend.syntax_examples import SYNTAX_EXAMPLES
from qrtc.ir import spec as ast

__all__ = ["MAX_NESTING", "grammar_path", "parse", "parse_file"]

MAX_NESTING = 200
"""Deepest expression nesting accepted; deeper specs are refused before any recursion."""

_FRIENDLY_TERMINALS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a string ("...")',
    "$END": "end of file",
}

# Labels for characters the language never uses but users reach for.
_CHARACTER_LABELS = {
    ":": "use '=' in settings and definitions, and '->' between a sample's input and label",
    "'": 'strings are written in double quotes: "points.csv"',
    "*": "use '^' for powers, not '**'",
    "!": "there are no boolean operators in the .qrt language",
    "=": "use '=' only once, between a name and its value",
}


def grammar_path() -> Path:
    """The ``qrt.lark`` in use: the copy inside an installed wheel, else the source tree's."""
    packaged = resources.files("qrtc").joinpath("_grammar").joinpath("qrt.lark")
    if packaged.is_file():
        return Path(str(packaged))
    source = Path(__file__).resolve().parents[2] / "grammar" / "qrt.lark"
    assert source.is_file(), f"qrt.lark is neither packaged nor at {source}"
    return source


@functools.cache
def _parser() -> Lark:
    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=True,
    )


def parse_file(path: str | Path) -> ast.Spec:
    """Read and parse a ``.qrt`` file; unreadable or non-UTF-8 files raise ``SpecSyntaxError``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SpecSyntaxError(
            f"cannot read spec: {error.strerror or error}", file=str(path)
        ) from None
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark is not part of the spec
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        line_start = raw.rfind(b"\n", 0, error.start) + 1
        column = len(raw[line_start : error.start].decode("utf-8")) + 1
        shown = raw.decode("utf-8", errors="replace")
        raise SpecSyntaxError(
            f"the spec is not UTF-8 text: byte {raw[error.start]:#04x} at offset {error.start}",
            span=SourceSpan(str(path), line, column, line, column + 1, shown),
            hint="a .qrt spec is a text file; is this the right file?",
        ) from None
    return parse(text, file=str(path))


def parse(text: str, *, file: str = "<spec>") -> ast.Spec:
    """Parse ``.qrt`` source text into a :class:`~qrtc.ir.spec.Spec`.

    Raises:
        SpecSyntaxError: the text is not a spec; the message points at the offending token.
    """
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(error, text, file) from None
    except RecursionError:  # pragma: no cover - Lark's LALR is iterative; kept as a last guard
        raise SpecSyntaxError("the spec is nested too deeply", file=file) from None
    _check_nesting(tree, text, file)
    try:
        statements = _ToSpec(text, file).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, QrtError):
            raise error.orig_exc from None
        raise
    return ast.Spec(
        statements=tuple(statements), file=file, text=text, comments=_comments(text, file)
    )


# Strings first, comments second: a '#' inside a string literal is not a comment, and a '"'
# inside a comment opens no string. Same patterns as STRING and COMMENT in qrt.lark, so on text
# that parsed this finds exactly the lexer's comments.
_STRING_OR_COMMENT = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"|#[^\n]*')


def _comments(text: str, file: str) -> tuple[ast.Comment, ...]:
    """The ``# ...`` comments of ``text`` (which parsed), with spans, in source order."""
    comments: list[ast.Comment] = []
    line, line_start, scanned = 1, 0, 0
    for match in _STRING_OR_COMMENT.finditer(text):
        if match.group().startswith('"'):
            continue
        start = match.start()
        newlines = text.count("\n", scanned, start)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", scanned, start) + 1
        scanned = start
        body = match.group().rstrip()
        column = start - line_start + 1
        span = SourceSpan(file, line, column, line, column + len(body), text)
        comments.append(ast.Comment(text=body, span=span))
    return tuple(comments)


# ---- errors ---------------------------------------------------------------------------------


def _syntax_error(error: UnexpectedInput, text: str, file: str) -> SpecSyntaxError:
    parser = _parser()
    label: str | None = None
    if isinstance(error, UnexpectedToken | UnexpectedEOF):
        label = _match_example(error)
    if isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream or 0
        char = text[position] if position < len(text) else ""
        message = f"unexpected character {char!r}"
        label = _CHARACTER_LABELS.get(char)
        expected = error.allowed or set()
        span = _point(text, file, error.line, error.column, 1)
    elif isinstance(error, UnexpectedToken) and error.token.type != "$END":
        token = error.token
        message = f"unexpected {_describe_token(token)}"
        expected = error.accepts or error.expected
        span = _point(text, file, token.line or 1, token.column or 1, max(1, len(str(token))))
    else:
        message = "unexpected end of file"
        expected = getattr(error, "expected", None) or getattr(error, "accepts", None) or set()
        line, column = _end_position(text)
        span = _point(text, file, line, column, 1)
    described = sorted({_describe_terminal(parser, name) for name in expected})
    if label is not None:
        message = f"{message}: {label}"
    hint = f"expected {_one_of(described)}" if described else None
    return SpecSyntaxError(message, span=span, hint=hint)


@functools.cache
def _example_states() -> tuple[tuple[str, int, frozenset[str], str], ...]:
    """(label, LALR state, acceptable terminals, offending token) of every SYNTAX_EXAMPLES entry."""
    states = []
    for label, snippets in SYNTAX_EXAMPLES.items():
        for snippet in snippets:
            try:
                _parser().parse(snippet)
            except (UnexpectedToken, UnexpectedEOF) as error:
                position = error.state.position if error.state is not None else -1
                accepts = frozenset(getattr(error, "accepts", None) or error.expected or ())
                states.append((label, position, accepts, str(error.token)))
            except UnexpectedInput:
                continue
    return tuple(states)


def _match_example(error: UnexpectedToken | UnexpectedEOF) -> str | None:
    """The label of the example failing in the same LALR state, preferring the same token.

    Lark's ``match_examples`` also compares the depth of the parser stack, so an example only
    matches a mistake made at the same nesting depth; the state and the acceptable terminals
    are the part that says what the parser expected.
    """
    if error.state is None:
        return None
    accepts = frozenset(getattr(error, "accepts", None) or error.expected or ())
    candidates = [
        (label, token)
        for label, position, example_accepts, token in _example_states()
        if position == error.state.position and example_accepts == accepts
    ]
    for label, token in candidates:
        if token == str(error.token):
            return label
    return candidates[0][0] if candidates else None


def _describe_token(token: Token) -> str:
    value = str(token)
    if token.type in ("NAME", "NUMBER", "STRING"):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"{_FRIENDLY_TERMINALS[token.type].split(' ')[-1]} {shown!r}"
    return repr(value)


def _describe_terminal(parser: Lark, name: str) -> str:
    if name in _FRIENDLY_TERMINALS:
        return _FRIENDLY_TERMINALS[name]
    try:
        pattern = parser.get_terminal(name).pattern
    except KeyError:
        return name
    if isinstance(pattern, PatternStr):
        return repr(pattern.value)
    return name.lower()


def _one_of(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return "one of: " + ", ".join(items)


def _point(text: str, file: str, line: int, column: int, width: int) -> SourceSpan:
    return SourceSpan(file, line, column, line, column + width, text)


def _end_position(text: str) -> tuple[int, int]:
    """Line and column just after the last non-blank character."""
    lines = text.rstrip().split("\n")
    return len(lines), len(lines[-1]) + 1


def _check_nesting(tree: Tree[Token], text: str, file: str) -> None:
    """Refuse trees deeper than MAX_NESTING, found without recursion; point at the statement."""
    stack: list[tuple[Tree[Token], int, Tree[Token]]] = [
        (statement, 1, statement) for statement in tree.children if isinstance(statement, Tree)
    ]
    while stack:
        node, depth, statement = stack.pop()
        if depth > MAX_NESTING:
            meta = statement.meta
            raise SpecSyntaxError(
                f"expression nested more than {MAX_NESTING} levels deep",
                span=_point(text, file, meta.line, meta.column, 1),
                hint="split it into smaller pieces with 'let' definitions",
            )
        stack.extend(
            (child, depth + 1, statement) for child in node.children if isinstance(child, Tree)
        )


# ---- tree to Spec ---------------------------------------------------------------------------

_INT_LITERAL = re.compile(r"\d+")
# Integers beyond this are kept as floats: Python refuses to convert >4300-digit strings to int.
_MAX_INT_DIGITS = 18


def _number_value(text: str) -> int | float:
    if _INT_LITERAL.fullmatch(text) and len(text) <= _MAX_INT_DIGITS:
        return int(text)
    return float(text)


@v_args(meta=True)
class _ToSpec(Transformer_NonRecursive[Token, Any]):
    """Lark tree to ``qrtc.ir.spec`` nodes, bottom-up and without recursion."""

    def __init__(self, text: str, file: str) -> None:
        super().__init__(visit_tokens=False)
        self._text = text
        self._file = file

    def _span(self, meta: Any) -> SourceSpan | None:
        if getattr(meta, "empty", True):
            return None
        return SourceSpan(
            self._file, meta.line, meta.column, meta.end_line, meta.end_column, self._text
        )

    def _token_span(self, token: Token) -> SourceSpan:
        return SourceSpan(
            self._file,
            token.line or 1,
            token.column or 1,
            token.end_line or token.line or 1,
            token.end_column or (token.column or 1) + len(token),
            self._text,
        )

    # statements
    def start(self, meta: Any, children: list[ast.Statement]) -> list[ast.Statement]:
        return children

    def shape(self, meta: Any, children: list[Token]) -> tuple[int, ...]:
        dims = []
        for token in children:
            if not _INT_LITERAL.fullmatch(str(token)) or len(token) > _MAX_INT_DIGITS:
                raise SpecSyntaxError(
                    f"a shape dimension must be a positive integer, not {str(token)!r}",
                    span=self._token_span(token),
                )
            dims.append(int(token))
        return tuple(dims)

    def _declaration(self, meta: Any, children: list[Any]) -> dict[str, Any]:
        name = children[0]
        rest = children[1:]
        shape: tuple[int, ...] = ()
        if rest and isinstance(rest[0], tuple):
            shape = rest[0]
            rest = rest[1:]
        return {
            "name": str(name),
            "shape": shape,
            "rest": rest,
            "span": self._span(meta),
            "name_span": self._token_span(name),
        }

    def param_decl(self, meta: Any, children: list[Any]) -> ast.ParamDecl:
        d = self._declaration(meta, children)
        init = d["rest"][0] if d["rest"] else None
        return ast.ParamDecl(
            name=d["name"], shape=d["shape"], init=init, span=d["span"], name_span=d["name_span"]
        )

    def input_decl(self, meta: Any, children: list[Any]) -> ast.InputDecl:
        d = self._declaration(meta, children)
        return ast.InputDecl(
            name=d["name"], shape=d["shape"], span=d["span"], name_span=d["name_span"]
        )

    def label_decl(self, meta: Any, children: list[Any]) -> ast.LabelDecl:
        d = self._declaration(meta, children)
        return ast.LabelDecl(
            name=d["name"], shape=d["shape"], span=d["span"], name_span=d["name_span"]
        )

    def data_decl(self, meta: Any, children: list[Any]) -> ast.DataDecl:
        return ast.DataDecl(source=children[0], span=self._span(meta))

    def inline_data(self, meta: Any, children: list[ast.Sample]) -> ast.InlineData:
        return ast.InlineData(samples=tuple(children), span=self._span(meta))

    def sample(self, meta: Any, children: list[ast.Expr]) -> ast.Sample:
        return ast.Sample(input=children[0], label=children[1], span=self._span(meta))

    def _definition(self, kind: str, meta: Any, children: list[Any]) -> ast.Definition:
        name, expr = children
        return ast.Definition(
            kind=kind,  # type: ignore[arg-type]
            name=str(name),
            expr=expr,
            span=self._span(meta),
            name_span=self._token_span(name),
        )

    def let_def(self, meta: Any, children: list[Any]) -> ast.Definition:
        return self._definition("let", meta, children)

    def predict_def(self, meta: Any, children: list[Any]) -> ast.Definition:
        return self._definition("predict", meta, children)

    def loss_def(self, meta: Any, children: list[Any]) -> ast.Definition:
        return self._definition("loss", meta, children)

    def setting(self, meta: Any, children: list[Any]) -> ast.Setting:
        name, value = children
        return ast.Setting(name=str(name), value=value, span=self._span(meta))

    def attack_section(self, meta: Any, children: list[Any]) -> ast.AttackSection:
        method, *settings = children
        return ast.AttackSection(
            method=str(method),
            settings=tuple(settings),
            span=self._span(meta),
            method_span=self._token_span(method),
        )

    def train_section(self, meta: Any, children: list[Any]) -> ast.TrainSection:
        return ast.TrainSection(settings=tuple(children), span=self._span(meta))

    def compile_section(self, meta: Any, children: list[Any]) -> ast.CompileSection:
        return ast.CompileSection(settings=tuple(children), span=self._span(meta))

    # expressions
    def number(self, meta: Any, children: list[Token]) -> ast.Number:
        return ast.Number(value=_number_value(str(children[0])), span=self._span(meta))

    def name(self, meta: Any, children: list[Token]) -> ast.Name:
        return ast.Name(id=str(children[0]), span=self._span(meta))

    def string(self, meta: Any, children: list[Token]) -> ast.String:
        token = children[0]
        try:
            value = json.loads(str(token))
        except json.JSONDecodeError:
            raise SpecSyntaxError(
                f"invalid escape sequence in string {str(token)!r}",
                span=self._token_span(token),
                hint=r"the escapes are \" \\ \/ \b \f \n \r \t and \u followed by four hex digits",
            ) from None
        return ast.String(value=value, span=self._span(meta))

    def array(self, meta: Any, children: list[ast.Expr]) -> ast.ArrayLiteral:
        return ast.ArrayLiteral(items=tuple(children), span=self._span(meta))

    def neg(self, meta: Any, children: list[ast.Expr]) -> ast.Negate:
        return ast.Negate(operand=children[0], span=self._span(meta))

    def _binary(self, op: ast.BinaryOperator, meta: Any, children: list[ast.Expr]) -> ast.BinaryOp:
        return ast.BinaryOp(op=op, left=children[0], right=children[1], span=self._span(meta))

    def add(self, meta: Any, children: list[ast.Expr]) -> ast.BinaryOp:
        return self._binary("+", meta, children)

    def sub(self, meta: Any, children: list[ast.Expr]) -> ast.BinaryOp:
        return self._binary("-", meta, children)

    def mul(self, meta: Any, children: list[ast.Expr]) -> ast.BinaryOp:
        return self._binary("*", meta, children)

    def div(self, meta: Any, children: list[ast.Expr]) -> ast.BinaryOp:
        return self._binary("/", meta, children)

    def matmul(self, meta: Any, children: list[ast.Expr]) -> ast.BinaryOp:
        return self._binary("@", meta, children)

    def pow(self, meta: Any, children: list[ast.Expr]) -> ast.BinaryOp:
        return self._binary("^", meta, children)

    def index(self, meta: Any, children: list[ast.Expr]) -> ast.Index:
        return ast.Index(base=children[0], indices=tuple(children[1:]), span=self._span(meta))

    def keyword(self, meta: Any, children: list[Any]) -> ast.Keyword:
        name, value = children
        return ast.Keyword(name=str(name), value=value, span=self._span(meta))

    def call(self, meta: Any, children: list[Any]) -> ast.Call:
        func, *arguments = children
        args: list[ast.Expr] = []
        keywords: list[ast.Keyword] = []
        for argument in arguments:
            if isinstance(argument, ast.Keyword):
                keywords.append(argument)
            elif keywords:
                raise SpecSyntaxError(
                    "positional argument after keyword argument",
                    span=argument.span,
                    hint=f"put positional arguments first in '{func}(...)'",
                )
            else:
                args.append(argument)
        return ast.Call(
            func=str(func),
            args=tuple(args),
            keywords=tuple(keywords),
            span=self._span(meta),
            func_span=self._token_span(func),
        )
