"""What the commands print: the training table and JSON, a spec's summary, the progress bar."""

from __future__ import annotations

from typing import TextIO

import numpy as np

from qrtc.ir.problem import Problem
from qrtc.ir.trajectory import Trajectory

__all__ = ["ProgressBar", "parameter_values", "print_training", "summary", "train_json"]


class ProgressBar:
    """One line on a terminal, redrawn per stage; one line per stage elsewhere (logs, CI)."""

    WIDTH = 24

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.drawn = False

    def update(self, stage: str, index: int, total: int) -> None:
        filled = self.WIDTH * index // total
        text = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {index + 1}/{total} {stage}"
        if self.live:
            self.stream.write("\r" + text.ljust(self.WIDTH + 30))
            self.drawn = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live and self.drawn:
            self.stream.write("\r" + " " * (self.WIDTH + 30) + "\r")
            self.stream.flush()


def summary(problem: Problem) -> dict[str, object]:
    return {
        "file": problem.file,
        "parameters": problem.n_params,
        "samples": problem.n_samples,
        "input_size": problem.input_size,
        "horizon": problem.train.horizon,
        "pgd_steps": problem.attack.steps,
        "substeps": problem.n_substeps,
        "state_size": problem.state_size,
    }


def parameter_values(problem: Problem, theta: np.ndarray) -> dict[str, object]:
    return {
        block.name: theta[block.offset : block.offset + block.size].reshape(block.shape).tolist()
        for block in problem.parameters
    }


def train_json(problem: Problem, trajectory: Trajectory) -> dict[str, object]:
    attack = problem.attack
    return {
        "ok": True,
        **summary(problem),
        "attack": {
            "norm": attack.norm,
            "radius": attack.radius,
            "step": attack.step,
            "steps": attack.steps,
            "start": attack.start,
            "grad": attack.grad,
            "support": attack.support,
        },
        "lr": problem.train.lr,
        "clean_loss": trajectory.clean_loss.tolist(),
        "adversarial_loss": trajectory.adversarial_loss.tolist(),
        "final_parameters": parameter_values(problem, trajectory.final_theta),
        "final_theta": trajectory.final_theta.tolist(),
    }


def print_training(problem: Problem, trajectory: Trajectory, file: str, out: TextIO) -> None:
    attack = problem.attack
    out.write(
        f"{file}: PGD robust training, horizon T = {problem.train.horizon}, lr = "
        f"{problem.train.lr:g}; attack: {attack.steps} step(s) of {attack.step:g}, {attack.norm} "
        f"radius {attack.radius:g}, {attack.grad} gradient, {attack.start} start; "
        f"{problem.n_samples} samples\n\n"
    )
    out.write(f"{'step':>6}  {'clean loss':>14}  {'adversarial loss':>16}\n")
    for step, clean in enumerate(trajectory.clean_loss):
        adversarial = (
            f"{trajectory.adversarial_loss[step]:16.6e}"
            if step < len(trajectory.adversarial_loss)
            else f"{'-':>16}"
        )
        out.write(f"{step:>6}  {clean:14.6e}  {adversarial}\n")
    out.write("\nfinal parameters:\n")
    with np.printoptions(precision=6, suppress=False, floatmode="maxprec"):
        for block in problem.parameters:
            value = trajectory.final_theta[block.offset : block.offset + block.size]
            shown = np.array2string(value.reshape(block.shape), prefix="  " + block.name + " = ")
            out.write(f"  {block.name} = {shown}\n")
