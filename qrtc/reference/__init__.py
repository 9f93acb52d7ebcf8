"""Independent classical references: the exact PGD robust-training trajectory and its autodiff.

Later stages are checked against :func:`train`; it shares no code with the lowering passes.
"""

from __future__ import annotations

from qrtc.reference.autodiff import (
    evaluate,
    value_and_gradients,
    value_and_input_gradient,
    value_and_theta_gradient,
)
from qrtc.reference.pgd import (
    attack_substep,
    learner_substep,
    mean_loss,
    per_sample_loss,
    project,
    train,
)

__all__ = [
    "attack_substep",
    "evaluate",
    "learner_substep",
    "mean_loss",
    "per_sample_loss",
    "project",
    "train",
    "value_and_gradients",
    "value_and_input_gradient",
    "value_and_theta_gradient",
]
