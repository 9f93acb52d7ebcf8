"""The ``data = ...`` section to arrays: inline samples, CSV, ``.npy`` files, synthetic data.

Files are resolved relative to the directory of the spec. Every failure is a
:class:`~qrtc.errors.SpecError` pointing at the data declaration (or at the argument at fault),
naming the file, row and column where the data itself is wrong.

Synthetic data (``synthetic(n, seed, noise, scale, labels)``): $x_i \\sim \\mathcal N(0,
\\mathrm{scale}^2 I)$ and a linear teacher $y_i = W x_i + \\mathrm{noise}\\cdot\\xi_i$ with
$W_{jk} \\sim \\mathcal N(0, 1/d)$, $\\xi_i \\sim \\mathcal N(0, I)$, all from
``numpy.random.default_rng(seed)``; ``labels = sign`` takes the sign of that instead
(classification labels in $\\{-1, +1\\}$).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from qrtc.errors import SourceSpan, SpecError
from qrtc.frontend.constants import NotConstant, describe_shape, fold, fold_integer
from qrtc.frontend.lower_expressions import suggest
from qrtc.ir import spec as ast

__all__ = ["DATA_SOURCES", "MAX_DATA_ENTRIES", "Dataset", "load_data"]

MAX_DATA_ENTRIES = 10**8
"""Most values a data set may hold; everything is kept in memory."""

DATA_SOURCES = {
    "inline": "inline { [x1, x2] -> y; ... }",
    "csv": 'csv("file.csv", label = "y"), features: the other columns, or features = ["a", "b"]',
    "npy": 'npy("inputs.npy", labels = "labels.npy")',
    "synthetic": "synthetic(n = 16, seed = 0, noise = 0.0, scale = 1.0, labels = linear | sign)",
}


@dataclass(frozen=True, slots=True)
class Dataset:
    """Inputs of shape ``(M, *input_shape)`` and labels of shape ``(M, *label_shape)``."""

    inputs: NDArray[np.float64]
    labels: NDArray[np.float64]


def load_data(
    declaration: ast.DataDecl,
    *,
    input_shape: tuple[int, ...],
    label_shape: tuple[int, ...],
    label_name: str,
    spec_dir: Path,
) -> Dataset:
    """Load and validate the data of ``declaration``; raises SpecError."""
    source = declaration.source
    if isinstance(source, ast.InlineData):
        dataset = _inline(source, input_shape, label_shape)
    else:
        loaders = {"csv": _csv, "npy": _npy, "synthetic": _synthetic}
        if source.func not in loaders:
            raise SpecError(
                f"unknown data source {source.func!r}",
                span=source.func_span,
                hint=suggest(source.func, DATA_SOURCES)
                or "data sources: " + "; ".join(DATA_SOURCES.values()),
            )
        dataset = loaders[source.func](source, input_shape, label_shape, label_name, spec_dir)
    if dataset.inputs.shape[0] == 0:
        raise SpecError("the data has no samples", span=declaration.span)
    return dataset


# ---- inline -----------------------------------------------------------------------------------


def _inline(
    source: ast.InlineData, input_shape: tuple[int, ...], label_shape: tuple[int, ...]
) -> Dataset:
    inputs, labels = [], []
    for number, sample in enumerate(source.samples, start=1):
        inputs.append(_constant(sample.input, input_shape, f"sample {number}'s input", "input"))
        labels.append(_constant(sample.label, label_shape, f"sample {number}'s label", "label"))
    if not inputs:
        raise SpecError("inline data needs at least one sample", span=source.span)
    return Dataset(np.stack(inputs), np.stack(labels))


def _constant(node: ast.Expr, shape: tuple[int, ...], what: str, role: str) -> NDArray[np.float64]:
    try:
        value = fold(node)
    except NotConstant as error:
        raise SpecError(f"{what} must be made of numbers", span=error.node.span) from None
    if value.shape != shape:
        raise SpecError(
            f"{what} has {describe_shape(value.shape)}, but the {role} is declared with "
            f"{describe_shape(shape)}",
            span=node.span,
        )
    return value


# ---- keyword arguments ------------------------------------------------------------------------


def _keywords(call: ast.Call, allowed: dict[str, str]) -> dict[str, ast.Keyword]:
    usage = DATA_SOURCES[call.func]
    found: dict[str, ast.Keyword] = {}
    for keyword in call.keywords:
        if keyword.name not in allowed:
            raise SpecError(
                f"{call.func}(...) has no argument {keyword.name!r}",
                span=keyword.span,
                hint=suggest(keyword.name, allowed) or usage,
            )
        if keyword.name in found:
            raise SpecError(f"argument {keyword.name!r} is given twice", span=keyword.span)
        found[keyword.name] = keyword
    return found


def _string(node: ast.Expr, what: str) -> str:
    if not isinstance(node, ast.String):
        raise SpecError(f"{what} must be a string in double quotes", span=node.span)
    return node.value


def _strings(node: ast.Expr, what: str) -> list[str]:
    if isinstance(node, ast.ArrayLiteral):
        return [_string(item, what) for item in node.items]
    return [_string(node, what)]


def _path_argument(call: ast.Call, spec_dir: Path) -> tuple[Path, SourceSpan | None]:
    if len(call.args) != 1:
        raise SpecError(
            f"{call.func}(...) takes one file name as its positional argument",
            span=call.span,
            hint=DATA_SOURCES[call.func],
        )
    name = _string(call.args[0], "the file name")
    return _resolve(name, spec_dir), call.args[0].span


def _resolve(name: str, spec_dir: Path) -> Path:
    path = Path(name)
    return path if path.is_absolute() else spec_dir / path


def _unreadable(path: Path, error: OSError, span: SourceSpan | None) -> SpecError:
    reason = error.strerror or str(error)
    return SpecError(
        f"cannot read data file '{path}': {reason}",
        span=span,
        hint="data paths are relative to the directory of the spec",
    )


# ---- csv --------------------------------------------------------------------------------------


def _csv(
    call: ast.Call,
    input_shape: tuple[int, ...],
    label_shape: tuple[int, ...],
    label_name: str,
    spec_dir: Path,
) -> Dataset:
    path, path_span = _path_argument(call, spec_dir)
    keywords = _keywords(call, {"label": "label column(s)", "features": "feature columns"})
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except OSError as error:
        raise _unreadable(path, error, path_span) from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise SpecError(f"'{path}' is not a CSV text file: {error}", span=path_span) from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise SpecError(f"'{path}' is empty", span=path_span)
    header = [cell.strip() for cell in rows[0]]
    if "label" in keywords:
        label_columns = _strings(keywords["label"].value, "a label column")
        label_span = keywords["label"].span
    else:
        label_columns = [label_name]
        label_span = call.span
    for column in label_columns:
        if column not in header:
            raise SpecError(
                f"'{path}' has no column {column!r}; its header is {', '.join(header)}",
                span=label_span,
                hint="the first row of the CSV file names the columns; name the label column "
                'with label = "..."',
            )
    if "features" in keywords:
        feature_columns = _strings(keywords["features"].value, "a feature column")
        for column in feature_columns:
            if column not in header:
                raise SpecError(
                    f"'{path}' has no column {column!r}; its header is {', '.join(header)}",
                    span=keywords["features"].span,
                )
    else:
        feature_columns = [column for column in header if column not in label_columns]
    input_size = int(np.prod(input_shape, dtype=np.int64))
    label_size = int(np.prod(label_shape, dtype=np.int64))
    if len(feature_columns) != input_size:
        raise SpecError(
            f"'{path}' has {len(feature_columns)} feature columns, but the input is declared "
            f"with {describe_shape(input_shape)} ({input_size} values)",
            span=call.span,
            hint='choose the columns with features = ["a", "b", ...]',
        )
    if len(label_columns) != label_size:
        raise SpecError(
            f"{len(label_columns)} label columns for a label of {describe_shape(label_shape)}",
            span=label_span,
        )
    table = np.empty((len(rows) - 1, len(header)))
    wanted = [header.index(column) for column in feature_columns + label_columns]
    for row_number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise SpecError(
                f"{path}:{row_number}: row has {len(row)} cells, the header has {len(header)}",
                span=path_span,
            )
        for index in wanted:
            cell = row[index].strip()
            try:
                table[row_number - 2, index] = float(cell)
            except ValueError:
                raise SpecError(
                    f"{path}:{row_number}: column {header[index]!r}: {cell!r} is not a number",
                    span=path_span,
                ) from None
            if not np.isfinite(table[row_number - 2, index]):
                raise SpecError(
                    f"{path}:{row_number}: column {header[index]!r}: {cell!r} is not finite",
                    span=path_span,
                    hint="NaN and infinite values cannot be trained on; remove or fill them",
                )
    features = table[:, [header.index(column) for column in feature_columns]]
    labels = table[:, [header.index(column) for column in label_columns]]
    count = table.shape[0]
    return Dataset(features.reshape(count, *input_shape), labels.reshape(count, *label_shape))


# ---- npy --------------------------------------------------------------------------------------


def _load_npy(path: Path, span: SourceSpan | None) -> NDArray[np.float64]:
    try:
        array = np.load(path, allow_pickle=False)
    except OSError as error:
        raise _unreadable(path, error, span) from None
    except ValueError as error:
        raise SpecError(f"'{path}' is not a .npy array file: {error}", span=span) from None
    if not isinstance(array, np.ndarray):
        raise SpecError(f"'{path}' holds several arrays; use one .npy file each", span=span)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_) or np.iscomplexobj(
        array
    ):
        raise SpecError(f"'{path}' holds {array.dtype} values, not real numbers", span=span)
    values = array.astype(np.float64)
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        raise SpecError(
            f"'{path}' has a non-finite value at index {tuple(int(i) for i in bad[0])}",
            span=span,
            hint="NaN and infinite values cannot be trained on; remove or fill them",
        )
    return values


def _npy(
    call: ast.Call,
    input_shape: tuple[int, ...],
    label_shape: tuple[int, ...],
    label_name: str,
    spec_dir: Path,
) -> Dataset:
    path, path_span = _path_argument(call, spec_dir)
    keywords = _keywords(call, {"labels": "labels file"})
    if "labels" not in keywords:
        raise SpecError(
            'npy(...) needs the labels file: labels = "labels.npy"',
            span=call.span,
            hint=DATA_SOURCES["npy"],
        )
    labels_path = _resolve(_string(keywords["labels"].value, "the labels file"), spec_dir)
    inputs = _load_npy(path, path_span)
    labels = _load_npy(labels_path, keywords["labels"].value.span)
    count = inputs.shape[0] if inputs.ndim else 0
    input_size = int(np.prod(input_shape, dtype=np.int64))
    label_size = int(np.prod(label_shape, dtype=np.int64))
    if inputs.ndim == 0 or inputs[0].size != input_size:
        raise SpecError(
            f"'{path}' has shape {inputs.shape}; expected (samples, {input_size}) for an input "
            f"of {describe_shape(input_shape)}",
            span=path_span,
        )
    if labels.ndim == 0 or labels.shape[0] != count or labels[0].size != label_size:
        raise SpecError(
            f"'{labels_path}' has shape {labels.shape}; expected {count} samples of "
            f"{label_size} value(s) for a label of {describe_shape(label_shape)}",
            span=keywords["labels"].value.span,
        )
    return Dataset(inputs.reshape(count, *input_shape), labels.reshape(count, *label_shape))


# ---- synthetic --------------------------------------------------------------------------------


def _synthetic(
    call: ast.Call,
    input_shape: tuple[int, ...],
    label_shape: tuple[int, ...],
    label_name: str,
    spec_dir: Path,
) -> Dataset:
    allowed = {"n": "samples", "seed": "seed", "noise": "noise", "scale": "scale", "labels": "kind"}
    keywords = _keywords(call, allowed)
    if call.args:
        raise SpecError(
            "synthetic(...) takes keyword arguments only",
            span=call.args[0].span,
            hint=DATA_SOURCES["synthetic"],
        )

    def integer(name: str, default: int, minimum: int) -> int:
        if name not in keywords:
            return default
        node = keywords[name].value
        try:
            value = fold_integer(node, f"'{name}'")
        except NotConstant:
            raise SpecError(f"'{name}' must be a constant integer", span=node.span) from None
        if value < minimum:
            raise SpecError(f"'{name}' must be at least {minimum}, not {value}", span=node.span)
        return value

    def number(name: str, default: float, positive: bool) -> float:
        if name not in keywords:
            return default
        node = keywords[name].value
        try:
            value = fold(node)
        except NotConstant:
            raise SpecError(f"'{name}' must be a constant number", span=node.span) from None
        if value.shape != () or float(value) < 0 or (positive and float(value) == 0):
            need = "positive" if positive else "non-negative"
            raise SpecError(f"'{name}' must be a {need} number", span=node.span)
        return float(value)

    count = integer("n", 16, 1)
    seed = integer("seed", 0, 0)
    noise = number("noise", 0.0, positive=False)
    scale = number("scale", 1.0, positive=True)
    kind = "linear"
    if "labels" in keywords:
        node = keywords["labels"].value
        if not isinstance(node, ast.Name) or node.id not in ("linear", "sign"):
            raise SpecError("'labels' is 'linear' or 'sign'", span=node.span)
        kind = node.id
    input_size = int(np.prod(input_shape, dtype=np.int64))
    label_size = int(np.prod(label_shape, dtype=np.int64))
    if count * max(input_size, label_size) > MAX_DATA_ENTRIES:
        raise SpecError(
            f"synthetic data of {count} samples would hold {count * input_size:.3g} values; "
            f"qrtc holds at most {MAX_DATA_ENTRIES:.0e} in memory",
            span=keywords["n"].value.span if "n" in keywords else call.span,
        )
    rng = np.random.default_rng(seed)
    teacher = rng.normal(0.0, 1.0 / np.sqrt(input_size), size=(label_size, input_size))
    inputs = rng.normal(0.0, scale, size=(count, input_size))
    labels = inputs @ teacher.T + noise * rng.normal(size=(count, label_size))
    if kind == "sign":
        labels = np.where(labels >= 0, 1.0, -1.0)
    return Dataset(inputs.reshape(count, *input_shape), labels.reshape(count, *label_shape))
