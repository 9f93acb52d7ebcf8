"""``qrtc fmt``: round trips, idempotence, layout, and comments kept where they were."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import any_specs, comment_texts, fuzz_settings, mutated_examples, specs

from qrtc.errors import QrtError
from qrtc.frontend.check import check
from qrtc.frontend.format import LINE_WIDTH, format_spec
from qrtc.frontend.parse import parse
from qrtc.ir import spec as ast
from qrtc.ir.problem import Problem

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.qrt"))

# Strings first, then comments, then runs of spaces: the places where a comment may go.
_STRING_COMMENT_OR_SPACE = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"|#[^\n]*|(?P<space> +)|\n')


def fmt(text: str) -> str:
    return format_spec(parse(text))


def comment_texts_of(text: str) -> list[str]:
    return [comment.text for comment in parse(text).comments]


# ---- round trips ----------------------------------------------------------------------------


@pytest.mark.slow
@given(specs())
def test_valid_specs_round_trip(spec: ast.Spec) -> None:
    text = format_spec(spec)
    assert parse(text) == spec
    assert format_spec(parse(text)) == text


@pytest.mark.slow
@given(specs())
def test_valid_specs_pass_the_checker(spec: ast.Spec) -> None:
    """``specs()`` promises valid specs: the checker accepts them, as built and as text."""
    assert isinstance(check(spec), Problem)
    assert isinstance(check(parse(format_spec(spec))), Problem)


@pytest.mark.slow
@fuzz_settings(500)
@given(any_specs())
def test_arbitrary_specs_round_trip(spec: ast.Spec) -> None:
    text = format_spec(spec)
    assert parse(text) == spec
    assert format_spec(parse(text)) == text


@pytest.mark.slow
@given(specs())
def test_output_ends_in_one_newline_and_has_no_trailing_blanks(spec: ast.Spec) -> None:
    text = format_spec(spec)
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert all(line == line.rstrip() for line in text.split("\n"))
    assert "\n\n\n" not in text


def test_empty_spec_formats_to_empty_text() -> None:
    assert format_spec(ast.Spec(statements=())) == ""
    assert fmt("") == ""
    assert fmt("# only a comment") == "# only a comment\n"


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_examples_format_idempotently(example: Path) -> None:
    text = example.read_text(encoding="utf-8")
    once = fmt(text)
    assert parse(once) == parse(text)
    assert fmt(once) == once
    assert comment_texts_of(once) == comment_texts_of(text)


# ---- expressions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "canonical"),
    [
        ("-x^2", "-x^2"),
        ("(-x)^2", "(-x)^2"),
        ("2^3^2", "2^3^2"),
        ("(2^3)^2", "(2^3)^2"),
        ("2^(-1)", "2^-1"),
        ("a - b - c", "a - b - c"),
        ("a - (b - c)", "a - (b - c)"),
        ("a / b * c", "a / b * c"),
        ("a / (b * c)", "a / (b * c)"),
        ("(a + b) * c", "(a + b) * c"),
        ("a * (-b)", "a * -b"),
        ("-(a * b)", "-(a * b)"),
        ("- - a", "--a"),
        ("(-a)[0]", "(-a)[0]"),
        ("(a+b)[0,1]", "(a + b)[0, 1]"),
        ("w[0]^2", "w[0]^2"),
        ("(w^2)[0]", "(w^2)[0]"),
        ("W@x", "W @ x"),
        ("taylor(tanh(u),order=3,at=0)", "taylor(tanh(u), order = 3, at = 0)"),
        ("[ [1,2] , [3,4] , ]", "[[1, 2], [3, 4]]"),
        ("1e-3", "0.001"),
        ("1E5", "100000.0"),
        ("1.", "1.0"),
        (".5", "0.5"),
        ("007", "7"),
        ("1e999", "1e999"),
        ('"a\\u00e9\\"b"', '"aé\\"b"'),
    ],
)
def test_expressions_print_canonically(source: str, canonical: str) -> None:
    assert fmt(f"let e = {source}") == f"let e = {canonical}\n"


# ---- layout ---------------------------------------------------------------------------------


def test_statements_group_with_blank_lines_between_kinds() -> None:
    text = (
        "param theta[2]\ninput x[2]\nlabel y\ndata = inline { [1, 2] -> 3 }\n"
        "predict f = dot(theta, x)\nloss l = (f - y)^2\n"
        "attack pgd { radius = 0.1 }\ntrain { lr = 0.1; horizon = 2 }"
    )
    assert fmt(text) == (
        "param theta[2]\ninput x[2]\nlabel y\n\ndata = inline { [1, 2] -> 3 }\n\n"
        "predict f = dot(theta, x)\nloss l = (f - y)^2\n\n"
        "attack pgd { radius = 0.1 }\ntrain { lr = 0.1; horizon = 2 }\n"
    )


def test_one_blank_line_of_the_source_is_kept_within_a_group() -> None:
    assert fmt("param a\n\n\n\nparam b\nparam c") == "param a\n\nparam b\nparam c\n"


def test_sections_split_one_setting_a_line_when_too_wide() -> None:
    settings = "; ".join(f"setting_{i} = {i}" for i in range(10))
    text = fmt(f"compile {{ {settings} }}")
    assert text == "compile {\n" + "".join(f"    setting_{i} = {i}\n" for i in range(10)) + "}\n"
    assert all(len(line) <= LINE_WIDTH for line in text.split("\n"))


def test_inline_data_splits_one_sample_a_line_when_too_wide() -> None:
    samples = "; ".join(f"[{i}, {i}, {i}, {i}] -> {i}" for i in range(6))
    assert fmt(f"data = inline {{ {samples} }}") == (
        "data = inline {\n"
        + "".join(f"    [{i}, {i}, {i}, {i}] -> {i};\n" for i in range(6))
        + "}\n"
    )


def test_empty_blocks_print_as_braces() -> None:
    assert fmt("train { }\ndata = inline {\n}") == "train {}\n\ndata = inline {}\n"


def test_settings_named_like_keywords_keep_their_separator() -> None:
    text = "train { a = f(1); input = 2; b = 3 # wide\n}"
    once = fmt(text)
    assert once == "train {\n    a = f(1);\n    input = 2\n    b = 3  # wide\n}\n"
    assert parse(once) == parse(text)


# ---- comments -------------------------------------------------------------------------------


def test_comments_do_not_change_the_spec() -> None:
    plain = parse("param w = 1\ntrain { lr = 0.1 }")
    commented = parse("# head\nparam w = 1 # why\ntrain { # t\n lr = 0.1 # lr\n}\n# end")
    assert plain == commented
    assert [c.text for c in commented.comments] == ["# head", "# why", "# t", "# lr", "# end"]


def test_comment_spans_and_strings() -> None:
    spec = parse('data = csv("a#b.csv", label = "y\\"#") # real \r\n  #second')
    assert [c.text for c in spec.comments] == ["# real", "#second"]
    first, second = (c.span for c in spec.comments)
    assert first is not None and second is not None
    assert (first.line, first.column, first.end_column) == (1, 39, 45)
    assert (second.line, second.column) == (2, 3)


def test_comments_stay_before_the_statement_that_follows() -> None:
    text = "# about w\n# more\nparam w = 1\n    # about x\ninput x[2]\n"
    assert fmt(text) == "# about w\n# more\nparam w = 1\n# about x\ninput x[2]\n"


def test_trailing_comments_stay_at_the_end_of_their_line() -> None:
    text = "param w = 1   # the weight\ninput x[2]#features\n"
    assert fmt(text) == "param w = 1  # the weight\ninput x[2]  #features\n"


def test_comments_after_the_last_statement_stay_at_the_end() -> None:
    assert fmt("param w\n# one\n\n# two\n") == "param w\n# one\n\n# two\n"


def test_comments_in_sections_stay_with_their_setting() -> None:
    text = (
        "attack pgd {  # the attack\n"
        "  # how far\n"
        "  radius = 0.1  # l-inf ball\n"
        "  steps = 2;\n"
        "  # nothing after\n"
        "}  # done\n"
    )
    assert fmt(text) == (
        "attack pgd {  # the attack\n"
        "    # how far\n"
        "    radius = 0.1  # l-inf ball\n"
        "    steps = 2\n"
        "    # nothing after\n"
        "}  # done\n"
    )


def test_comments_in_inline_data_stay_with_their_sample() -> None:
    text = "data = inline {\n  # first\n  1 -> 2;  # one\n  3 -> 4  # two\n}"
    assert fmt(text) == "data = inline {\n    # first\n    1 -> 2;  # one\n    3 -> 4;  # two\n}\n"


def test_a_section_without_comments_inside_goes_on_one_line() -> None:
    text = "# before\ntrain {\n  lr = 0.1\n  horizon = 2\n}  # after"
    assert fmt(text) == "# before\ntrain { lr = 0.1; horizon = 2 }  # after\n"


def test_comments_inside_an_expression_move_before_its_statement() -> None:
    text = "predict f = a +  # first term\n  # second term\n  b  # last\n"
    assert fmt(text) == "# first term\n# second term\npredict f = a + b  # last\n"


def test_comments_before_the_first_setting_keep_their_order() -> None:
    text = "attack pgd # a\n  # b\n  { # c\n  radius = 1 }"
    once = fmt(text)
    assert once == "attack pgd {  # a\n    # b\n    # c\n    radius = 1\n}\n"
    assert fmt(once) == once


def test_comments_of_a_spec_built_in_code_without_spans_go_last() -> None:
    spec = ast.Spec(statements=(ast.InputDecl(name="x"),), comments=(ast.Comment(text="# loose"),))
    assert format_spec(spec) == "input x\n# loose\n"


_SPECS_TO_COMMENT = specs() | any_specs(max_statements=4)


@st.composite
def commented_texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    """Canonical text of a spec with comments put at random token boundaries and line ends, and
    blank lines added."""
    text = format_spec(draw(_SPECS_TO_COMMENT))
    slots = [
        (m.start(), m.group() == "\n")
        for m in _STRING_COMMENT_OR_SPACE.finditer(text)
        if m.group("space") is not None or m.group() == "\n"
    ]
    slots.append((0, False))
    chosen = draw(st.lists(st.sampled_from(slots), max_size=6)) if slots else []
    inserted: list[tuple[int, str]] = []
    for position, at_line_end in chosen:
        comment = draw(comment_texts())
        # At a line end a comment trails code (or a blank line is added); elsewhere it ends its
        # line, and a second comment at the same place stands on a line of its own.
        if at_line_end:
            inserted.append((position, draw(st.sampled_from([f"  {comment}", "\n"]))))
        else:
            inserted.append((position, f" {comment}\n"))
    # Insert from the back so that earlier positions stay valid; equal positions keep draw order.
    order = sorted(range(len(inserted)), key=lambda i: (inserted[i][0], i), reverse=True)
    for i in order:
        position, piece = inserted[i]
        text = text[:position] + piece + text[position:]
    return text, comment_texts_of(text)


@pytest.mark.slow
@fuzz_settings(300)
@given(commented_texts())
def test_every_comment_is_kept_in_order_and_formatting_is_idempotent(
    case: tuple[str, list[str]],
) -> None:
    text, comments = case
    once = fmt(text)
    assert parse(once) == parse(text)
    assert comment_texts_of(once) == comments
    assert fmt(once) == once


@pytest.mark.slow
@fuzz_settings(1000)
@given(mutated_examples())
def test_mutated_examples_that_parse_format_idempotently(case: tuple[Path, str]) -> None:
    """Real layouts, odd names and comments anywhere: whatever parses, formats and re-parses."""
    _, text = case
    try:
        spec = parse(text)
    except QrtError:
        return
    once = format_spec(spec)
    assert parse(once) == spec
    assert comment_texts_of(once) == [comment.text for comment in spec.comments]
    assert fmt(once) == once
