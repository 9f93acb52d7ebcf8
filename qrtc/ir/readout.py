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

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["ErrorTerm", "Readout"]


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
        errors: the split above.
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
