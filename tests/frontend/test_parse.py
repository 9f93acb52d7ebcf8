"""The parser: precedence, spans, separators, names, and errors that point at the mistake."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from qrtc.errors import QrtError, SourceSpan, SpecSyntaxError
from qrtc.frontend.parse import MAX_NESTING, parse, parse_file
from qrtc.frontend.syntax_examples import SYNTAX_EXAMPLES
from qrtc.ir import spec as ast


def expr(source: str) -> ast.Expr:
    (statement,) = parse(f"let e = {source}").statements
    assert isinstance(statement, ast.Definition)
    return statement.expr


def n(value: int | float) -> ast.Number:
    return ast.Number(value=value)


def name(id: str) -> ast.Name:
    return ast.Name(id=id)


def op(symbol: ast.BinaryOperator, left: ast.Expr, right: ast.Expr) -> ast.BinaryOp:
    return ast.BinaryOp(op=symbol, left=left, right=right)


def syntax_error(source: str, file: str = "<spec>") -> SpecSyntaxError:
    with pytest.raises(SpecSyntaxError) as info:
        parse(source, file=file)
    return info.value


# ---- precedence and associativity -----------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "tree"),
    [
        ("-x^2", ast.Negate(operand=op("^", name("x"), n(2)))),
        ("2^3^2", op("^", n(2), op("^", n(3), n(2)))),
        ("2^-x", op("^", n(2), ast.Negate(operand=name("x")))),
        ("a - b - c", op("-", op("-", name("a"), name("b")), name("c"))),
        ("a / b * c", op("*", op("/", name("a"), name("b")), name("c"))),
        ("a + b * c", op("+", name("a"), op("*", name("b"), name("c")))),
        ("a @ b ^ 2", op("@", name("a"), op("^", name("b"), n(2)))),
        ("-a * b", op("*", ast.Negate(operand=name("a")), name("b"))),
        ("w[0]^2", op("^", ast.Index(base=name("w"), indices=(n(0),)), n(2))),
        ("(a + b)[1, 2]", ast.Index(base=op("+", name("a"), name("b")), indices=(n(1), n(2)))),
        ("--a", ast.Negate(operand=ast.Negate(operand=name("a")))),
    ],
)
def test_precedence_and_associativity(source: str, tree: ast.Expr) -> None:
    assert expr(source) == tree


@pytest.mark.parametrize(
    ("source", "value"),
    [("3", 3), ("3.", 3.0), (".5", 0.5), ("1e-3", 0.001), ("2E+2", 200.0), ("007", 7)],
)
def test_number_literals(source: str, value: float) -> None:
    parsed = expr(source)
    assert parsed == n(value)
    assert isinstance(parsed, ast.Number) and type(parsed.value) is type(value)


def test_huge_literals_become_floats() -> None:
    assert expr("1" * 30) == n(float("1" * 30))
    assert expr("1e999") == n(float("inf"))


def test_calls_keep_positional_then_keyword_arguments() -> None:
    assert expr("taylor(tanh(u), order = 3, at = 0)") == ast.Call(
        func="taylor",
        args=(ast.Call(func="tanh", args=(name("u"),)),),
        keywords=(ast.Keyword(name="order", value=n(3)), ast.Keyword(name="at", value=n(0))),
    )


def test_positional_argument_after_keyword_is_an_error() -> None:
    error = syntax_error("let e = f(x = 1, 2)")
    assert "positional argument after keyword" in error.message
    assert error.span is not None and (error.span.line, error.span.column) == (1, 18)


# ---- spans ----------------------------------------------------------------------------------


def test_spans_point_at_the_source() -> None:
    spec = parse("param theta[2] = 0\n  predict f = dot(theta, x) + 1\n", file="m.qrt")
    param, predict = spec.statements
    assert isinstance(param, ast.ParamDecl) and isinstance(predict, ast.Definition)

    def at(span: SourceSpan | None) -> tuple[int, int, int, int]:
        assert span is not None and span.file == "m.qrt"
        return span.line, span.column, span.end_line, span.end_column

    assert at(param.span) == (1, 1, 1, 19)
    assert at(param.name_span) == (1, 7, 1, 12)
    assert at(predict.span) == (2, 3, 2, 32)
    assert at(predict.name_span) == (2, 11, 2, 12)
    total = predict.expr
    assert isinstance(total, ast.BinaryOp) and isinstance(total.left, ast.Call)
    assert at(total.span) == (2, 15, 2, 32)
    assert at(total.left.span) == (2, 15, 2, 28)
    assert at(total.left.func_span) == (2, 15, 2, 18)
    assert at(total.left.args[0].span) == (2, 19, 2, 24)
    assert at(total.right.span) == (2, 31, 2, 32)


def test_multi_line_sections_span_their_lines() -> None:
    (train,) = parse("train {\n  lr = 0.1\n}\n").statements
    assert isinstance(train, ast.TrainSection)
    assert train.span is not None and (train.span.line, train.span.end_line) == (1, 3)
    setting_span = train.settings[0].span
    assert setting_span is not None
    assert (setting_span.line, setting_span.column, setting_span.end_column) == (2, 3, 11)


def test_spans_do_not_take_part_in_equality() -> None:
    assert parse("param w = 1") == parse("\n\n   param   w=1   ")


# ---- separators, names, layout --------------------------------------------------------------


def test_setting_separators_are_optional() -> None:
    with_semicolons = parse("train { lr = 0.1; horizon = 2; }")
    assert parse("train { lr = 0.1 horizon = 2 }") == with_semicolons
    assert parse("train {\n  lr = 0.1\n  horizon = 2\n}") == with_semicolons
    assert parse("train{lr=0.1;horizon=2}") == with_semicolons


def test_inline_samples_need_separators_but_allow_a_trailing_one() -> None:
    spec = parse("data = inline { 1 -> 2; 3 -> 4 }")
    assert parse("data = inline {\n 1 -> 2;\n 3 -> 4;\n}") == spec
    assert parse("data = inline {}") == parse("data = inline { }")
    assert "separate inline samples" in syntax_error("data = inline { 1 -> 2 3 -> 4 }").message


def test_trailing_commas_in_arrays_and_calls() -> None:
    assert expr("[1, 2,]") == expr("[1, 2]")
    assert expr("f(a, k = 1,)") == expr("f(a, k = 1)")


def test_unicode_names() -> None:
    spec = parse("param θ[2]\ninput x₁[2]\npredict f = dot(θ, x₁)")
    assert [getattr(s, "name", None) for s in spec.statements] == ["θ", "x₁", "f"]


def test_keywords_are_names_where_no_keyword_fits() -> None:
    assert parse("let loss = 1").statements == (ast.Definition(kind="let", name="loss", expr=n(1)),)
    assert expr("input + data") == op("+", name("input"), name("data"))


def test_strings_resolve_escapes_and_reject_bad_ones() -> None:
    assert expr('"a\\"b\\u00e9"') == ast.String(value='a"bé')
    assert "invalid escape" in syntax_error('let e = "a\\qb"').message


def test_empty_text_is_an_empty_spec() -> None:
    assert parse("") == ast.Spec(statements=())
    assert parse("  \n\t# nothing but a comment\n").statements == ()


def test_crlf_line_endings() -> None:
    assert parse("param w = 1\r\ninput x[2]\r\n") == parse("param w = 1\ninput x[2]\n")


# ---- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("label", sorted(SYNTAX_EXAMPLES))
def test_every_syntax_label_is_produced_by_one_of_its_snippets(label: str) -> None:
    messages = []
    for snippet in SYNTAX_EXAMPLES[label]:
        with pytest.raises(SpecSyntaxError) as info:
            parse(snippet)
        messages.append(info.value.message)
    assert any(message.endswith(label) for message in messages), messages


def test_errors_render_file_line_column_and_a_caret() -> None:
    error = syntax_error("param w = 1\nloss l = x ** 2\n", file="model.qrt")
    assert error.span is not None
    assert (error.span.file, error.span.line, error.span.column) == ("model.qrt", 2, 13)
    lines = str(error).split("\n")
    assert lines[0].startswith("model.qrt:2:13: error: unexpected '*'")
    assert lines[1] == "    2 | loss l = x ** 2"
    assert lines[2] == "      |             ^"
    assert any(line.startswith("hint: expected") for line in lines)


@pytest.mark.parametrize(
    "source",
    [
        "param",
        "param w[",
        "let a = (1",
        "train { lr = }",
        "data = inline { 1 -> }",
        "let a = $",
        "let a = 'x'",
        "attack pgd { radius: 0.1 }",
        "param w[2.5]",
        "param w[99999999999999999999]",
        'data = csv("unterminated',
        "let = 1",
        "}",
    ],
)
def test_every_syntax_error_has_a_span_and_a_caret(source: str) -> None:
    error = syntax_error(source, file="bad.qrt")
    assert error.span is not None, error
    rendered = str(error)
    assert rendered.startswith(f"bad.qrt:{error.span.line}:{error.span.column}: error: ")
    assert "^" in rendered.split("\n")[2]


def test_unexpected_end_of_file_points_after_the_last_character() -> None:
    error = syntax_error("let a = (1 +\n\n")
    assert "end of file" in error.message
    assert error.span is not None and (error.span.line, error.span.column) == (1, 13)


def test_non_utf8_file_is_a_syntax_error_with_a_position(tmp_path: Path) -> None:
    path = tmp_path / "latin1.qrt"
    path.write_bytes("param w = 1\nlet café = 2\n".encode("latin-1"))
    with pytest.raises(SpecSyntaxError) as info:
        parse_file(path)
    span = info.value.span
    assert span is not None and (span.line, span.column) == (2, 8)
    assert str(info.value).startswith(f"{path}:2:8: error: the spec is not UTF-8 text")


def test_missing_file_is_a_qrt_error(tmp_path: Path) -> None:
    with pytest.raises(SpecSyntaxError, match="cannot read spec"):
        parse_file(tmp_path / "absent.qrt")


def test_parse_file_reads_utf8_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.qrt"
    path.write_bytes(b"\xef\xbb\xbfparam w = 1\n")
    spec = parse_file(path)
    assert spec == parse("param w = 1") and spec.file == str(path)


def test_error_context_shows_the_line_lark_counted() -> None:
    error = syntax_error("param w = 1\x0c\nlet b = $\n")
    assert str(error).split("\n")[1] == "    2 | let b = $"


# ---- hostile input --------------------------------------------------------------------------


def parses_or_refuses(source: str) -> ast.Spec | SpecSyntaxError:
    """Parse ``source``; a QrtError is a fine answer, anything else (RecursionError) fails."""
    try:
        return parse(source)
    except QrtError as error:
        assert isinstance(error, SpecSyntaxError) and error.span is not None, error
        return error


def test_ten_thousand_nested_parentheses() -> None:
    result = parses_or_refuses("let a = " + "(" * 10_000 + "x" + ")" * 10_000)
    assert result == parse("let a = x")
    assert isinstance(parses_or_refuses("let a = " + "(" * 10_000 + "x"), SpecSyntaxError)


def test_ten_thousand_unary_minuses() -> None:
    result = parses_or_refuses("let a = " + "-" * 10_000 + "x")
    assert isinstance(result, SpecSyntaxError) and f"{MAX_NESTING} levels" in result.message


@pytest.mark.slow
def test_ten_thousand_nested_brackets_and_calls() -> None:
    assert isinstance(parses_or_refuses("let a = " + "[" * 10_000 + "]" * 10_000), SpecSyntaxError)
    assert isinstance(
        parses_or_refuses("let a = " + "f(" * 10_000 + "x" + ")" * 10_000), SpecSyntaxError
    )
    assert isinstance(parses_or_refuses("let a = " + "x^" * 10_000 + "x"), SpecSyntaxError)


def test_nesting_just_below_the_limit_parses() -> None:
    depth = MAX_NESTING // 2
    assert isinstance(parses_or_refuses("let a = " + "-" * depth + "x"), ast.Spec)


@pytest.mark.parametrize(
    "line",
    [
        "let a = " + "x" * 1_000_000,
        "let a = " + "9" * 1_000_000,
        'let a = "' + "s" * 1_000_000 + '"',
        "# " + "c" * 1_000_000,
        "let a = " + "x " * 500_000,
        "let a = " + "@" * 1_000_000,
        'data = csv("' + "s" * 1_000_000,
    ],
    ids=["name", "number", "string", "comment", "names", "operators", "unterminated-string"],
)
def test_a_one_megabyte_line(line: str) -> None:
    start = time.perf_counter()
    result = parses_or_refuses(line)
    assert time.perf_counter() - start < 5.0
    if isinstance(result, SpecSyntaxError):
        assert len(str(result)) < 1_000  # the context shows a window, not the whole line


@pytest.mark.slow
@pytest.mark.parametrize(
    "line",
    ["let a = " + " + ".join(["x"] * 250_000), "let a = [" + ", ".join(["1"] * 300_000) + "]"],
    ids=["sum", "array"],
)
def test_a_one_megabyte_line_of_many_tokens(line: str) -> None:
    parses_or_refuses(line)


@pytest.mark.slow
def test_parse_time_grows_linearly() -> None:
    def seconds(copies: int) -> float:
        statement = "let a = dot(theta, x) + 0.5 * (f - y)^2 - [1, 2, 3][0]  # note\n"
        text = statement * copies
        start = time.perf_counter()
        parse(text)
        return time.perf_counter() - start

    seconds(20)  # warm the parser
    small, large = min(seconds(150) for _ in range(3)), min(seconds(600) for _ in range(3))
    assert large < 8 * small, (small, large)  # 4x the input; quadratic growth would be 16x
