"""Syntax fuzzing: whatever the text, the frontend answers with a result or a ``QrtError``.

Two sources of text: sentences of the grammar itself (``hypothesis.extra.lark.from_lark`` on the
parser's own Lark object), and the shipped examples with tokens deleted, duplicated, swapped or
replaced and characters inserted. The property (style guide §5): ``parse`` returns a ``Spec`` or
raises a ``QrtError``, and ``check`` returns a ``Problem`` or raises a ``QrtError``; an error about
the text carries a span. Anything else (``RecursionError``, ``MemoryError``, a Lark exception) is
a bug in qrtc.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from strategies import FUZZ_NUMBERS, SEEDS, VOCABULARY, fuzz_settings, mutated_examples

from qrtc.errors import QrtError, SpecErrors
from qrtc.frontend.check import check
from qrtc.frontend.parse import _parser, parse
from qrtc.ir.problem import Problem

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# Where generated specs pretend to live: a directory that does not exist, so no data file loads.
FUZZ_FILE = Path(tempfile.gettempdir()) / "qrtc-fuzz-no-such-dir" / "fuzz.qrt"


def _padded(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # Ignored whitespace is drawn only now and then, so words need their own spaces.
    return strategy.map(lambda text: f" {text} ")


# Cheap terminal strategies: from_lark spends most of its time in regex-based draws.
_NAME_STRATEGY = _padded(
    st.sampled_from(VOCABULARY)
    | st.builds(
        lambda first, rest: first + rest,
        st.sampled_from("abxyzθé_"),
        st.text(st.sampled_from("abz09_θ"), max_size=4),
    )
)
_NUMBER_STRATEGY = _padded(
    st.sampled_from(FUZZ_NUMBERS) | st.integers(0, 64).map(str) | st.floats(0, 1e6).map(repr)
)
_STRING_STRATEGY = st.sampled_from(
    ['"points.csv"', '"y"', '"X.npy"', '""', '"a\\"b"', '"\\u00e9"', '"\\q"', '"#"']
)
_COMMENT_STRATEGY = st.sampled_from(["# c\n", "#\n", '# "quoted" # twice\n'])
_WS_STRATEGY = st.sampled_from([" ", "\n", "\t", "\r\n", "\x0c", "  "])

SENTENCES = from_lark(
    _parser(),
    explicit={
        "NAME": _NAME_STRATEGY,
        "NUMBER": _NUMBER_STRATEGY,
        "STRING": _STRING_STRATEGY,
        "COMMENT": _COMMENT_STRATEGY,
        "WS": _WS_STRATEGY,
    },
)


def assert_answers_properly(text: str, file: Path) -> None:
    """``parse`` then ``check``: a result, or a ``QrtError`` whose every part has a span."""
    __tracebackhide__ = True
    try:
        spec = parse(text, file=str(file))
    except QrtError as error:
        assert error.span is not None, f"syntax error without a span: {error}"
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # numpy overflow: a missed check
            problem = check(spec)
    except SpecErrors as errors:
        unplaced = [str(error) for error in errors.errors if error.span is None]
        assert not unplaced, f"spec errors without a span: {unplaced}"
        return
    except QrtError as error:
        assert error.span is not None, f"error without a span: {error}"
        return
    assert isinstance(problem, Problem)


# ---- sentences of the grammar ---------------------------------------------------------------


@pytest.mark.slow
@fuzz_settings(600)
@given(SENTENCES)
@example("param W[99999999999999999999]")
@example("let a = " + "-" * 300 + "x")
def test_grammar_sentences_parse_and_check_or_raise_qrt_errors(text: str) -> None:
    assert_answers_properly(text, FUZZ_FILE)


@pytest.mark.slow  # from_lark draws about 25 sentences a second: 2000 take over a minute
@fuzz_settings(2000)
@given(SENTENCES)
def test_many_grammar_sentences_parse_and_check_or_raise_qrt_errors(text: str) -> None:
    assert_answers_properly(text, FUZZ_FILE)


# ---- mutated examples -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not SEEDS, reason="no shipped examples to mutate")
@fuzz_settings(2000)
@given(mutated_examples())
def test_mutated_examples_parse_and_check_or_raise_qrt_errors(case: tuple[Path, str]) -> None:
    path, text = case
    # The example's own path, so that its data files resolve and their loaders are fuzzed too.
    assert_answers_properly(text, path)


def test_the_unmutated_examples_answer_properly() -> None:
    for path, text in SEEDS:
        assert_answers_properly(text, path)


# ---- escapes found while writing these tests ------------------------------------------------

_ROBUST_LINREG = (EXAMPLES / "robust_linreg.qrt").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("param theta[2] = [0.1, -0.2]", "param theta[2]\nparam big[1000000000, 1000000000]"),
        (
            "data = inline { [0.5, -0.3] -> 0.2; [0.1, 0.4] -> -0.1; [-0.2, 0.3] -> 0.05 }",
            "data = synthetic(n = 1000000000000000, seed = 1, noise = 0.1)",
        ),
        ("loss l = 0.5 * (f - y)^2", "loss l = (f - y)^2 / 1e-320"),
    ],
    ids=["huge-param", "huge-synthetic", "reciprocal-overflow"],
)
def test_hostile_sizes_and_constants_are_spec_errors(old: str, new: str) -> None:
    assert old in _ROBUST_LINREG
    assert_answers_properly(_ROBUST_LINREG.replace(old, new), EXAMPLES / "robust_linreg.qrt")
