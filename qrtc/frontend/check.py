"""Spec to Problem: names, shapes, ranges, polynomial-ness and data, every error collected.

:func:`check` never stops at the first mistake: it reports every error it can find that is not
a consequence of another one, as one :class:`~qrtc.errors.SpecErrors` sorted by position.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qrtc.errors import QrtError, SourceSpan, SpecError, SpecErrors
from qrtc.frontend.constants import NotConstant, describe_shape, fold, fold_integer
from qrtc.frontend.data import load_data
from qrtc.frontend.lower_expressions import ExpressionLowering, suggest
from qrtc.ir import expr
from qrtc.ir import spec as ast
from qrtc.ir.problem import AttackConfig, CompileOptions, ParameterBlock, Problem, TrainConfig

__all__ = ["MAX_ENTRIES", "check"]

MAX_ENTRIES = 10**8
"""Most entries in one declared array or data set: the reference and the passes hold every one
in memory (10^8 float64 values are 0.8 GB)."""

_REQUIRED = {
    "param": "param theta[2] = zeros",
    "input": "input x[2]",
    "label": "label y",
    "data": "data = inline { [0.5, -0.3] -> 0.2; [0.1, 0.4] -> -0.1 }",
    "predict": "predict f = dot(theta, x)",
    "loss": "loss l = 0.5 * (f - y)^2",
    "attack": "attack pgd { norm = linf; radius = 0.05; step = 0.02; steps = 2 }",
    "train": "train { lr = 0.1; horizon = 3 }",
}


def check(spec: ast.Spec) -> Problem:
    """Check ``spec`` and lower it to a :class:`~qrtc.ir.problem.Problem`.

    Data files are read relative to the directory of ``spec.file``.

    Raises:
        SpecErrors: every error found, sorted by position.
    """
    checker = _Checker(spec)
    problem = checker.run()
    if checker.errors:
        raise SpecErrors(checker.errors)
    assert problem is not None
    return problem


@dataclass
class _Statements:
    params: list[ast.ParamDecl]
    inputs: list[ast.InputDecl]
    labels: list[ast.LabelDecl]
    data: list[ast.DataDecl]
    definitions: list[ast.Definition]
    attacks: list[ast.AttackSection]
    trains: list[ast.TrainSection]
    compiles: list[ast.CompileSection]


class _Checker:
    def __init__(self, spec: ast.Spec) -> None:
        self.spec = spec
        self.errors: list[QrtError] = []

    def error(self, message: str, span: SourceSpan | None, hint: str | None = None) -> None:
        self.errors.append(SpecError(message, span=span, hint=hint, file=self.spec.file))

    def run(self) -> Problem | None:
        statements = self._group()
        self._check_required(statements)
        self._check_unique_names(statements)
        parameters, theta0 = self._parameters(statements.params)
        input_decl = statements.inputs[0] if statements.inputs else None
        label_decl = statements.labels[0] if statements.labels else None
        symbols: dict[str, expr.Node | None] = {
            block.name: expr.Parameter(
                name=block.name, shape=block.shape, offset=block.offset, span=block.span
            )
            for block in parameters
        }
        for decl in statements.params:
            symbols.setdefault(decl.name, None)  # declared, but its shape was wrong
        input_shape = self._shape(input_decl) if input_decl else None
        label_shape = self._shape(label_decl) if label_decl else None
        if input_decl is not None:
            symbols[input_decl.name] = (
                expr.Input(name=input_decl.name, shape=input_shape, span=input_decl.span)
                if input_shape is not None
                else None
            )
        if label_decl is not None:
            symbols[label_decl.name] = (
                expr.Label(name=label_decl.name, shape=label_shape, span=label_decl.span)
                if label_shape is not None
                else None
            )
        definitions = self._definitions(statements.definitions, symbols)
        dataset = None
        if statements.data and input_shape is not None and label_shape is not None:
            assert label_decl is not None
            try:
                dataset = load_data(
                    statements.data[0],
                    input_shape=input_shape,
                    label_shape=label_shape,
                    label_name=label_decl.name,
                    spec_dir=Path(self.spec.file).parent,
                )
            except SpecError as error:
                self.errors.append(error)
        attack = self._attack(statements.attacks[0]) if statements.attacks else None
        train = self._train(statements.trains[0]) if statements.trains else None
        options = self._compile(statements.compiles[0]) if statements.compiles else CompileOptions()
        prediction = self._prediction(statements.definitions, definitions, label_decl)
        loss = self._loss(statements.definitions, definitions)
        if self.errors:
            return None
        assert input_decl and label_decl and input_shape is not None and label_shape is not None
        assert dataset and attack and train and options and prediction and loss
        return Problem(
            parameters=tuple(parameters),
            theta0=theta0,
            input_name=input_decl.name,
            input_shape=input_shape,
            label_name=label_decl.name,
            label_shape=label_shape,
            inputs=dataset.inputs,
            labels=dataset.labels,
            prediction=prediction[1],
            loss=loss[1],
            prediction_name=prediction[0],
            loss_name=loss[0],
            attack=attack,
            train=train,
            options=options,
            file=self.spec.file,
            data_span=statements.data[0].span,
        )

    # ---- structure ------------------------------------------------------------------------

    def _group(self) -> _Statements:
        grouped = _Statements([], [], [], [], [], [], [], [])
        for statement in self.spec.statements:
            match statement:
                case ast.ParamDecl():
                    grouped.params.append(statement)
                case ast.InputDecl():
                    grouped.inputs.append(statement)
                case ast.LabelDecl():
                    grouped.labels.append(statement)
                case ast.DataDecl():
                    grouped.data.append(statement)
                case ast.Definition():
                    grouped.definitions.append(statement)
                case ast.AttackSection():
                    grouped.attacks.append(statement)
                case ast.TrainSection():
                    grouped.trains.append(statement)
                case ast.CompileSection():
                    grouped.compiles.append(statement)
        singles: list[tuple[str, list[Any]]] = [
            ("input", grouped.inputs),
            ("label", grouped.labels),
            ("data", grouped.data),
            ("attack", grouped.attacks),
            ("train", grouped.trains),
            ("compile", grouped.compiles),
            ("predict", [d for d in grouped.definitions if d.kind == "predict"]),
            ("loss", [d for d in grouped.definitions if d.kind == "loss"]),
        ]
        for keyword, found in singles:
            for duplicate in found[1:]:
                first = found[0].span
                where = f" (the first is on line {first.line})" if first else ""
                hint = None
                if keyword == "input":
                    hint = (
                        "one example's features are one input; declare it with a shape, "
                        "e.g. input x[3]"
                    )
                self.error(f"a spec has one '{keyword}'{where}", duplicate.span, hint)
        return grouped

    def _check_required(self, statements: _Statements) -> None:
        present = {
            "param": statements.params,
            "input": statements.inputs,
            "label": statements.labels,
            "data": statements.data,
            "predict": [d for d in statements.definitions if d.kind == "predict"],
            "loss": [d for d in statements.definitions if d.kind == "loss"],
            "attack": statements.attacks,
            "train": statements.trains,
        }
        missing = [keyword for keyword, found in present.items() if not found]
        if not missing:
            return
        span = _end_span(self.spec)
        if not self.spec.statements:
            self.error(
                "the spec is empty",
                span,
                "a spec declares: " + ", ".join(_REQUIRED) + "; see examples/ for complete specs",
            )
            return
        for keyword in missing:
            self.error(
                f"the spec has no '{keyword}' declaration",
                span,
                f"add one, for example: {_REQUIRED[keyword]}",
            )

    def _check_unique_names(self, statements: _Statements) -> None:
        seen: dict[str, SourceSpan | None] = {}
        declarations: list[ast.ParamDecl | ast.InputDecl | ast.LabelDecl] = [
            *statements.params,
            *statements.inputs,
            *statements.labels,
        ]
        named = [(decl.name, decl.name_span) for decl in declarations]
        named += [(d.name, d.name_span) for d in statements.definitions]
        for name, span in named:
            if name in seen:
                first = seen[name]
                where = f" on line {first.line}" if first else ""
                self.error(f"{name!r} is already declared{where}", span)
            else:
                seen[name] = span

    # ---- declarations ---------------------------------------------------------------------

    def _shape(self, decl: ast.ParamDecl | ast.InputDecl | ast.LabelDecl) -> tuple[int, ...] | None:
        for dim in decl.shape:
            if dim < 1:
                self.error(
                    f"a shape dimension must be a positive integer, not {dim}",
                    decl.span,
                )
                return None
        size = math.prod(decl.shape)
        if size > MAX_ENTRIES:
            self.error(
                f"{decl.name!r} has {size:.3g} entries; qrtc holds at most {MAX_ENTRIES:.0e} "
                "entries per declaration in memory",
                decl.span,
                "larger models are for analytic resource estimates, not for compiling",
            )
            return None
        return decl.shape

    def _parameters(
        self, decls: list[ast.ParamDecl]
    ) -> tuple[list[ParameterBlock], NDArray[np.float64]]:
        blocks: list[ParameterBlock] = []
        values: list[NDArray[np.float64]] = []
        offset = 0
        names: set[str] = set()
        for decl in decls:
            shape = self._shape(decl)
            if shape is None or decl.name in names:
                continue
            names.add(decl.name)
            value = self._initial_value(decl, shape)
            blocks.append(
                ParameterBlock(name=decl.name, shape=shape, offset=offset, span=decl.name_span)
            )
            values.append(value.reshape(-1) if value is not None else np.zeros(int(np.prod(shape))))
            offset += blocks[-1].size
        theta0 = np.concatenate(values) if values else np.zeros(0)
        return blocks, theta0

    def _initial_value(
        self, decl: ast.ParamDecl, shape: tuple[int, ...]
    ) -> NDArray[np.float64] | None:
        init = decl.init
        usage = (
            "an initial value is zeros, ones, a number, an array literal or "
            "random(seed = 0, scale = 0.1)"
        )
        if init is None or (isinstance(init, ast.Name) and init.id == "zeros"):
            return np.zeros(shape)
        if isinstance(init, ast.Name) and init.id == "ones":
            return np.ones(shape)
        if isinstance(init, ast.Call) and init.func == "random":
            return self._random_init(init, shape)
        try:
            value = fold(init)
        except NotConstant as error:
            self.error(
                f"the initial value of {decl.name!r} must be a constant", error.node.span, usage
            )
            return None
        except SpecError as error:
            self.errors.append(error)
            return None
        if value.shape == ():
            return np.full(shape, float(value))
        if value.shape != shape:
            self.error(
                f"the initial value of {decl.name!r} has {describe_shape(value.shape)}, but "
                f"{decl.name!r} is declared with {describe_shape(shape)}",
                init.span,
            )
            return None
        return value

    def _random_init(self, call: ast.Call, shape: tuple[int, ...]) -> NDArray[np.float64] | None:
        seed, scale = 0, 1.0
        if call.args:
            self.error(
                "random(...) takes keyword arguments only: random(seed = 0, scale = 0.1)",
                call.args[0].span,
            )
            return None
        for keyword in call.keywords:
            try:
                if keyword.name == "seed":
                    seed = fold_integer(keyword.value, "the seed")
                    if seed < 0:
                        raise SpecError("the seed must be non-negative", span=keyword.value.span)
                elif keyword.name == "scale":
                    value = fold(keyword.value)
                    if value.shape != () or float(value) <= 0:
                        raise SpecError(
                            "the scale must be a positive number", span=keyword.value.span
                        )
                    scale = float(value)
                else:
                    raise SpecError(
                        f"random(...) has no argument {keyword.name!r}",
                        span=keyword.span,
                        hint=suggest(keyword.name, ("seed", "scale"))
                        or "random(seed = 0, scale = 0.1)",
                    )
            except NotConstant as error:
                self.error(f"'{keyword.name}' must be a constant", error.node.span)
                return None
            except SpecError as error:
                self.errors.append(error)
                return None
        return np.random.default_rng(seed).normal(0.0, scale, size=shape)

    # ---- definitions ----------------------------------------------------------------------

    def _definitions(
        self, definitions: list[ast.Definition], symbols: dict[str, expr.Node | None]
    ) -> dict[str, expr.Node | None]:
        """Lower every definition in dependency order (any source order is allowed)."""
        by_name: dict[str, ast.Definition] = {}
        for definition in definitions:
            by_name.setdefault(definition.name, definition)
        for name in by_name:
            symbols.setdefault(name, None)
        order, cyclic = _dependency_order(by_name)
        for name in cyclic:
            definition = by_name[name]
            self.error(
                f"{name!r} is defined in terms of itself",
                definition.name_span,
                "definitions may use each other in any order, but not in a cycle",
            )
        lowering = ExpressionLowering(symbols, self.errors)
        for name in order:
            symbols[name] = lowering.lower(by_name[name].expr)
        return symbols

    def _prediction(
        self,
        definitions: list[ast.Definition],
        lowered: dict[str, expr.Node | None],
        label_decl: ast.LabelDecl | None,
    ) -> tuple[str, expr.Node] | None:
        found = [d for d in definitions if d.kind == "predict"]
        if not found or lowered.get(found[0].name) is None:
            return None
        definition = found[0]
        node = lowered[definition.name]
        assert node is not None
        if any(isinstance(part, expr.Label) for part in expr.postorder(node)):
            label = label_decl.name if label_decl else "the label"
            self.error(
                f"the prediction {definition.name!r} depends on the label {label!r}",
                definition.expr.span,
                "a model predicts from its parameters and input; use the label in the loss",
            )
            return None
        return definition.name, node

    def _loss(
        self, definitions: list[ast.Definition], lowered: dict[str, expr.Node | None]
    ) -> tuple[str, expr.Node] | None:
        found = [d for d in definitions if d.kind == "loss"]
        if not found or lowered.get(found[0].name) is None:
            return None
        definition = found[0]
        node = lowered[definition.name]
        assert node is not None
        if node.shape != ():
            self.error(
                f"the loss must be a scalar, but {definition.name!r} has "
                f"{describe_shape(node.shape)}",
                definition.expr.span,
                "reduce it with sum(...) or mean(...)",
            )
            return None
        return definition.name, node

    # ---- sections -------------------------------------------------------------------------

    def _settings(
        self,
        section: ast.Section,
        title: str,
        schema: dict[str, Callable[[ast.Expr], Any]],
        required: tuple[str, ...],
    ) -> dict[str, Any] | None:
        values: dict[str, Any] = {}
        ok = True
        for setting in section.settings:
            if setting.name in values:
                self.error(f"{setting.name!r} is set twice in the {title}", setting.span)
                ok = False
                continue
            if setting.name not in schema:
                self.error(
                    f"unknown setting {setting.name!r} in the {title}",
                    setting.span,
                    suggest(setting.name, schema) or "settings: " + ", ".join(schema),
                )
                ok = False
                continue
            try:
                values[setting.name] = schema[setting.name](setting.value)
            except SpecError as error:
                message = error.message
                if message.startswith("must "):
                    message = f"{setting.name} {message}"
                self.error(message, error.span, error.hint)
                ok = False
        for name in required:
            if name not in values and not any(s.name == name for s in section.settings):
                self.error(
                    f"the {title} needs '{name}'",
                    _first_line(section.span),
                    f"add '{name} = ...' inside the braces",
                )
                ok = False
        return values if ok else None

    def _attack(self, section: ast.AttackSection) -> AttackConfig | None:
        if section.method != "pgd":
            hint = "qrtc compiles projected-gradient attacks: attack pgd { ... }"
            if section.method.lower() == "fgsm":
                hint = "FGSM is PGD with one step: attack pgd { steps = 1; grad = sign; ... }"
            self.error(f"unknown attack {section.method!r}", section.method_span, hint)
        schema: dict[str, Callable[[ast.Expr], Any]] = {
            "norm": _choice("linf", "l2"),
            "radius": _positive,
            "step": _positive,
            "steps": _integer_at_least(1),
            "start": _choice("warm", "zero"),
            "grad": _choice("plain", "sign"),
            "support": _choice("all", "data"),
        }
        values = self._settings(section, "attack section", schema, ("radius",))
        if values is None or section.method != "pgd":
            return None
        steps = values.get("steps", 1)
        return AttackConfig(
            norm=values.get("norm", "linf"),
            radius=values["radius"],
            # Madry et al.'s rule of thumb: 2.5 radius / steps reaches the boundary from anywhere.
            step=values.get("step", 2.5 * values["radius"] / steps),
            steps=steps,
            start=values.get("start", "warm"),
            grad=values.get("grad", "plain"),
            support=values.get("support", "all"),
            span=section.span,
        )

    def _train(self, section: ast.TrainSection) -> TrainConfig | None:
        schema = {"lr": _positive, "horizon": _integer_at_least(1)}
        values = self._settings(section, "train section", schema, ("lr", "horizon"))
        if values is None:
            return None
        return TrainConfig(lr=values["lr"], horizon=values["horizon"], span=section.span)

    def _compile(self, section: ast.CompileSection) -> CompileOptions:
        schema = {
            "carleman_order": _auto(_integer_at_least(1)),
            "scale": _auto(_positive),
            "padding": _auto(_integer_at_least(0)),
            "precision": _open_unit_interval,
        }
        values = self._settings(section, "compile section", schema, ()) or {}
        return CompileOptions(
            carleman_order=values.get("carleman_order"),
            scale=values.get("scale"),
            padding=values.get("padding"),
            precision=values.get("precision", 1e-3),
            span=section.span,
        )


def _names_used(node: ast.Expr) -> set[str]:
    """Every name an expression refers to (not function names), without recursion."""
    names: set[str] = set()
    stack: list[ast.Expr] = [node]
    while stack:
        match stack.pop():
            case ast.Name(id=name):
                names.add(name)
            case ast.Negate(operand=operand):
                stack.append(operand)
            case ast.BinaryOp(left=left, right=right):
                stack += [left, right]
            case ast.ArrayLiteral(items=items):
                stack += items
            case ast.Index(base=base, indices=indices):
                stack += [base, *indices]
            case ast.Call(args=args, keywords=keywords):
                stack += [*args, *(keyword.value for keyword in keywords)]
    return names


def _dependency_order(by_name: dict[str, ast.Definition]) -> tuple[list[str], list[str]]:
    """Kahn's topological order of the definitions, and the names on or behind a cycle."""
    uses = {name: _names_used(d.expr) & by_name.keys() for name, d in by_name.items()}
    users: dict[str, list[str]] = {name: [] for name in by_name}
    pending = {name: len(used) for name, used in uses.items()}
    for name, used in uses.items():
        for dependency in used:
            users[dependency].append(name)
    ready = [name for name, count in pending.items() if count == 0]
    order: list[str] = []
    while ready:
        name = ready.pop()
        order.append(name)
        for user in users[name]:
            pending[user] -= 1
            if pending[user] == 0:
                ready.append(user)
    cyclic = [name for name in by_name if pending[name] > 0 and _reaches_itself(name, uses)]
    return order, cyclic


def _reaches_itself(start: str, uses: dict[str, set[str]]) -> bool:
    """Whether ``start`` is on a cycle of ``uses`` (names behind a cycle are not)."""
    stack, seen = list(uses[start]), set()
    while stack:
        name = stack.pop()
        if name == start:
            return True
        if name not in seen:
            seen.add(name)
            stack += uses[name]
    return False


# ---- setting validators -------------------------------------------------------------------------


def _number(node: ast.Expr) -> float:
    try:
        value = fold(node)
    except NotConstant:
        raise SpecError("must be a number", span=node.span) from None
    if value.shape != ():
        raise SpecError(
            f"must be a number, not an array of {describe_shape(value.shape)}", span=node.span
        )
    return float(value)


def _show(value: float) -> str:
    return repr(int(value)) if value.is_integer() else repr(value)


def _positive(node: ast.Expr) -> float:
    value = _number(node)
    if value <= 0:
        raise SpecError(f"must be a positive number, not {_show(value)}", span=node.span)
    return value


def _open_unit_interval(node: ast.Expr) -> float:
    value = _number(node)
    if not 0 < value < 1:
        raise SpecError(f"must be between 0 and 1 (exclusive), not {_show(value)}", span=node.span)
    return value


def _integer_at_least(minimum: int) -> Callable[[ast.Expr], int]:
    def validate(node: ast.Expr) -> int:
        value = _number(node)
        if not value.is_integer() or value < minimum:
            raise SpecError(
                f"must be an integer of at least {minimum}, not {_show(value)}", span=node.span
            )
        return int(value)

    return validate


def _choice(*choices: str) -> Callable[[ast.Expr], str]:
    def validate(node: ast.Expr) -> str:
        shown = ", ".join(choices)
        if not isinstance(node, ast.Name):
            raise SpecError(f"must be one of {shown}", span=node.span)
        if node.id not in choices:
            raise SpecError(
                f"must be one of {shown}, not {node.id!r}",
                span=node.span,
                hint=suggest(node.id, choices),
            )
        return node.id

    return validate


def _auto(inner: Callable[[ast.Expr], Any]) -> Callable[[ast.Expr], Any]:
    def validate(node: ast.Expr) -> Any:
        if isinstance(node, ast.Name) and node.id == "auto":
            return None
        if isinstance(node, ast.Name):
            raise SpecError(f"must be 'auto' or a number, not {node.id!r}", span=node.span)
        return inner(node)

    return validate


# ---- spans ----------------------------------------------------------------------------------


def _end_span(spec: ast.Spec) -> SourceSpan:
    lines = spec.text.rstrip().split("\n")
    line, column = len(lines), len(lines[-1]) + 1
    return SourceSpan(spec.file, line, column, line, column + 1, spec.text)


def _first_line(span: SourceSpan | None) -> SourceSpan | None:
    if span is None or span.text is None:
        return span
    lines = span.text.split("\n")
    line_text = lines[span.line - 1] if span.line <= len(lines) else ""
    return SourceSpan(span.file, span.line, span.column, span.line, len(line_text) + 1, span.text)
