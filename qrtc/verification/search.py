r"""Hypothesis as a library: draw a rung's inputs, measure each, shrink a failure.

:func:`search` runs a ``@given`` test programmatically (no pytest): each drawn input is measured
once, giving an error and the tolerance that input is held to; every measurement is kept so the
rung can report the worst one, and an input whose error exceeds its tolerance fails the test,
which Hypothesis then shrinks to a simpler failing input. Measurements are memoised by input, so
the replay of the shrunk input that Hypothesis ends with costs nothing; expensive rungs give a
small ``shrink_calls`` budget, beyond which unseen inputs are not measured (shrinking stops at the
simplest failing input found so far).

The rounding bounds that tolerances are built from: unit roundoff $u = 2^{-53}$ (float64) and
$u_{32} = 2^{-24}$ (float32, qsim), and Higham's $\gamma_n = nu/(1 - nu)$ (Higham, *Accuracy and
Stability of Numerical Algorithms*, 2nd ed., Lemma 3.1): a sum of $n$ rounded products has an
error of at most $\gamma_n$ times the sum of the absolute values of its terms.
"""

from __future__ import annotations

import math
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from numpy.typing import NDArray

__all__ = [
    "UNIT_ROUNDOFF",
    "UNIT_ROUNDOFF_32",
    "Case",
    "Measurement",
    "Outcome",
    "gamma",
    "render_number",
    "render_vector",
    "search",
    "vectors",
]

UNIT_ROUNDOFF = 2.0**-53
UNIT_ROUNDOFF_32 = 2.0**-24

# Vectors up to this length are drawn entry by entry (Hypothesis shrinks each entry); longer ones
# come from a drawn seed, since drawing 10^5 floats one by one is slow.
MAX_DRAWN_ENTRIES = 64

T = TypeVar("T")


def gamma(n: int, unit: float = UNIT_ROUNDOFF) -> float:
    r"""$\gamma_n = nu/(1 - nu)$, the relative error bound of a sum of $n$ rounded products."""
    assert n >= 0 and n * unit < 1
    return n * unit / (1 - n * unit)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One input's error, the tolerance it is held to, and what differed (for a report)."""

    error: float
    tolerance: float
    detail: str = ""

    @property
    def ok(self) -> bool:
        # NaN fails: `nan <= x` is False.
        return self.error <= self.tolerance

    @property
    def ratio(self) -> float:
        """``error / tolerance``: above 1 fails."""
        if math.isnan(self.error):
            return math.inf
        if self.tolerance > 0:
            return self.error / self.tolerance
        return 0.0 if self.error == 0 else math.inf


@dataclass(frozen=True, slots=True)
class Case:
    """A measured input: how it reads, and its measurement."""

    input: str
    measurement: Measurement

    def render(self) -> str:
        m = self.measurement
        text = f"{self.input}: error {m.error:.3g} > tolerance {m.tolerance:.3g}"
        return text + (f"\n{m.detail}" if m.detail else "")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a search found: distinct inputs measured, the worst of them, the shrunk failure.

    ``out_of_time``: the time budget ended the search before ``examples`` inputs were measured.
    """

    cases: int
    worst: Case | None
    failure: Case | None
    out_of_time: bool = False


class _Failed(Exception):
    def __init__(self, case: Case) -> None:
        super().__init__(case.input)
        self.case = case


def search(
    strategy: st.SearchStrategy[T],
    measure: Callable[[T], Measurement],
    *,
    describe: Callable[[T], str],
    examples: int,
    seed: int,
    shrink_calls: int = 200,
    budget_s: float | None = None,
) -> Outcome:
    """Measure ``examples`` inputs drawn from ``strategy``; shrink the first that fails.

    Args:
        strategy: the inputs.
        measure: error and tolerance of one input. An exception inside it is a failed
            measurement (error ``inf``), shrunk like any other failure.
        describe: how an input reads in a report.
        examples: Hypothesis's ``max_examples``.
        seed: the seed of the search (with no example database, runs repeat exactly).
        shrink_calls: at most this many more inputs are measured while shrinking.
        budget_s: no new input is measured once this many seconds have passed (twice as many
            while shrinking a failure); the first input always is.
    """
    measured: dict[bytes, Case] = {}
    calls = examples + shrink_calls
    started = time.perf_counter()
    state = {"failing": False, "out_of_time": False}

    def may_measure() -> bool:
        if not measured:
            return True
        if len(measured) >= calls:
            return False
        if budget_s is None:
            return True
        limit = 2 * budget_s if state["failing"] else budget_s
        if time.perf_counter() - started <= limit:
            return True
        state["out_of_time"] = state["out_of_time"] or not state["failing"]
        return False

    def body(value: T) -> None:
        key = pickle.dumps(value)
        case = measured.get(key)
        if case is None:
            if not may_measure():
                return  # not measured: shrinking stops at the simplest failure seen so far
            try:
                measurement = measure(value)
            except Exception as error:  # a crash is a failure of the rung, shown with its input
                text = str(error).splitlines()[0] if str(error) else ""
                measurement = Measurement(math.inf, 0.0, f"raised {type(error).__name__}: {text}")
            case = Case(describe(value), measurement)
            measured[key] = case
        if not case.measurement.ok:
            state["failing"] = True
            raise _Failed(case)

    run = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        print_blob=False,
    )(given(strategy)(body))
    failure = None
    try:
        hypothesis_seed(seed)(run)()
    except _Failed as failed:
        failure = failed.case
    # Among cases equally far from failing (all exact, say), the one held to the widest
    # tolerance shows what the tolerance is.
    worst = max(
        measured.values(),
        key=lambda c: (c.measurement.ratio, c.measurement.error, c.measurement.tolerance),
        default=None,
    )
    return Outcome(
        cases=len(measured),
        worst=worst,
        failure=failure,
        out_of_time=state["out_of_time"] and failure is None,
    )


def vectors(size: int, *, low: float = -1.0, high: float = 1.0) -> st.SearchStrategy[Any]:
    """Float64 vectors of shape ``(size,)`` with entries in ``[low, high]``.

    Up to ``MAX_DRAWN_ENTRIES`` entries each is drawn (and shrunk, towards 0); longer vectors are
    uniform from a drawn seed.
    """
    if size <= MAX_DRAWN_ENTRIES:
        # A list, not hypothesis.extra.numpy.arrays: arrays draw a fill value that shrinks as
        # one, so a failure needing one large entry would shrink to all entries large.
        elements = st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)
        entries = st.lists(elements, min_size=size, max_size=size)
        return entries.map(lambda values: np.array(values, dtype=np.float64))
    return st.integers(0, 2**32 - 1).map(
        lambda s: np.random.default_rng(s).uniform(low, high, size=size)
    )


def render_number(value: Any) -> str:
    """A real or complex number, shortest round-trip digits; a complex one whose imaginary part
    is single-precision noise (below 1e-6 of its size) as its real part."""
    z = complex(value)
    if abs(z.imag) <= 1e-6 * max(1.0, abs(z.real)):
        return repr(z.real)
    return f"{z.real!r}{z.imag:+}j"


def render_vector(vector: NDArray[Any], *, digits: int = 6) -> str:
    """A vector for a report: every entry when short, else its non-zero entries by index."""
    values = np.asarray(vector).reshape(-1)

    def number(x: Any) -> str:
        if np.iscomplexobj(x):
            return f"{complex(x):.{digits}g}"
        return f"{float(x):.{digits}g}"

    if values.size <= 12:
        return "[" + ", ".join(number(x) for x in values) + "]"
    nonzero = np.flatnonzero(values)
    if nonzero.size <= 12:
        entries = ", ".join(f"{int(i)}: {number(values[i])}" for i in nonzero)
        return f"{{{entries}}} (length {values.size}, other entries 0)"
    head = ", ".join(number(x) for x in values[:6])
    return f"[{head}, ...] (length {values.size}, norm {float(np.linalg.norm(values)):.4g})"
