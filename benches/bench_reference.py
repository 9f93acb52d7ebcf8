r"""Time ``qrtc.reference.train`` against a hand-written numpy PGD loop on robust least squares.

All contenders run the same maths on the same problem in the same process (paper.md §1.2-1.4:
$K$ attack sub-steps, then one learner sub-step, every state recorded) for the loss
$\tfrac12(\theta\cdot(x_i+\delta_i) - y_i)^2$ with $n = d$ features:

* ``qrtc.reference.train``: evaluates and differentiates the expression DAG, returns a
  ``Trajectory``;
* ``hand-written numpy``: knows the model, writes its gradients by hand, returns plain arrays;
* ``hand-written + Trajectory``: the same loop, its arrays then packed into a ``Trajectory``
  (which stores read-only copies), so that both sides build the same object.

The script checks that qrtc and the loop agree, then prints median wall and user-CPU seconds over
repeats and the ratios (goal: at most 1.5), and optionally writes JSON with the machine and the
versions. Run: ``python benches/bench_reference.py [--features 1000 --samples 256 ...]``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

try:
    import qrtc
except ModuleNotFoundError:  # a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import write_json  # benches/ is sys.path[0] when run as a script

import qrtc.reference
from qrtc.ir import expr
from qrtc.ir.problem import AttackConfig, CompileOptions, ParameterBlock, Problem, TrainConfig
from qrtc.ir.trajectory import Trajectory

Array = NDArray[np.float64]
GOAL_RATIO = 1.5


def build_problem(args: argparse.Namespace) -> Problem:
    """Linear model, least-squares loss, rows of norm about 1 so that ``lr`` is stable."""
    rng = np.random.default_rng(args.seed)
    n, M = args.features, args.samples
    inputs = rng.normal(size=(M, n)) / np.sqrt(n)
    labels = inputs @ rng.normal(size=n) + 0.01 * rng.normal(size=M)
    theta = expr.Parameter(name="theta", shape=(n,), offset=0)
    x = expr.Input(name="x", shape=(n,))
    y = expr.Label(name="y", shape=())
    prediction = expr.Dot(left=theta, right=x)
    loss = expr.Mul(
        left=expr.Constant(value=np.array(0.5)),
        right=expr.Power(
            operand=expr.Sub(left=prediction, right=y, shape=()), exponent=2, shape=()
        ),
        shape=(),
    )
    return Problem(
        parameters=(ParameterBlock(name="theta", shape=(n,), offset=0),),
        theta0=0.1 * rng.normal(size=n),
        input_name="x",
        input_shape=(n,),
        label_name="y",
        label_shape=(),
        inputs=inputs,
        labels=labels,
        prediction=prediction,
        loss=loss,
        prediction_name="f",
        loss_name="l",
        attack=AttackConfig(
            norm=args.norm,
            radius=args.radius,
            step=2.5 * args.radius / args.steps,
            steps=args.steps,
            start=args.start,
            grad=args.grad,
        ),
        train=TrainConfig(lr=args.lr, horizon=args.horizon),
        options=CompileOptions(),
    )


def numpy_pgd(problem: Problem) -> dict[str, Array]:
    """The same trajectory, written plainly for this one model."""
    X, y = problem.inputs, problem.labels
    attack, T, K = problem.attack, problem.train.horizon, problem.attack.steps
    M, lr = X.shape[0], problem.train.lr
    S = T * (K + 1)
    thetas = np.empty((S + 1, X.shape[1]))
    deltas = np.empty((S + 1, *X.shape))
    clean, adversarial = np.empty(T + 1), np.empty(T)
    theta, delta = problem.theta0.copy(), np.zeros_like(X)
    thetas[0], deltas[0] = theta, delta
    s = 0
    for t in range(T):
        clean[t] = np.mean(0.5 * (X @ theta - y) ** 2)
        for _ in range(K):
            r = (X + delta) @ theta - y
            g = r[:, None] * theta
            if attack.grad == "sign":
                g = np.sign(g)
            v = delta + attack.step * g
            if attack.norm == "linf":
                delta = np.clip(v, -attack.radius, attack.radius)
            else:
                norms = np.linalg.norm(v, axis=1)
                delta = v * np.minimum(1.0, attack.radius / np.maximum(norms, 1e-300))[:, None]
            s += 1
            thetas[s], deltas[s] = theta, delta
        adv = X + delta
        r = adv @ theta - y
        adversarial[t] = np.mean(0.5 * r**2)
        theta = theta - lr / M * (adv.T @ r)
        if attack.start == "zero":
            delta = np.zeros_like(X)
        s += 1
        thetas[s], deltas[s] = theta, delta
    clean[T] = np.mean(0.5 * (X @ theta - y) ** 2)
    return {"theta": thetas, "delta": deltas, "clean": clean, "adversarial": adversarial}


def numpy_pgd_trajectory(problem: Problem) -> Trajectory:
    """The hand-written loop, packed into the same IR object that ``train`` returns."""
    result = numpy_pgd(problem)
    return Trajectory(
        theta=result["theta"],
        delta=result["delta"].reshape(result["delta"].shape[0], result["delta"].shape[1], -1),
        clean_loss=result["clean"],
        adversarial_loss=result["adversarial"],
        pgd_steps=problem.attack.steps,
    )


def time_interleaved(
    contenders: dict[str, Callable[[], object]], repeats: int
) -> dict[str, dict[str, list[float]]]:
    """Wall and user-CPU seconds of each contender.

    Every repeat runs each contender once, in an order rotated from one repeat to the next, so
    that all see the same machine state: at the default size each run allocates and frees
    gigabytes, and the cost of page faults (huge-page compaction) drifts during a run.
    """
    times: dict[str, dict[str, list[float]]] = {
        name: {"wall": [], "user": []} for name in contenders
    }
    names = list(contenders)
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            run = contenders[name]
            user = resource.getrusage(resource.RUSAGE_SELF).ru_utime
            start = time.perf_counter()
            run()
            times[name]["wall"].append(time.perf_counter() - start)
            times[name]["user"].append(resource.getrusage(resource.RUSAGE_SELF).ru_utime - user)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=1000, help="n = d")
    parser.add_argument("--samples", type=int, default=256, help="M")
    parser.add_argument("--horizon", type=int, default=100, help="T")
    parser.add_argument("--steps", type=int, default=5, help="K")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--norm", choices=["linf", "l2"], default="linf")
    parser.add_argument("--grad", choices=["plain", "sign"], default="plain")
    parser.add_argument("--start", choices=["warm", "zero"], default="warm")
    parser.add_argument("--radius", type=float, default=0.05)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=str, default=None, help="write the results here")
    args = parser.parse_args(argv)

    problem = build_problem(args)
    # Warm up both (BLAS thread pools, page faults of the first history buffers) and check
    # that they agree before timing anything.
    trajectory = qrtc.reference.train(problem)
    expected = numpy_pgd(problem)
    np.testing.assert_allclose(trajectory.final_theta, expected["theta"][-1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(trajectory.clean_loss, expected["clean"], rtol=1e-9)
    np.testing.assert_allclose(
        trajectory.delta[-1], expected["delta"][-1].reshape(trajectory.delta[-1].shape), atol=1e-12
    )
    del trajectory, expected

    contenders: dict[str, Callable[[], object]] = {
        "qrtc.reference.train": lambda: qrtc.reference.train(problem),
        "hand-written numpy": lambda: numpy_pgd(problem),
        "hand-written + Trajectory": lambda: numpy_pgd_trajectory(problem),
    }
    times = time_interleaved(contenders, args.repeats)
    wall = {name: statistics.median(t["wall"]) for name, t in times.items()}
    user = {name: statistics.median(t["user"]) for name, t in times.items()}
    ours = "qrtc.reference.train"
    ratios = {
        "vs hand-written numpy": wall[ours] / wall["hand-written numpy"],
        "vs hand-written + Trajectory": wall[ours] / wall["hand-written + Trajectory"],
        "user CPU vs hand-written numpy": user[ours] / user["hand-written numpy"],
    }

    history_gib = (problem.n_substeps + 1) * problem.n_samples * problem.input_size * 8 / 2**30
    print(
        f"n = d = {args.features}, M = {args.samples}, T = {args.horizon}, K = {args.steps}, "
        f"{args.norm}/{args.grad}/{args.start}: S = {problem.n_substeps} sub-steps, "
        f"delta history {history_gib:.2f} GiB; median of {args.repeats}"
    )
    print(f"{'implementation':<30}{'wall [s]':>10}{'user CPU [s]':>14}{'wall/sub-step [ms]':>20}")
    for name in contenders:
        per_step = 1e3 * wall[name] / problem.n_substeps
        print(f"{name:<30}{wall[name]:>10.3f}{user[name]:>14.3f}{per_step:>20.3f}")
    for name, ratio in ratios.items():
        verdict = "ok" if ratio <= GOAL_RATIO else "above goal"
        print(f"ratio qrtc {name:<32}{ratio:>8.3f}   (goal <= {GOAL_RATIO}: {verdict})")

    if args.json:
        result = {
            "benchmark": "reference_train_vs_numpy_pgd",
            "size": {
                "features": args.features,
                "samples": args.samples,
                "horizon": args.horizon,
                "steps": args.steps,
                "substeps": problem.n_substeps,
                "norm": args.norm,
                "grad": args.grad,
                "start": args.start,
            },
            "repeats": args.repeats,
            "median_wall_seconds": wall,
            "median_user_cpu_seconds": user,
            "all_seconds": times,
            "ratios": ratios,
            "goal_ratio": GOAL_RATIO,
        }
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
