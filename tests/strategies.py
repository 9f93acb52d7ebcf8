"""Hypothesis strategies for ``.qrt`` specs, shared by the tests.

- :func:`specs`: small *valid* :class:`~qrtc.ir.spec.Spec` ASTs, built directly (not parsed):
  a polynomial model of a few parameters, 1-4 inline samples, a short horizon, and settings the
  checker accepts. Numbers are small so that later stages stay well-conditioned.
- :func:`spec_texts`: the same specs rendered by ``qrtc fmt``.
- :func:`expressions`, :func:`any_specs`: arbitrary, mostly meaningless, but printable ASTs, for
  round-trip properties of the formatter and parser.
- :func:`mutated_examples`: shipped examples with a few tokens or characters edited.
- :func:`fuzz_settings`: ``@settings`` for fuzz tests, scaled by the Hypothesis profile.

AST numbers are never negative (a negative literal is ``Negate(Number)``) and always finite,
except that :func:`any_specs` may hold ``inf``, which the parser produces for ``1e999``.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import qrtc
from qrtc.frontend.format import format_spec
from qrtc.ir import spec as ast

__all__ = [
    "FUZZ_NUMBERS",
    "KEYWORDS",
    "SEEDS",
    "VOCABULARY",
    "any_specs",
    "comment_texts",
    "expressions",
    "fuzz_settings",
    "mutated_examples",
    "names",
    "numbers",
    "spec_texts",
    "specs",
]

KEYWORDS = (
    "param",
    "input",
    "label",
    "data",
    "let",
    "predict",
    "loss",
    "attack",
    "train",
    "compile",
    "inline",
)
"""Words the grammar spells out. They are names wherever a keyword cannot stand (``let loss =
1`` parses), but ``data = inline(...)`` does not, so generated data sources avoid ``inline``."""

_FUZZ_SCALE = {"nightly": 10.0, "dev": 0.1}


def fuzz_settings(ci_examples: int) -> settings:
    """``@settings`` for a fuzz test: ``ci_examples`` examples under the ``ci`` profile, ten times
    that under ``nightly`` and a tenth under ``dev``."""
    scale = _FUZZ_SCALE.get(os.environ.get("HYPOTHESIS_PROFILE", "ci"), 1.0)
    return settings(
        max_examples=max(1, round(ci_examples * scale)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---- building blocks ------------------------------------------------------------------------


def _num(value: int | float) -> ast.Expr:
    """A literal; negative values become ``Negate(Number)``, as the parser builds them."""
    if value < 0:
        return ast.Negate(operand=ast.Number(value=-value))
    return ast.Number(value=value)


def _name(name: str) -> ast.Name:
    return ast.Name(id=name)


def _call(func: str, *args: ast.Expr, **keywords: ast.Expr) -> ast.Call:
    return ast.Call(
        func=func,
        args=args,
        keywords=tuple(ast.Keyword(name=k, value=v) for k, v in keywords.items()),
    )


def _op(op: ast.BinaryOperator, left: ast.Expr, right: ast.Expr) -> ast.BinaryOp:
    return ast.BinaryOp(op=op, left=left, right=right)


def _hundredths(low: int, high: int) -> st.SearchStrategy[float]:
    """``k / 100`` for ``low <= k <= high``: short decimals such as 0.05."""
    return st.integers(low, high).map(lambda k: k / 100)


_small_values = st.integers(-100, 100).map(lambda k: k / 100) | st.integers(-2, 2)


@functools.cache
def _array(shape: tuple[int, ...], values: st.SearchStrategy[int | float]) -> st.SearchStrategy:
    if not shape:
        return values.map(_num)
    inner = _array(shape[1:], values)
    return st.lists(inner, min_size=shape[0], max_size=shape[0]).map(
        lambda items: ast.ArrayLiteral(items=tuple(items))
    )


# ---- valid specs ----------------------------------------------------------------------------

_PARAM_NAMES = ("theta", "θ", "w", "weights")
_BIAS_NAMES = ("b", "bias", "c0")
_MATRIX_NAMES = ("W", "A", "hidden")
_OUTER_NAMES = ("v", "u", "readout")
_INPUT_NAMES = ("x", "xi", "features")
_LABEL_NAMES = ("y", "target", "t")
_LET_NAMES = ("z", "h", "score")
_PREDICT_NAMES = ("f", "prediction", "yhat")
_LOSS_NAMES = ("l", "risk", "loss_value")


@st.composite
def _param_init(draw: st.DrawFn, shape: tuple[int, ...]) -> ast.Expr | None:
    kind = draw(st.sampled_from(["default", "zeros", "fill", "array", "random"]))
    if kind == "default":
        return None
    if kind == "zeros":
        return _name("zeros")
    if kind == "fill":
        return ast.Number(value=draw(_hundredths(0, 50) | st.just(0)))
    if kind == "array":
        return draw(_array(shape, st.integers(-50, 50).map(lambda k: k / 100)))
    return _call(
        "random",
        seed=ast.Number(value=draw(st.integers(0, 99))),
        scale=ast.Number(value=draw(_hundredths(1, 50))),
    )


@st.composite
def _model(draw: st.DrawFn, n: int) -> tuple[list[ast.ParamDecl], list[ast.Definition], str]:
    """Parameters, definitions up to ``predict``, and the predict name, for input size ``n``."""
    x = draw(st.sampled_from(_INPUT_NAMES))
    theta = draw(st.sampled_from(_PARAM_NAMES))
    bias = draw(st.sampled_from(_BIAS_NAMES))
    matrix = draw(st.sampled_from(_MATRIX_NAMES))
    outer = draw(st.sampled_from(_OUTER_NAMES))
    predict = draw(st.sampled_from(_PREDICT_NAMES))
    hidden = 2
    shapes: dict[str, tuple[int, ...]] = {}
    kind = draw(
        st.sampled_from(
            ["linear", "affine", "elementwise", "mean", "two_layer", "transpose", "index", "square"]
        )
    )
    dot = _call("dot", _name(theta), _name(x))
    if kind == "linear":
        shapes[theta] = (n,)
        body: ast.Expr = dot
    elif kind == "affine":
        shapes[theta], shapes[bias] = (n,), ()
        body = _op("+", dot, _name(bias))
    elif kind == "elementwise":
        shapes[theta] = (n,)
        body = _call("sum", _op("*", _name(theta), _name(x)))
    elif kind == "mean":
        shapes[theta], shapes[bias] = (n,), ()
        body = _op("-", _call("mean", _op("*", _name(theta), _name(x))), _name(bias))
    elif kind == "two_layer":
        shapes[matrix], shapes[outer] = (hidden, n), (hidden,)
        body = _call("dot", _name(outer), _op("@", _name(matrix), _name(x)))
    elif kind == "transpose":
        shapes[matrix], shapes[outer] = (hidden, n), (hidden,)
        body = _call("dot", _op("@", _call("transpose", _name(matrix)), _name(outer)), _name(x))
    elif kind == "index":
        shapes[theta], shapes[bias] = (n,), ()
        i = draw(st.integers(0, n - 1))
        first = ast.Index(base=_name(theta), indices=(ast.Number(value=i),))
        second = ast.Index(base=_name(x), indices=(ast.Number(value=i),))
        body = _op("+", _op("*", first, second), _name(bias))
    else:
        shapes[theta] = (n,)
        body = _op("*", ast.Number(value=0.5), _op("^", dot, ast.Number(value=2)))
    params = [
        ast.ParamDecl(name=name, shape=shape, init=draw(_param_init(shape)))
        for name, shape in shapes.items()
    ]
    definitions = []
    if draw(st.booleans()):
        let = draw(st.sampled_from(_LET_NAMES))
        definitions.append(ast.Definition(kind="let", name=let, expr=body))
        body = _name(let)
    definitions.append(ast.Definition(kind="predict", name=predict, expr=body))
    return params, definitions, x


@st.composite
def _loss(draw: st.DrawFn, predict: str, label: str) -> ast.Definition:
    f, y = _name(predict), _name(label)
    residual = _op("-", f, y)
    kind = draw(st.sampled_from(["half_square", "square", "divided", "taylor", "taylor_square"]))
    if kind == "half_square":
        expr: ast.Expr = _op("*", ast.Number(value=0.5), _op("^", residual, ast.Number(value=2)))
    elif kind == "square":
        expr = _op("^", residual, ast.Number(value=2))
    elif kind == "divided":
        expr = _op("/", _op("^", _op("-", y, f), ast.Number(value=2)), ast.Number(value=2))
    elif kind == "taylor":
        func = draw(st.sampled_from(["softplus", "exp", "sigmoid"]))
        margin = ast.Negate(operand=_op("*", y, f))
        expr = _call(
            "taylor",
            _call(func, margin),
            order=ast.Number(value=draw(st.integers(1, 3))),
            at=ast.Number(value=0),
        )
    else:
        func = draw(st.sampled_from(["tanh", "sigmoid"]))
        squashed = _call(
            "taylor", _call(func, f), order=ast.Number(value=3), at=ast.Number(value=0)
        )
        expr = _op("*", ast.Number(value=0.5), _op("^", _op("-", squashed, y), ast.Number(value=2)))
    name = draw(st.sampled_from(_LOSS_NAMES))
    return ast.Definition(kind="loss", name=name, expr=expr)


def _settings(
    draw: st.DrawFn, required: dict[str, ast.Expr], optional: dict[str, ast.Expr]
) -> tuple[ast.Setting, ...]:
    chosen = dict(required)
    for key, value in optional.items():
        if draw(st.booleans()):
            chosen[key] = value
    order = draw(st.permutations(sorted(chosen)))
    return tuple(ast.Setting(name=key, value=chosen[key]) for key in order)


@st.composite
def _attack(draw: st.DrawFn) -> ast.AttackSection:
    settings = _settings(
        draw,
        {"radius": ast.Number(value=draw(_hundredths(1, 10)))},
        {
            "norm": _name(draw(st.sampled_from(["linf", "l2"]))),
            "step": ast.Number(value=draw(_hundredths(1, 20))),
            "steps": ast.Number(value=draw(st.integers(1, 2))),
            "start": _name(draw(st.sampled_from(["warm", "zero"]))),
            "grad": _name(draw(st.sampled_from(["plain", "sign"]))),
            "support": _name(draw(st.sampled_from(["all", "data"]))),
        },
    )
    return ast.AttackSection(method="pgd", settings=settings)


@st.composite
def _train(draw: st.DrawFn) -> ast.TrainSection:
    settings = _settings(
        draw,
        {
            "lr": ast.Number(value=draw(_hundredths(1, 20))),
            "horizon": ast.Number(value=draw(st.integers(1, 3))),
        },
        {},
    )
    return ast.TrainSection(settings=settings)


def _auto_or(values: st.SearchStrategy[int | float]) -> st.SearchStrategy[ast.Expr]:
    return st.just(_name("auto")) | values.map(lambda v: ast.Number(value=v))


@st.composite
def _compile(draw: st.DrawFn) -> ast.CompileSection:
    settings = _settings(
        draw,
        {},
        {
            "carleman_order": draw(_auto_or(st.integers(1, 3))),
            "scale": draw(_auto_or(st.sampled_from([0.5, 1, 2.0]))),
            "padding": draw(_auto_or(st.integers(0, 2))),
            "precision": ast.Number(value=draw(st.sampled_from([0.001, 0.01, 0.05, 1e-05]))),
        },
    )
    return ast.CompileSection(settings=settings)


@st.composite
def specs(draw: st.DrawFn, *, shuffle: bool = True) -> ast.Spec:
    """A small valid spec: scalar label, input of size 1-3, 1-4 inline samples, horizon <= 3.

    Args:
        shuffle: put the statements in a random order (definitions still come after the ones
            they use); otherwise declarations, data, definitions, then sections.
    """
    n = draw(st.integers(1, 3))
    params, definitions, x = draw(_model(n))
    label = draw(st.sampled_from(_LABEL_NAMES))
    definitions.append(draw(_loss(definitions[-1].name, label)))
    samples = draw(
        st.lists(
            st.builds(
                lambda inp, out: ast.Sample(input=inp, label=out),
                _array((n,), _small_values),
                _small_values.map(_num),
            ),
            min_size=1,
            max_size=4,
        )
    )
    statements: list[ast.Statement] = [
        *params,
        ast.InputDecl(name=x, shape=(n,)),
        ast.LabelDecl(name=label),
        ast.DataDecl(source=ast.InlineData(samples=tuple(samples))),
        *definitions,
        draw(_attack()),
        draw(_train()),
    ]
    if draw(st.booleans()):
        statements.append(draw(_compile()))
    if shuffle:
        statements = list(draw(st.permutations(statements)))
        slots = [i for i, s in enumerate(statements) if isinstance(s, ast.Definition)]
        for slot, definition in zip(slots, definitions, strict=True):
            statements[slot] = definition
    return ast.Spec(statements=tuple(statements))


def spec_texts(*, shuffle: bool = True) -> st.SearchStrategy[str]:
    """:func:`specs` as canonical ``.qrt`` text."""
    return specs(shuffle=shuffle).map(format_spec)


# ---- arbitrary printable ASTs ---------------------------------------------------------------

_NAME_PATTERN = r"(?!\d)\w{1,8}"


@functools.cache
def names() -> st.SearchStrategy[str]:
    """Any NAME token: ASCII and Unicode identifiers, and the keywords (valid as names)."""
    return st.one_of(
        st.sampled_from(["x", "theta", "θ", "W", "_", "a1", "zeros", "auto", "linf"]),
        st.sampled_from(KEYWORDS),
        st.from_regex(_NAME_PATTERN, fullmatch=True),
    )


@functools.cache
def numbers() -> st.SearchStrategy[ast.Number]:
    """Non-negative literals: ints below 10^18 (longer ones parse as floats), finite floats."""
    return st.one_of(
        st.integers(0, 10**18 - 1),
        st.floats(min_value=0.0, allow_nan=False, allow_infinity=False),
        st.just(float("inf")),
    ).map(lambda value: ast.Number(value=value))


def _strings() -> st.SearchStrategy[ast.String]:
    return st.text(max_size=12).map(lambda value: ast.String(value=value))


@functools.cache
def expressions(
    *, leaves: st.SearchStrategy[ast.Expr] | None = None, max_leaves: int = 12
) -> st.SearchStrategy[ast.Expr]:
    """Arbitrary expression trees (any operator, call, index or array), mostly meaningless.

    Args:
        leaves: the atoms; default numbers, names and (rarely) strings.
        max_leaves: bound on the tree's size.
    """
    if leaves is None:
        leaves = st.one_of(numbers(), names().map(_name), _strings())

    def extend(children: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
        small = st.lists(children, max_size=3).map(tuple)
        return st.one_of(
            children.map(lambda e: ast.Negate(operand=e)),
            st.builds(_op, st.sampled_from(["+", "-", "*", "/", "@", "^"]), children, children),
            st.builds(
                lambda base, indices: ast.Index(base=base, indices=indices),
                children,
                st.lists(children, min_size=1, max_size=2).map(tuple),
            ),
            st.builds(
                lambda func, args, keywords: ast.Call(func=func, args=args, keywords=keywords),
                names(),
                small,
                st.lists(
                    st.builds(lambda k, v: ast.Keyword(name=k, value=v), names(), children),
                    max_size=2,
                ).map(tuple),
            ),
            small.map(lambda items: ast.ArrayLiteral(items=items)),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def _shapes() -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(st.integers(0, 10), max_size=3).map(tuple)


@functools.cache
def _any_settings() -> st.SearchStrategy[tuple[ast.Setting, ...]]:
    setting = st.builds(lambda k, v: ast.Setting(name=k, value=v), names(), expressions())
    return st.lists(setting, max_size=4).map(tuple)


@functools.cache
def _data_sources() -> st.SearchStrategy[ast.InlineData | ast.Call]:
    sample = st.builds(lambda i, o: ast.Sample(input=i, label=o), expressions(), expressions())
    inline = st.lists(sample, max_size=4).map(lambda s: ast.InlineData(samples=tuple(s)))
    call = st.builds(
        lambda func, args: ast.Call(func=func, args=args),
        names().filter(lambda name: name != "inline"),
        st.lists(expressions(max_leaves=3), max_size=2).map(tuple),
    )
    return inline | call


@functools.cache
def _any_statements() -> st.SearchStrategy[ast.Statement]:
    return st.one_of(
        st.builds(
            lambda n, s, i: ast.ParamDecl(name=n, shape=s, init=i),
            names(),
            _shapes(),
            st.none() | expressions(),
        ),
        st.builds(lambda n, s: ast.InputDecl(name=n, shape=s), names(), _shapes()),
        st.builds(lambda n, s: ast.LabelDecl(name=n, shape=s), names(), _shapes()),
        _data_sources().map(lambda source: ast.DataDecl(source=source)),
        st.builds(
            lambda k, n, e: ast.Definition(kind=k, name=n, expr=e),
            st.sampled_from(["let", "predict", "loss"]),
            names(),
            expressions(),
        ),
        st.builds(lambda m, s: ast.AttackSection(method=m, settings=s), names(), _any_settings()),
        _any_settings().map(lambda s: ast.TrainSection(settings=s)),
        _any_settings().map(lambda s: ast.CompileSection(settings=s)),
    )


@functools.cache
def any_specs(*, max_statements: int = 8) -> st.SearchStrategy[ast.Spec]:
    """Arbitrary printable specs: any statements in any order, checker be damned."""
    return st.lists(_any_statements(), max_size=max_statements).map(
        lambda statements: ast.Spec(statements=tuple(statements))
    )


@functools.cache
def comment_texts() -> st.SearchStrategy[str]:
    """Comment bodies as the parser stores them: ``#``, then no newline, no trailing blanks."""
    return st.from_regex(r"#[^\n]{0,20}", fullmatch=True).map(str.rstrip)


# ---- mutated shipped examples --------------------------------------------------------------

# Names the checker knows, so that generated specs get past name resolution now and then.
VOCABULARY = [
    "theta", "θ", "W", "b", "x", "y", "f", "l", "z", "pgd", "zeros", "random", "seed", "scale",
    "dot", "sum", "mean", "transpose", "taylor", "tanh", "sigmoid", "exp", "log", "softplus",
    "order", "at", "csv", "npy", "synthetic", "n", "noise", "label", "labels", "norm", "linf",
    "l2", "radius", "step", "steps", "start", "warm", "zero", "grad", "plain", "sign", "support",
    "data", "all", "lr",
    "horizon", "carleman_order", "scale", "padding", "precision", "auto", "inline", "param",
]  # fmt: skip
# Small numbers mostly; a few that overflow a float or an int64, or any memory (never a size that
# a large machine might actually allocate).
FUZZ_NUMBERS = [
    "0", "1", "2", "3", "0.5", "0.05", "1e-3", ".5", "7.", "1e999", "1e-999",
    "18446744073709551616", "99999999999999999999", "1000000000000", "1" * 400,
]  # fmt: skip


_TOKEN = re.compile(
    r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"|#[^\n]*|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|\w+|->|\s+|\S'
)
_REPLACEMENTS = [
    *VOCABULARY, *FUZZ_NUMBERS, "(", ")", "[", "]", "{", "}", ",", ";", "=", "->", "+", "-", "*",
    "/", "@", "^", "**", ":", "'", '"', "#", "\n", " ", "\\", "\x00", "\x0c", "\r", "\u2028",
    "\ufeff", "é", "𝑥", "data", "predict", "loss", "attack", "train", "compile", "let",
]  # fmt: skip


def _seeds() -> list[tuple[Path, str]]:
    examples = Path(__file__).resolve().parents[1] / "examples"
    seeds = []
    for path in sorted(examples.glob("*.qrt")) + sorted((examples / "bad").glob("*.qrt")):
        try:
            seeds.append((path, path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            continue  # examples/bad/not_utf8.qrt: parse_file's business, tested elsewhere
    return seeds


SEEDS = _seeds()
"""(path, text) of every shipped example, good and bad, that is UTF-8 text."""


_KEYWORDS = frozenset(KEYWORDS)
_NUMBER_TOKEN = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WORD_TOKEN = re.compile(r"(?!\d)\w+")
# Syntax-keeping edits (a number for a number, a name for a name) are listed twice, so that
# about half the mutants get past the parser and exercise the checker.
_MUTATIONS = [
    "delete", "duplicate", "swap", "replace", "insert", "cut",
    "renumber", "renumber", "rename", "rename",
]  # fmt: skip


@st.composite
def mutated_examples(draw: st.DrawFn) -> tuple[Path, str]:
    """A shipped example (its path and its text with one to four token or character edits)."""
    path, text = draw(st.sampled_from(SEEDS))
    tokens = _TOKEN.findall(text)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(_MUTATIONS))
        if kind in ("renumber", "rename"):
            pattern = _NUMBER_TOKEN if kind == "renumber" else _WORD_TOKEN
            spots = [
                i
                for i, token in enumerate(tokens)
                if pattern.fullmatch(token) and token not in _KEYWORDS
            ]
            if spots:
                pool = FUZZ_NUMBERS if kind == "renumber" else VOCABULARY
                tokens[draw(st.sampled_from(spots))] = draw(st.sampled_from(pool))
                continue
        if kind == "insert" or not tokens:
            position = draw(st.integers(0, len(tokens)))
            piece = draw(st.sampled_from(_REPLACEMENTS) | st.text(min_size=1, max_size=3))
            tokens.insert(position, piece)
            continue
        i = draw(st.integers(0, len(tokens) - 1))
        if kind == "delete":
            del tokens[i]
        elif kind == "duplicate":
            tokens.insert(i, tokens[i])
        elif kind == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif kind == "replace":
            tokens[i] = draw(st.sampled_from(_REPLACEMENTS))
        else:
            j = draw(st.integers(i, min(len(tokens), i + 8)))
            del tokens[i:j]
    return path, "".join(tokens)


def tiny_spec(pgd_steps: int, horizon: int, padding: int) -> qrtc.Spec:
    """Linear regression on one feature at Carleman order 1 (D_N = 3): the smallest L."""
    return qrtc.parse(
        f"""
param theta[1] = [0.1]
input x[1]
label y
data = inline {{ [0.5] -> 0.2 }}
predict f = dot(theta, x)
loss l = 0.5 * (f - y)^2
attack pgd {{ norm = linf; radius = 0.05; step = 0.02; steps = {pgd_steps}; start = warm }}
train {{ lr = 0.2; horizon = {horizon} }}
compile {{ carleman_order = 1; scale = auto; padding = {padding} }}
"""
    )
