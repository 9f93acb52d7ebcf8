"""The one error hierarchy of qrtc, and source spans.

Every mistake a user can make ends in a :class:`QrtError`. Its ``str()`` is the whole message a
user reads, rendered like rustc or xDSL's ``print_with_context``::

    spec.qrt:12:9: error: unknown name 'thetta'
       12 | predict f = dot(thetta, x)
          |                 ^^^^^^
    hint: did you mean 'theta'?

Anything that is not a ``QrtError`` escaping from qrtc is a bug in qrtc.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "AssumptionError",
    "BackendError",
    "CompileError",
    "QrtError",
    "SourceSpan",
    "SpecError",
    "SpecErrors",
    "SpecSyntaxError",
]

# A line longer than this is shown as a window around the span, so that a 1 MB line does not
# become a 1 MB error message.
_MAX_SHOWN_LINE = 120


@dataclass(frozen=True, slots=True)
class SourceSpan:
    """A region of a source file; lines and columns are one-based, ``end_column`` exclusive.

    ``text`` is the full source the span points into (not compared, not shown in ``repr``), kept so
    that an error can draw the offending line without reading the file again.
    """

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    text: str | None = None

    def __post_init__(self) -> None:
        assert self.line >= 1 and self.column >= 1, (self.line, self.column)

    def __repr__(self) -> str:
        where = f"{self.line}:{self.column}-{self.end_line}:{self.end_column}"
        return f"SourceSpan({self.file!r}, {where})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourceSpan):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[str, int, int, int, int]:
        return (self.file, self.line, self.column, self.end_line, self.end_column)

    @property
    def location(self) -> str:
        """``file:line:col``, the prefix of every message."""
        return f"{self.file}:{self.line}:{self.column}"

    def render_context(self) -> str:
        """The source line with carets under the span (first line only for multi-line spans)."""
        if self.text is None:
            return ""
        lines = self.text.split("\n")  # as Lark counts lines: form feeds and lone \r are not breaks
        source_line = lines[self.line - 1].expandtabs(1) if self.line <= len(lines) else ""
        start = self.column - 1
        if self.end_line == self.line:
            width = max(1, self.end_column - self.column)
        else:
            width = max(1, len(source_line) - start)
        offset = 0
        if len(source_line) > _MAX_SHOWN_LINE:
            offset = max(0, start - _MAX_SHOWN_LINE // 3)
            source_line = source_line[offset : offset + _MAX_SHOWN_LINE]
            width = min(width, _MAX_SHOWN_LINE - (start - offset))
        gutter = f"{self.line:>5} | "
        blank = " " * (len(gutter) - 2) + "| "
        return f"{gutter}{source_line.rstrip()}\n{blank}{' ' * (start - offset)}{'^' * width}"

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }


class QrtError(Exception):
    """Base of every error caused by the user's input: a message, an optional span and hint."""

    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        span: SourceSpan | None = None,
        hint: str | None = None,
        file: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.file = file if file is not None else (span.file if span else None)

    def __str__(self) -> str:
        if self.span is not None:
            head = f"{self.span.location}: {self.kind}: {self.message}"
            context = self.span.render_context()
            parts = [head, context] if context else [head]
        elif self.file is not None:
            parts = [f"{self.file}: {self.kind}: {self.message}"]
        else:
            parts = [f"{self.kind}: {self.message}"]
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)

    def to_json(self) -> dict[str, object]:
        return {
            "type": type(self).__name__,
            "message": self.message,
            "span": self.span.to_json() if self.span else None,
            "hint": self.hint,
        }


class SpecSyntaxError(QrtError):
    """The text is not a ``.qrt`` spec: a Lark parse error, labelled by example."""


class SpecError(QrtError):
    """A well-formed spec that means nothing: unknown name, wrong shape, bad value, bad data."""


class AssumptionError(QrtError):
    """Stability, sparsity or conditioning violated: states the measured value and the bound."""


class CompileError(QrtError):
    """A pass cannot go on (too many qubits, degree above the limit)."""


class BackendError(QrtError):
    """Simulation or export failed for a reason the user can act on."""


class SpecErrors(QrtError):
    """Several :class:`SpecError` found by one check, sorted by position."""

    def __init__(self, errors: Iterable[QrtError]) -> None:
        self.errors: tuple[QrtError, ...] = tuple(sorted(errors, key=_position))
        assert self.errors, "SpecErrors needs at least one error"
        first = self.errors[0]
        super().__init__(
            f"{len(self.errors)} errors" if len(self.errors) > 1 else first.message,
            span=first.span,
            file=first.file,
        )

    def __str__(self) -> str:
        body = "\n\n".join(str(error) for error in self.errors)
        if len(self.errors) == 1:
            return body
        return f"{body}\n\n{len(self.errors)} errors found"

    def to_json(self) -> dict[str, object]:
        return {"type": "SpecErrors", "errors": [error.to_json() for error in self.errors]}


def _position(error: QrtError) -> tuple[int, int, str]:
    if error.span is None:
        return (1 << 30, 0, error.message)
    return (error.span.line, error.span.column, error.message)
