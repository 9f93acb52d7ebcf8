r"""Stage 1 IR: a checked spec reduced to numbers and typed expressions.

A :class:`Problem` is PGD robust training as in paper.md §1 (Madry et al. min-max form):

$$\min_\theta \frac1M \sum_{i=1}^M \max_{\delta_i \in \mathcal B_\epsilon}
\ell\big(f(\theta; x_i + \delta_i), y_i\big)$$

with the attacker inner loop (paper.md §1.2), for outer step $t = 0..T-1$, attack step
$k = 0..K-1$,

$$\delta_{i,t}^{(k+1)} = \Pi_{\mathcal B_\epsilon}\big(\delta_{i,t}^{(k)}
 + \alpha\,\sigma(\nabla_\delta L_i(\theta_t, \delta_{i,t}^{(k)}))\big),$$

$\sigma \in \{\mathrm{id}, \mathrm{sign}\}$, and the learner update (paper.md §1.3)

$$\theta_{t+1} = \theta_t - \frac{\eta}{M}\sum_i \nabla_\theta L_i(\theta_t, \delta_{i,t}^{(K)}).$$

With ``support = data`` the threat set of sample $i$ is $\mathcal B_\epsilon \cap
\{\delta : \delta_j = 0 \text{ where } x_{i,j} = 0\}$, whose projection is $\Pi_{\mathcal
B_\epsilon}(m_i \odot v)$ for the support mask $m_i$ (projecting onto either ball keeps a zero
coordinate zero).
Warm start carries $\delta^{(0)}_{t+1} = \delta^{(K)}_t$; zero start resets it to 0. The state is
$z = (\theta, \delta_1, \dots, \delta_M) \in \mathbb{R}^{d_z}$, $d_z = n + M d$, and one outer step
is $K$ attack sub-steps and one learner sub-step, $S = T(K+1)$ sub-steps in all (paper.md §1.4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from qrtc.errors import SourceSpan
from qrtc.ir import _text, expr
from qrtc.ir.expr import freeze_array

__all__ = ["AttackConfig", "CompileOptions", "ParameterBlock", "Problem", "TrainConfig"]


def _span() -> SourceSpan | None:
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class AttackConfig:
    r"""PGD attack: threat set $\mathcal B_\epsilon$, step $\alpha$, $K$ steps, start, $\sigma$.

    Attributes:
        norm: ``"linf"`` (box, clip each coordinate) or ``"l2"`` (ball, rescale).
        radius: $\epsilon > 0$, in input units.
        step: $\alpha > 0$, in input units per attack step.
        steps: $K \ge 1$ attack steps per parameter update.
        start: ``"warm"`` carries $\delta$ across outer steps; ``"zero"`` resets it to 0.
        grad: ``"plain"`` ($\sigma = \mathrm{id}$) or ``"sign"`` ($\sigma = \mathrm{sign}$).
        support: ``"all"`` perturbs every feature; ``"data"`` only each sample's non-zero ones
            (a sparse threat model: the attacker edits features present in the example).
    """

    norm: Literal["linf", "l2"] = "linf"
    radius: float
    step: float
    steps: int
    start: Literal["warm", "zero"] = "warm"
    grad: Literal["plain", "sign"] = "plain"
    support: Literal["all", "data"] = "all"
    span: SourceSpan | None = _span()

    def __post_init__(self) -> None:
        assert self.radius > 0 and self.step > 0 and self.steps >= 1, self


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainConfig:
    r"""Learner: step size $\eta > 0$ (``lr``) and horizon $T \ge 1$ parameter updates."""

    lr: float
    horizon: int
    span: SourceSpan | None = _span()

    def __post_init__(self) -> None:
        assert self.lr > 0 and self.horizon >= 1, self


@dataclass(frozen=True, slots=True, kw_only=True)
class CompileOptions:
    r"""Options of the lowering passes; ``None`` means ``auto``.

    Attributes:
        carleman_order: truncation order $N \ge 1$ (paper.md §3.2).
        scale: rescaling $\gamma > 0$ of the lifted state (paper.md §3.2).
        padding: number $p \ge 0$ of idling blocks after the last sub-step (paper.md §4.1).
        precision: target error $\varepsilon \in (0, 1)$ of the read-out.
    """

    carleman_order: int | None = None
    scale: float | None = None
    padding: int | None = None
    precision: float = 1e-3
    span: SourceSpan | None = _span()

    def __post_init__(self) -> None:
        assert 0 < self.precision < 1, self


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ParameterBlock:
    """One declared parameter and where it sits in the flat $\\theta$."""

    name: str
    shape: tuple[int, ...]
    offset: int
    span: SourceSpan | None = _span()

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Problem:
    r"""A checked spec: data, initial parameters, typed model and loss, attack and training.

    Attributes:
        parameters: the declared parameters in declaration order; their row-major flattenings,
            concatenated, form $\theta \in \mathbb{R}^n$.
        theta0: $\theta_0$, shape ``(n,)``.
        input_name, input_shape: the feature declaration; $d = \prod$ ``input_shape``.
        label_name, label_shape: the label declaration.
        inputs: $x_i$, shape ``(M, *input_shape)``, finite.
        labels: $y_i$, shape ``(M, *label_shape)``, finite.
        prediction: $f(\theta; x)$ for one example, shape ``prediction.shape``.
        loss: $\ell(f(\theta; x), y)$ for one example, a scalar node.
        prediction_name, loss_name: the names the spec gave them.
        attack, train, options: the three sections, defaults filled in.
        file: the spec's path, for messages.
    """

    parameters: tuple[ParameterBlock, ...]
    theta0: NDArray[np.float64]
    input_name: str
    input_shape: tuple[int, ...]
    label_name: str
    label_shape: tuple[int, ...]
    inputs: NDArray[np.float64]
    labels: NDArray[np.float64]
    prediction: expr.Node
    loss: expr.Node
    prediction_name: str
    loss_name: str
    attack: AttackConfig
    train: TrainConfig
    options: CompileOptions
    file: str = "<spec>"
    data_span: SourceSpan | None = _span()

    def __post_init__(self) -> None:
        object.__setattr__(self, "theta0", freeze_array(self.theta0))
        object.__setattr__(self, "inputs", freeze_array(self.inputs))
        object.__setattr__(self, "labels", freeze_array(self.labels))
        assert self.theta0.shape == (sum(p.size for p in self.parameters),)
        assert self.inputs.shape[1:] == self.input_shape
        assert self.labels.shape == (self.inputs.shape[0], *self.label_shape)
        assert self.loss.shape == ()

    @property
    def n_params(self) -> int:
        """$n$, the length of $\\theta$."""
        return int(self.theta0.shape[0])

    @property
    def input_size(self) -> int:
        """$d$, the length of one flattened $x_i$ (and $\\delta_i$)."""
        return int(np.prod(self.input_shape, dtype=np.int64))

    @property
    def n_samples(self) -> int:
        """$M$, the number of training examples."""
        return int(self.inputs.shape[0])

    @property
    def state_size(self) -> int:
        """$d_z = n + M d$."""
        return self.n_params + self.n_samples * self.input_size

    @property
    def perturbable(self) -> NDArray[np.bool_] | None:
        r"""The support mask $m_i$ of each $\delta_i$, shape ``(M, d)``; ``None`` for
        ``support = all`` (every feature)."""
        if self.attack.support == "all":
            return None
        return np.reshape(self.inputs != 0, (self.n_samples, self.input_size))

    @property
    def n_substeps(self) -> int:
        """$S = T (K + 1)$."""
        return self.train.horizon * (self.attack.steps + 1)

    # -- checks and text ------------------------------------------------------------------------

    def verify(self) -> None:
        r"""Check the invariants too costly for ``__post_init__``.

        The parameter blocks tile $\theta$ in declaration order; $\theta_0$, the data and
        every constant are finite; the settings are finite and in range; and every node of
        ``prediction`` and ``loss`` is consistent: parameters, input and label nodes match the
        declarations, and each node's shape follows from its operands' (:mod:`qrtc.ir.expr`).
        """
        assert self.parameters, "a problem has at least one parameter"
        names = [block.name for block in self.parameters]
        assert len(set(names)) == len(names), f"parameter names repeat: {names}"
        offset = 0
        for block in self.parameters:
            assert all(d >= 1 for d in block.shape), f"{block.name}: shape {block.shape}"
            assert block.offset == offset, (
                f"parameter {block.name!r} starts at {block.offset}, not {offset}"
            )
            offset += block.size
        assert all(d >= 1 for d in self.input_shape), f"input shape {self.input_shape}"
        assert all(d >= 1 for d in self.label_shape), f"label shape {self.label_shape}"
        assert self.n_samples >= 1, "no training samples"
        for name in ("theta0", "inputs", "labels"):
            assert np.all(np.isfinite(getattr(self, name))), f"{name} is not finite"
        attack, train, options = self.attack, self.train, self.options
        assert attack.norm in ("linf", "l2") and attack.grad in ("plain", "sign"), attack
        assert attack.start in ("warm", "zero") and attack.support in ("all", "data"), attack
        assert math.isfinite(attack.radius) and math.isfinite(attack.step), attack
        assert math.isfinite(train.lr), train
        assert options.carleman_order is None or options.carleman_order >= 1, options
        assert options.scale is None or (options.scale > 0 and math.isfinite(options.scale))
        assert options.padding is None or options.padding >= 0, options
        blocks = {block.name: block for block in self.parameters}
        for root in (self.prediction, self.loss):
            for node in expr.postorder(root):
                self._verify_node(node, blocks)

    def _verify_node(self, node: expr.Node, blocks: dict[str, ParameterBlock]) -> None:
        shapes = [c.shape for c in expr.children(node)]
        scalar_or_equal = len(shapes) == 2 and (
            shapes[0] == shapes[1]
            and node.shape == shapes[0]
            or shapes[0] == ()
            and node.shape == shapes[1]
            or shapes[1] == ()
            and node.shape == shapes[0]
        )
        match node:
            case expr.Parameter():
                block = blocks.get(node.name)
                assert block is not None, f"undeclared parameter {node.name!r}"
                assert (node.offset, node.shape) == (block.offset, block.shape), (
                    f"parameter node {node.name!r} does not match its declaration"
                )
                ok = True
            case expr.Input():
                ok = (node.name, node.shape) == (self.input_name, self.input_shape)
            case expr.Label():
                ok = (node.name, node.shape) == (self.label_name, self.label_shape)
            case expr.Constant():
                ok = bool(np.all(np.isfinite(node.value)))
            case expr.Add() | expr.Sub() | expr.Mul():
                ok = scalar_or_equal
            case expr.Neg():
                ok = node.shape == shapes[0]
            case expr.Power():
                ok = node.exponent >= 0 and node.shape == shapes[0]
            case expr.Dot():
                ok = len(shapes[0]) == 1 and shapes[0] == shapes[1] and node.shape == ()
            case expr.Sum():
                ok = node.shape == ()
            case expr.MatMul():
                ok = _matmul_shape(shapes[0], shapes[1]) == node.shape
            case expr.Transpose():
                ok = len(shapes[0]) == 2 and node.shape == shapes[0][::-1]
            case expr.Index():
                ok = (
                    len(node.indices) <= len(shapes[0])
                    and all(0 <= i < d for i, d in zip(node.indices, shapes[0], strict=False))
                    and node.shape == shapes[0][len(node.indices) :]
                )
            case expr.Stack():
                ok = bool(shapes) and all(s == shapes[0] for s in shapes)
                ok = ok and node.shape == (len(shapes), *shapes[0])
            case expr.Taylor():
                ok = (
                    node.shape == shapes[0]
                    and bool(node.coefficients)
                    and all(math.isfinite(c) for c in (*node.coefficients, node.center))
                )
        assert ok, f"inconsistent {type(node).__name__} node: {node!r}"

    def to_text(self) -> str:
        """A deterministic summary for ``qrtc compile --emit problem``: sizes, data (in full
        when small), the model and loss as formulas, and the three sections."""
        options = self.options
        attack, train = self.attack, self.train

        def auto(value: float | None) -> str:
            return "auto" if value is None else _text.number(value)

        def shape(dims: tuple[int, ...]) -> str:
            return "[" + ", ".join(str(d) for d in dims) + "]"

        parameters = ", ".join(
            f"{block.name}{shape(block.shape)} at {block.offset}" for block in self.parameters
        )
        lines = [
            "problem {",
            f"  file = {PurePath(self.file).name}",
            f"  parameters: {parameters}  (n = {self.n_params})",
            f"  theta0 = {_text.array(self.theta0)}",
            f"  input {self.input_name}{shape(self.input_shape)}  (d = {self.input_size}),"
            f" label {self.label_name}{shape(self.label_shape)}",
            f"  samples M = {self.n_samples}",
            f"  inputs = {_text.array(self.inputs)}",
            f"  labels = {_text.array(self.labels)}",
            f"  predict {self.prediction_name} = {expr.to_text(self.prediction)}",
            f"  loss {self.loss_name} = {expr.to_text(self.loss)}",
            f"  attack: norm = {attack.norm}, radius = {_text.number(attack.radius)},"
            f" step = {_text.number(attack.step)}, steps K = {attack.steps},"
            f" start = {attack.start}, grad = {attack.grad}, support = {attack.support}",
            f"  train: lr = {_text.number(train.lr)}, horizon T = {train.horizon}",
            f"  compile: carleman_order = {auto(options.carleman_order)},"
            f" scale = {auto(options.scale)}, padding = {auto(options.padding)},"
            f" precision = {_text.number(options.precision)}",
            f"  state_size d_z = {self.state_size}, substeps S = {self.n_substeps}",
            "}",
        ]
        return "\n".join(lines) + "\n"


def _matmul_shape(left: tuple[int, ...], right: tuple[int, ...]) -> tuple[int, ...] | None:
    """numpy's rule for 1-D and 2-D operands (None: the shapes do not multiply)."""
    if len(left) == 2 and len(right) == 2 and left[1] == right[0]:
        return (left[0], right[1])
    if len(left) == 2 and len(right) == 1 and left[1] == right[0]:
        return (left[0],)
    if len(left) == 1 and len(right) == 2 and left[0] == right[0]:
        return (right[1],)
    return None
