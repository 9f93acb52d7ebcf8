r"""A built sparse family: a ``.qrt`` spec replicated $r$ times into block-separable copies.

``qrtc scale --over params`` extrapolates along the paper's sparse family (paper.md §6.5,
assumption A2 read as $n$-independent). :func:`replicate` builds a member of such a family
instead, so that points along $n$ can be real estimates. The original has parameter vectors
$p_j \in \mathbb R^{k_j}$ ($\theta \in \mathbb R^n$), inputs $x_m \in \mathbb R^d$, labels $y_m$
($m = 1..M$) and step size $\eta$; member $r$ has

* $p_j \in \mathbb R^{r k_j}$, copy $c$ owning entries $[c k_j, (c+1) k_j)$, each copy
  initialised to the original's evaluated $\theta_0$ (so ``random(...)`` copies are identical);
* $Mr$ samples, copy-major: sample $(c, m)$ is $X_{c,m} = e_c \otimes x_m \in \mathbb R^{rd}$ (the
  original features in block $c$, zeros elsewhere) with label $y_m$;
* step size $r\eta$ and compile precision $\sqrt r\,\varepsilon$ (the error of $r$ equal,
  independent copies adds in quadrature, so each copy keeps the original's accuracy);
  everything else (definitions, attack, horizon, the other compile options) verbatim.

If the model separates, $f(\Theta; X) = f(\theta^{(c)}; X_c)$ for $X$ supported on block $c$
(checked numerically by :func:`check_separable`), the learner step restricted to copy $c$ is
$\theta^{(c)} \leftarrow \theta^{(c)} - \frac{r\eta}{rM} \sum_m \nabla L_m(\theta^{(c)},
\delta_{c,m})$: the original's $\eta/M$ per sample, which is why the step size scales by $r$.

The attack keeps the copies apart only if it does not move features outside a sample's block.
With ``support = data`` (each sample perturbs its non-zero features only) copy $c$'s
trajectory equals the original's at every sub-step. With ``support = all`` the $\ell_\infty$
(or $\ell_2$) attack also perturbs the zero features of the other blocks, and
$\theta^{(c')} \cdot \delta_{c'}$ feeds them into the prediction: the copies couple, the
trajectories differ from the original's, and the learner's sparsity grows with $r$
(``benches/bench_sparse_family.py``, which this module generalizes).
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import PurePath

import numpy as np
from numpy.typing import NDArray

from qrtc.errors import QrtError, SourceSpan, SpecErrors
from qrtc.frontend.check import check
from qrtc.frontend.format import format_spec
from qrtc.frontend.parse import parse
from qrtc.ir import spec as ast
from qrtc.ir.problem import Problem
from qrtc.reference import autodiff

__all__ = ["MAX_REPLICATED_ENTRIES", "FamilyError", "check_separable", "replicate"]

MAX_REPLICATED_ENTRIES = 2_000_000
r"""Most feature entries $(Mr)(dr)$ the replicated inline data may hold. The data is written out
as ``.qrt`` text and parsed again, about 40 s per million numbers (robust_linreg with $r = 577$,
$2.0 \cdot 10^6$ numbers: 81 s, most of it in the LALR parse)."""

_RTOL = 1e-10
"""Agreement required of :func:`check_separable`: the copies compute the same sums, padded with
exact zeros, so only the summation order differs."""

_HINT = "the params sweep extrapolates from the spec's own size instead (the sparse-family premise)"


class FamilyError(QrtError):
    """The spec cannot be replicated into independent copies; the span says which part."""


def replicate(spec: ast.Spec, copies: int) -> ast.Spec:
    r"""The spec replicated ``copies`` times into block-separable copies (see the module).

    Args:
        spec: a parsed spec whose parameters are vectors and whose input is a vector.
        copies: $r \ge 1$; ``1`` gives a spec that checks to the same problem.

    Returns:
        A parsed spec (text from :func:`~qrtc.frontend.format.format_spec`, data inline, no
        comments) named ``<stem>_x<copies>.qrt`` beside ``spec.file``.

    Raises:
        SpecErrors: ``spec`` itself does not check.
        FamilyError: ``copies < 1``; a parameter that is not a vector or an input that is not a
            vector (span of the declaration); more than :data:`MAX_REPLICATED_ENTRIES` data
            entries; a model that does not separate over the copies (span of its definition).
    """
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
        raise FamilyError(f"copies must be a positive integer, not {copies!r}", file=spec.file)
    original = check(spec)
    _check_blockwise(spec, original, copies)
    statements = tuple(_replicated(statement, original, copies) for statement in spec.statements)
    if not any(isinstance(statement, ast.CompileSection) for statement in statements):
        statements += (ast.CompileSection(settings=(_precision(original, copies),)),)
    file = _replica_file(spec.file, copies)
    text = format_spec(ast.Spec(statements=statements, file=file))
    replica_spec = parse(text, file=file)
    try:
        replica = check(replica_spec)
    except SpecErrors as error:
        first = error.errors[0]
        raise FamilyError(
            f"the model does not replicate blockwise: in the spec replicated {copies} times, "
            f"{first.message}",
            span=_original_span(spec, replica_spec, first.span),
            hint=_HINT,
        ) from None
    check_separable(
        original,
        replica,
        copies,
        prediction_span=_definition_span(spec, "predict"),
        loss_span=_definition_span(spec, "loss"),
    )
    return replica_spec


def check_separable(
    original: Problem,
    replica: Problem,
    copies: int,
    *,
    draws: int = 3,
    seed: int = 0,
    prediction_span: SourceSpan | None = None,
    loss_span: SourceSpan | None = None,
) -> None:
    r"""Check numerically that ``replica`` is ``copies`` independent copies of ``original``.

    At ``draws`` points $\Theta = (\theta^{(1)}, \dots, \theta^{(r)})$ with a different random
    $\theta^{(c)}$ per copy, clean and with a random perturbation $\delta$ supported on each
    sample's own block, every sample $(c, m)$ of the replica must have the original's prediction
    and loss at $(\theta^{(c)}, x_m + \delta_{c,m})$, its $\theta$ gradient in block $c$ and zero in
    the others, and its input gradient in block $c$ (relative tolerance $10^{-10}$).

    Args:
        original: the checked spec, $n$ parameters, $M$ samples of $d$ features.
        replica: its replication, $rn$ parameters, $rM$ samples (copy-major) of $rd$ features.
        copies: $r$.
        draws: random points per check.
        seed: seed of the points.
        prediction_span, loss_span: where a failure points (default: the expressions' spans).

    Raises:
        FamilyError: at the first quantity that disagrees, with its largest deviation.
    """
    n, d, samples = original.n_params, original.input_size, original.n_samples
    assert replica.n_params == n * copies and replica.input_size == d * copies
    assert replica.n_samples == samples * copies
    positions = _copy_positions(original, replica, copies)
    features = np.reshape(original.inputs, (samples, d))
    blocks = np.reshape(replica.inputs, (copies, samples, copies, d))
    for c in range(copies):
        assert np.array_equal(blocks[c, :, c], features), "the replica's data is not blockwise"
    labels = np.reshape(replica.labels, (copies, samples, *original.label_shape))
    assert np.array_equal(labels, np.broadcast_to(original.labels, labels.shape))

    spans = (
        prediction_span if prediction_span is not None else original.prediction.span,
        loss_span if loss_span is not None else original.loss.span,
    )
    rng = np.random.default_rng(seed)
    spread = 0.5 * (1.0 + np.abs(original.theta0))
    scale = 0.1 * (1.0 + float(np.max(np.abs(features), initial=0.0)))
    for _ in range(draws):
        thetas = original.theta0 + spread * rng.normal(size=(copies, n))
        theta = np.zeros(n * copies)
        theta[positions] = thetas
        for perturb in (False, True):
            delta = scale * rng.normal(size=(copies, samples, d)) if perturb else None
            for c in range(copies):
                _compare_copy(original, replica, c, thetas[c], theta, delta, positions, spans)


def _compare_copy(
    original: Problem,
    replica: Problem,
    c: int,
    theta_c: NDArray[np.float64],
    theta: NDArray[np.float64],
    delta: NDArray[np.float64] | None,
    positions: NDArray[np.intp],
    spans: tuple[SourceSpan | None, SourceSpan | None],
) -> None:
    """Copy ``c``'s samples in the replica at ``theta`` against the original at ``theta_c``."""
    copies, (samples, d) = positions.shape[0], (original.n_samples, original.input_size)
    rows = slice(c * samples, (c + 1) * samples)
    block = slice(c * d, (c + 1) * d)
    inputs = np.reshape(original.inputs, (samples, d)).copy()
    wide = np.reshape(replica.inputs[rows], (samples, d * copies)).copy()
    if delta is not None:
        inputs += delta[c]
        wide[:, block] += delta[c]
    inputs = np.reshape(inputs, original.inputs.shape)
    wide = np.reshape(wide, (samples, *replica.input_shape))
    labels = original.labels

    where = f"copy {c} of {copies} ({'perturbed' if delta is not None else 'clean'} input)"
    expected = autodiff.evaluate(original.prediction, theta_c, inputs, labels)
    actual = autodiff.evaluate(replica.prediction, theta, wide, labels)
    _agree(actual, expected, f"the prediction on {where}", spans[0])
    for m in range(samples):
        one = slice(m, m + 1)
        loss, grad_theta, grad_input = autodiff.value_and_gradients(
            original.loss, theta_c, inputs[one], labels[one]
        )
        wide_loss, wide_theta, wide_input = autodiff.value_and_gradients(
            replica.loss, theta, wide[one], labels[one]
        )
        sample = f"sample {m} of {where}"
        _agree(wide_loss, loss, f"the loss on {sample}", spans[1])
        expected_theta = np.zeros_like(wide_theta)
        expected_theta[positions[c]] = grad_theta
        _agree(wide_theta, expected_theta, f"the parameter gradient of {sample}", spans[1])
        own = np.reshape(wide_input, (copies, d))[c]
        _agree(own, np.reshape(grad_input, d), f"the input gradient of {sample}", spans[1])


def _agree(
    actual: NDArray[np.float64],
    expected: NDArray[np.float64],
    what: str,
    span: SourceSpan | None,
) -> None:
    """Equal up to ``_RTOL`` of the largest expected magnitude (at least 1)."""
    deviation = float(np.max(np.abs(actual - expected), initial=0.0))
    magnitude = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    if deviation <= _RTOL * magnitude:
        return
    raise FamilyError(
        f"the model does not separate into independent copies: {what} differs from the "
        f"original's by {deviation:.3g} (scale {magnitude:.3g})",
        span=span,
        hint="each copy may only see its own block of the parameters and the input; a term "
        "such as sum(theta), dot(theta, theta) or theta[0] reaches across blocks",
    )


# ---- checks ---------------------------------------------------------------------------------


def _check_blockwise(spec: ast.Spec, problem: Problem, copies: int) -> None:
    for statement in spec.statements:
        if isinstance(statement, ast.ParamDecl) and len(statement.shape) != 1:
            kind = "a scalar" if not statement.shape else f"a {len(statement.shape)}-D array"
            raise FamilyError(
                f"parameter {statement.name!r} is {kind}; a family replicates parameter vectors "
                f"blockwise, one block per copy, and {kind} would be shared across copies",
                span=statement.span,
                hint=_HINT,
            )
        if isinstance(statement, ast.InputDecl) and len(statement.shape) != 1:
            kind = "a scalar" if not statement.shape else f"a {len(statement.shape)}-D array"
            raise FamilyError(
                f"input {statement.name!r} is {kind}; a family places each copy's features in "
                "its own block of an input vector",
                span=statement.span,
                hint=_HINT,
            )
    entries = problem.n_samples * copies * problem.input_size * copies
    if entries > MAX_REPLICATED_ENTRIES:
        raise FamilyError(
            f"{copies} copies hold {problem.n_samples * copies} samples of "
            f"{problem.input_size * copies} features, {entries:,} numbers written inline; "
            f"the family is built up to {MAX_REPLICATED_ENTRIES:,}",
            span=problem.data_span,
            hint=f"use fewer copies; {_HINT}",
        )


# ---- construction ---------------------------------------------------------------------------


def _replicated(statement: ast.Statement, problem: Problem, copies: int) -> ast.Statement:
    match statement:
        case ast.ParamDecl(name=name, shape=(size,)):
            block = next(p for p in problem.parameters if p.name == name)
            values = problem.theta0[block.offset : block.offset + block.size]
            return ast.ParamDecl(
                name=name, shape=(size * copies,), init=_literal(np.tile(values, copies))
            )
        case ast.InputDecl(name=name, shape=(size,)):
            return ast.InputDecl(name=name, shape=(size * copies,))
        case ast.DataDecl():
            return ast.DataDecl(source=ast.InlineData(samples=_samples(problem, copies)))
        case ast.TrainSection(settings=settings):
            lr = float(Decimal(repr(problem.train.lr)) * copies)
            return ast.TrainSection(
                settings=tuple(
                    ast.Setting(name="lr", value=ast.Number(value=lr)) if s.name == "lr" else s
                    for s in settings
                )
            )
        case ast.CompileSection(settings=settings):
            kept = tuple(s for s in settings if s.name != "precision")
            return ast.CompileSection(settings=(*kept, _precision(problem, copies)))
    return statement


def _precision(problem: Problem, copies: int) -> ast.Setting:
    r"""The original's precision times $\sqrt r$: $r$ equal, independent copies add their errors
    in quadrature, so each copy keeps the original's accuracy."""
    precision = min(0.5, problem.options.precision * math.sqrt(copies))
    return ast.Setting(name="precision", value=ast.Number(value=precision))


def _samples(problem: Problem, copies: int) -> tuple[ast.Sample, ...]:
    d, samples = problem.input_size, problem.n_samples
    features = np.reshape(problem.inputs, (samples, d))
    labels = tuple(_literal(label) for label in problem.labels)
    rows: list[ast.Sample] = []
    for c in range(copies):
        row = np.zeros(d * copies)
        for m in range(samples):
            row[c * d : (c + 1) * d] = features[m]
            rows.append(ast.Sample(input=_literal(row), label=labels[m]))
    return tuple(rows)


def _literal(value: NDArray[np.float64]) -> ast.Expr:
    """An array as a ``.qrt`` literal that folds back to the same float64 values."""
    if value.ndim:
        return ast.ArrayLiteral(items=tuple(_literal(item) for item in value))
    number = float(value)
    if number == 0:
        return ast.Number(value=0)  # also -0.0: the literal grammar has no signed zero
    if number < 0:
        return ast.Negate(operand=ast.Number(value=-number))
    return ast.Number(value=number)


def _replica_file(file: str, copies: int) -> str:
    path = PurePath(file)
    if path.suffix == ".qrt":
        return str(path.with_name(f"{path.stem}_x{copies}.qrt"))
    return f"{file}_x{copies}"


def _definition_span(spec: ast.Spec, kind: str) -> SourceSpan | None:
    for statement in spec.statements:
        if isinstance(statement, ast.Definition) and statement.kind == kind:
            return statement.span
    return None


def _original_span(spec: ast.Spec, replica: ast.Spec, span: SourceSpan | None) -> SourceSpan | None:
    """The original statement that became the replica's statement holding ``span``."""
    if span is None:
        return None
    for index, statement in enumerate(replica.statements):
        where = statement.span
        if where is not None and where.line <= span.line <= where.end_line:
            return spec.statements[index].span
    return None


def _copy_positions(original: Problem, replica: Problem, copies: int) -> NDArray[np.intp]:
    """``positions[c, i]``: where entry ``i`` of copy ``c``'s $\\theta$ sits in the replica's."""
    positions = np.empty((copies, original.n_params), dtype=np.intp)
    for block in original.parameters:
        wide = next(p for p in replica.parameters if p.name == block.name)
        assert wide.size == block.size * copies
        for c in range(copies):
            start = wide.offset + c * block.size
            positions[c, block.offset : block.offset + block.size] = np.arange(
                start, start + block.size
            )
    return positions
