r"""Stage 7 IR: $\theta_T$ read out of the simulated QSVT state, beside its references.

Three estimates of the trained parameters (design.md §2 items 10, 15; paper.md §4.3):

* reference: the exact classical PGD trainer's $\theta_T$;
* Carleman: $\theta^\star + \gamma\,\bar{\mathbf x}_\theta$ from
  $\mathbf x = \mathbf L^{-1}\mathbf b$ (sparse LU), where $\bar{\mathbf x}_\theta$ is the
  mean of the level-1 $\theta$-slices of the $p + 1$ equal terminal blocks;
* quantum: the same read-out of the post-selected simulated state $|\psi\rangle$; its norm is
  unknown to an experiment, so $\|\mathbf x\| = \sqrt{p_{\rm succ}}\,\|\mathbf b\|/(s\alpha)$ is
  estimated from the success probability (exact from the amplitudes, or sampled from ``shots``).

The error of the quantum estimate against the reference splits by source, each measured and beside
its prediction (all in the units of $\theta$, 2-norm):

* ``carleman``: Carleman vs reference; predicted by the rigorous truncation bound;
* ``polynomial``: quantum (exact success probability) vs Carleman; predicted
  $\gamma\varepsilon_P\|\mathbf x\|/\sqrt{p+1}$ (:mod:`qrtc.passes.invert_block_encoding`);
* ``readout``: quantum (sampled) vs quantum (exact); predicted one binomial standard error of
  $\sqrt{\hat p}$, $\|\theta - \theta^\star\|\,\tfrac12\sqrt{(1-p)/(p\,{\rm shots})}$ (0 without
  shots);
* ``total``: quantum vs reference; predicted: the sum of the three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qrtc.ir import _text

__all__ = ["ERROR_SOURCES", "ErrorTerm", "Readout"]

ERROR_SOURCES = ("carleman", "polynomial", "readout", "total")
"""The sources of :attr:`Readout.errors`, in order (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class ErrorTerm:
    """One source of error: what was measured and what was predicted for it."""

    source: str
    measured: float
    predicted: float | None
    compared: str


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Readout:
    r"""$\theta_T$ three ways, the normalised states, probabilities and the error split.

    Attributes:
        theta_reference, theta_carleman, theta_quantum: shape ``(n,)``.
        theta_quantum_exact: the quantum estimate with the exact success probability.
        state_carleman, state_quantum: unit vectors along $\theta_T - \theta^\star$.
        state_error: $\|$state_quantum $-$ state_carleman$\|$ (the normalised-state metric).
        success_probability: $p_{\rm succ}$, exact from the amplitudes.
        predicted_success_probability: $s^2\alpha^2\|\mathbf L^{-1}\mathbf b\|^2/\|\mathbf b\|^2$.
        sampled_success_probability: from ``shots`` samples (None without shots).
        shots: the number of samples (None: exact amplitudes only).
        terminal_probability: measured weight of the $p + 1$ terminal blocks in $|\psi\rangle$.
        errors: the split above, one term per source of :data:`ERROR_SOURCES`, in order.
    """

    theta_reference: NDArray[np.float64]
    theta_carleman: NDArray[np.float64]
    theta_quantum: NDArray[np.float64]
    theta_quantum_exact: NDArray[np.float64]
    state_carleman: NDArray[np.float64]
    state_quantum: NDArray[np.float64]
    state_error: float
    success_probability: float
    predicted_success_probability: float
    sampled_success_probability: float | None
    shots: int | None
    terminal_probability: float
    errors: tuple[ErrorTerm, ...]

    def __post_init__(self) -> None:
        for name in (
            "theta_reference",
            "theta_carleman",
            "theta_quantum",
            "theta_quantum_exact",
            "state_carleman",
            "state_quantum",
        ):
            getattr(self, name).setflags(write=False)

    def error(self, source: str) -> ErrorTerm:
        for term in self.errors:
            if term.source == source:
                return term
        raise KeyError(source)

    def verify(self) -> None:
        """Check shapes, finiteness, probabilities and that every derived field is what its
        definition computes from the others (unit states, ``state_error``, each measured
        error as the distance it names, the total prediction as the sum of the three)."""
        vectors = {
            name: getattr(self, name)
            for name in (
                "theta_reference",
                "theta_carleman",
                "theta_quantum",
                "theta_quantum_exact",
                "state_carleman",
                "state_quantum",
            )
        }
        shape = self.theta_reference.shape
        for name, vector in vectors.items():
            assert vector.ndim == 1 and vector.shape == shape, f"{name} has shape {vector.shape}"
            assert np.all(np.isfinite(vector)), f"{name} is not finite"
        for name in ("state_carleman", "state_quantum"):
            norm = float(np.linalg.norm(vectors[name]))
            assert norm == 0 or abs(norm - 1) <= 1e-9, f"{name} has norm {norm}, not 1"
        assert _close(self.state_error, _distance(self.state_quantum, self.state_carleman)), (
            "state_error is not |state_quantum - state_carleman|"
        )
        for name in ("success_probability", "terminal_probability"):
            value = getattr(self, name)
            assert 0 <= value <= 1 + 1e-5, f"{name} = {value} outside [0, 1]"
        assert self.predicted_success_probability >= 0, self.predicted_success_probability
        assert (self.shots is None) == (self.sampled_success_probability is None), (
            "sampled_success_probability and shots come together"
        )
        if self.shots is None:
            assert np.array_equal(self.theta_quantum, self.theta_quantum_exact), (
                "without shots the quantum estimate is the exact-norm one"
            )
        sources = tuple(term.source for term in self.errors)
        assert sources == ERROR_SOURCES, f"error sources {sources}, not {ERROR_SOURCES}"
        pairs = {
            "carleman": (self.theta_carleman, self.theta_reference),
            "polynomial": (self.theta_quantum_exact, self.theta_carleman),
            "readout": (self.theta_quantum, self.theta_quantum_exact),
            "total": (self.theta_quantum, self.theta_reference),
        }
        for term in self.errors:
            assert math.isfinite(term.measured) and term.measured >= 0, term
            assert term.predicted is None or term.predicted >= 0, term
            assert _close(term.measured, _distance(*pairs[term.source])), (
                f"the measured {term.source} error is not the distance it names"
            )
        parts = [term.predicted for term in self.errors[:-1]]
        total = self.errors[-1].predicted
        if any(p is None for p in parts):
            assert total is None, "a total prediction without all three parts"
        else:
            assert total is not None and _close(total, sum(p for p in parts if p is not None)), (
                "the predicted total is not the sum of the three predictions"
            )

    def to_text(self) -> str:
        r"""A deterministic summary for ``qrtc compile --emit readout``.

        Whatever comes from the simulated amplitudes (the quantum $\theta_T$ and state,
        probabilities) is printed to 4 significant digits, and errors to 1: complex64 rounding
        (about $10^{-5}$ relative in $p$ and $10^{-6}$ absolute in $\theta$, against
        ``cirq.Simulator`` in complex128) stays below the last digit, also in an error that is
        the small difference of two nearby vectors. The classical estimates keep 6 digits.
        """

        def error(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.0e}"

        sampled = "none"
        if self.shots is not None:
            sampled = f"{_text.number(self.sampled_success_probability, 4)} from {self.shots} shots"
        width = max(len(term.source) for term in self.errors)
        lines = [
            "readout {",
            f"  theta_T reference = {_text.vector(self.theta_reference)}",
            f"  theta_T carleman  = {_text.vector(self.theta_carleman)}",
            f"  theta_T quantum   = {_text.vector(self.theta_quantum, 4)}"
            + (
                ""
                if self.shots is None
                else f" (exact norm: {_text.vector(self.theta_quantum_exact, 4)})"
            ),
            f"  state carleman = {_text.vector(self.state_carleman)}",
            f"  state quantum  = {_text.vector(self.state_quantum, 4)},"
            f" error = {error(self.state_error)}",
            f"  success_probability = {_text.number(self.success_probability, 4)}"
            f" (predicted {_text.number(self.predicted_success_probability, 4)}),"
            f" sampled = {sampled}",
            f"  terminal_probability = {_text.number(self.terminal_probability, 4)}",
            "  errors (measured / predicted):",
            *(
                f"    {term.source.ljust(width)}  {error(term.measured)} /"
                f" {error(term.predicted)}  ({term.compared})"
                for term in self.errors
            ),
            "}",
        ]
        return "\n".join(lines) + "\n"


def _distance(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    return float(np.linalg.norm(a - b))


def _close(value: float, expected: float) -> bool:
    return math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-15)
