"""The ``qrtc`` command line: ``check``, ``fmt``, ``train``, ``compile``, ``report``, ``plot``,
``run``, ``verify``.

A user's mistake (any :class:`~qrtc.errors.QrtError`) is printed without a traceback and exits
with status 2. Any other exception is a bug in qrtc and is let through.

Each command is a thin consumer of the driver (:func:`qrtc.pipeline.compile`). Modules that
build circuits (cirq, qsim) or plots (matplotlib) are imported inside the commands that need
them, so that ``check``, ``fmt``, ``train`` and ``--help`` start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

import qrtc
from qrtc import pipeline
from qrtc.errors import AssumptionError, QrtError
from qrtc.ir.problem import Problem
from qrtc.ir.trajectory import Trajectory

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USER_ERROR = 0, 1, 2

# Every stage of the registry, plus the side outputs of the block encoding; "circuit" is the
# block encoding's name before the registry had one.
EMIT_CHOICES = (
    *(entry.cli_name for entry in pipeline.STAGES),
    "resources",
    "qasm",
    "circuit",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qrtc`` command; returns the exit status."""
    parser = _argument_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USER_ERROR
    try:
        status: int = args.run(args)
        return status
    except QrtError as error:
        if getattr(args, "json", False):
            print(json.dumps({"ok": False, "error": error.to_json()}, indent=2))
        print(error, file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # `qrtc train x.qrt | head`
        return EXIT_OK


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qrtc",
        description="qrtc, the robust-training circuit compiler: compiles .qrt specs of PGD "
        "adversarial training into sparse linear systems and QSVT circuits.",
    )
    parser.add_argument("--version", action="version", version=f"qrtc {qrtc.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser(
        "check",
        help="parse and check a spec; report every error",
        description="Parse and check a .qrt spec, reporting every error with its location. "
        "Exit status 0 if the spec is valid, 2 if not.",
    )
    check.add_argument("file", help="the .qrt spec")
    check.add_argument("--json", action="store_true", help="print a JSON summary")
    check.set_defaults(run=_check)

    fmt = commands.add_parser(
        "fmt",
        help="print a spec in canonical form",
        description="Print a .qrt spec in canonical form, comments kept. With --write, rewrite "
        "the file in place; with --check, exit 1 if it is not in canonical form.",
    )
    fmt.add_argument("file", help="the .qrt spec")
    mode = fmt.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the file in place")
    mode.add_argument("--check", action="store_true", help="exit 1 if not canonical")
    fmt.set_defaults(run=_fmt)

    train = commands.add_parser(
        "train",
        help="run the exact classical PGD robust training of a spec",
        description="Run the exact classical reference: PGD robust training as the spec "
        "describes it. Prints the clean and adversarial loss per outer step and the final "
        "parameters.",
    )
    train.add_argument("file", help="the .qrt spec")
    train.add_argument("--json", action="store_true", help="print the result as JSON")
    train.set_defaults(run=_train)

    compile_ = commands.add_parser(
        "compile",
        help="lower a spec and write any stage of the pipeline",
        description="Lower a .qrt spec through the pipeline and write the stages asked for "
        "with --emit, each into OUTPUT/STAGE: MatrixMarket matrices and JSON metadata for the "
        "classical stages, circuit summaries, OpenQASM 2.0/3.0 with named registers and cirq "
        "JSON for the circuits, and a text summary of every stage. Stages: "
        + ", ".join(EMIT_CHOICES)
        + ".",
    )
    compile_.add_argument("file", help="the .qrt spec")
    compile_.add_argument(
        "--emit",
        action="append",
        choices=EMIT_CHOICES,
        default=None,
        metavar="STAGE",
        help="a stage to write (repeatable; default: block-system); one of: "
        + ", ".join(EMIT_CHOICES),
    )
    compile_.add_argument(
        "--encoding",
        choices=("auto", "structured", "generic"),
        default="structured",
        help="block encoding of L for the circuit stages (default: structured)",
    )
    compile_.add_argument(
        "--time-limit",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="refuse a simulation (--emit simulation/readout) estimated to take longer",
    )
    compile_.add_argument("-o", "--output", default="out", help="output directory (default: out)")
    compile_.set_defaults(run=_compile)

    report = commands.add_parser(
        "report",
        help="measure the paper's assumptions on the built system",
        description="Build the block system of a spec and report, for each assumption of the "
        "paper (local stability, sparsity, truncation error, terminal weight), the measured "
        "value, the bound it is held to and whether it held. Exit status 1 if one is violated.",
    )
    report.add_argument("file", help="the .qrt spec")
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.set_defaults(run=_report)

    plot = commands.add_parser(
        "plot",
        help="plot reference vs Carleman trajectories and the truncation error",
        description="Write PNG plots: the reference trajectory beside the Carleman "
        "trajectories for N = 1..N_max, and the terminal error against N with its bound. "
        "Needs matplotlib: pip install 'qrtc[plot]'.",
    )
    plot.add_argument("file", help="the .qrt spec")
    plot.add_argument("-o", "--output", default="out", help="output directory (default: out)")
    plot.set_defaults(run=_plot)

    run = commands.add_parser(
        "run",
        help="compile, invert by QSVT, simulate with qsim and read out theta_T",
        description="The whole pipeline on a spec: block system, block encoding, QSVT "
        "inversion circuit, qsim simulation with exact post-selection, and the read-out of "
        "theta_T beside the Carleman solution and the reference trainer, with the error split "
        "by source and its predicted budget. Circuits too wide to simulate are refused with "
        "the memory they would need.",
    )
    run.add_argument("file", help="the .qrt spec")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.add_argument(
        "--encoding",
        choices=("auto", "structured", "generic"),
        default="auto",
        help="block encoding of L (default auto: the narrower circuit to simulate)",
    )
    run.add_argument(
        "--shots",
        type=_positive_int,
        default=None,
        help="also estimate the success probability (the norm of theta_T) from this many "
        "samples (default: exact, from the amplitudes)",
    )
    run.add_argument("--seed", type=int, default=None, help="seed of the sampling")
    run.add_argument("--simulator", choices=("qsim", "cirq"), default="qsim", help="default: qsim")
    run.add_argument(
        "--cross-check",
        action="store_true",
        help="simulate with the other simulator too and report the largest difference",
    )
    run.add_argument(
        "--time-limit",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="refuse a simulation estimated to take longer (default 600)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    run.set_defaults(run=_run)

    resources = commands.add_parser(
        "resources",
        help="estimate resources at any size by formula (T = 1e6, 1e9 parameters, ...)",
        description="An analytic estimate of the QSVT inversion: qubits by register, "
        "block-encoding queries (degree x amplification rounds), the optimal QLSA's (Costa et "
        "al.) beside them, Toffoli and T counts, depth, and the classical PGD cost. Nothing of "
        "the requested size is built: the spec is compiled as written up to its Carleman "
        "matrices and the rest follows by formula.",
    )
    resources.add_argument("file", help="the .qrt spec")
    resources.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override horizon, params or precision (e.g. --set horizon=1e6 --set params=1e9)",
    )
    resources.add_argument("--json", action="store_true", help="print the estimate as JSON")
    resources.add_argument(
        "-o", "--output", default=None, help="also write resources.json to this directory"
    )
    resources.add_argument(
        "--formulas", action="store_true", help="print the formulas as sympy expressions"
    )
    resources.set_defaults(run=_resources)

    scale = commands.add_parser(
        "scale",
        help="the scaling study: kappa and queries vs horizon and model size, with plots",
        description="Estimates over a geometric grid of horizons and/or model sizes: a table, "
        "scale.json and PNG plots (kappa and queries vs T, queries vs n, the classical PGD "
        "cost beside them), each point marked built (exact kappa of the assembled system), "
        "formula (bound) or extrapolated. Along params it builds a sparse family of the model "
        "(the spec copied into independent blocks, qrtc.family) while kappa stays exact, fits "
        "the queries' growth over those points and extrapolates beyond; says where the quantum "
        "query count drops below the classical operation count.",
    )
    scale.add_argument("file", help="the .qrt spec")
    scale.add_argument(
        "--over",
        action="append",
        default=[],
        metavar="NAME=LOW..HIGH",
        help="axis to sweep: horizon=2..1024 or params=2..1e9 (repeatable)",
    )
    scale.add_argument("-o", "--output", default="out", help="output directory (default: out)")
    scale.add_argument("--json", action="store_true", help="print the study as JSON")
    scale.add_argument("--no-plots", action="store_true", help="do not write PNGs")
    scale.set_defaults(run=_scale)

    verify = commands.add_parser(
        "verify",
        help="run the verification ladder on a spec, each stage against an independent reference",
        description="Compile a spec as `qrtc run` does and check every stage against an "
        "independent reference (design.md §4), on inputs Hypothesis draws, within tolerances "
        "from predicted bounds; a failure is shrunk to a simple counterexample. Prints one row "
        "per rung. Exit status 0 if no rung failed (skipped rungs say why), 1 if one failed "
        "(a violated assumption included), 2 for a mistake in the spec.",
    )
    verify.add_argument("file", help="the .qrt spec")
    verify.add_argument(
        "--rungs",
        default=None,
        metavar="NAMES",
        help="comma-separated rungs to run (default: all): assumptions, maps, carleman, "
        "block-system, trajectory, oracles, block-encoding, polynomial, phases, qsvt, qsim, "
        "shots, qasm, resources",
    )
    verify.add_argument(
        "--examples", type=_positive_int, default=20, help="Hypothesis examples per rung (20)"
    )
    verify.add_argument("--seed", type=int, default=0, help="seed of the search (default 0)")
    verify.add_argument(
        "--max-qubits",
        type=_positive_int,
        default=20,
        help="widest state vector a rung may simulate; wider rungs are skipped (default 20)",
    )
    verify.add_argument(
        "--encoding",
        choices=("auto", "structured", "generic"),
        default="auto",
        help="block encoding the circuit rungs check (default auto: the narrower, as run)",
    )
    verify.add_argument(
        "--time-budget",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="time a rung may spend drawing inputs (default 10)",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    verify.set_defaults(run=_verify)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(float(text)) if "e" in text.lower() else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# ---- commands -------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    from qrtc.run import RunReport  # imports cirq and qsim: only when running

    bar = None if args.no_progress or args.json else _ProgressBar(sys.stderr)
    compilation = pipeline.compile(
        args.file,
        on_stage=bar.update if bar is not None else None,
        encoding=args.encoding,
        shots=args.shots,
        seed=args.seed,
        simulator=args.simulator,
        cross_check=args.cross_check,
        time_limit_s=args.time_limit,
    )
    try:
        report = RunReport.of(compilation)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(f"{args.file}: theta_T by simulated QSVT inversion")
        sys.stdout.write(report.to_table())
    return EXIT_OK


class _ProgressBar:
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


def _check(args: argparse.Namespace) -> int:
    problem = qrtc.load(args.file)
    summary = _summary(problem)
    if args.json:
        print(json.dumps({"ok": True, **summary}, indent=2))
    else:
        print(
            f"{args.file}: ok: {summary['parameters']} parameters, {summary['samples']} samples "
            f"of {summary['input_size']} features, horizon {summary['horizon']}, "
            f"{summary['pgd_steps']} PGD steps ({summary['substeps']} sub-steps, state size "
            f"{summary['state_size']})"
        )
    return EXIT_OK


def _fmt(args: argparse.Namespace) -> int:
    from qrtc.frontend.format import format_spec

    spec = qrtc.parse_file(args.file)
    formatted = format_spec(spec)
    if args.check:
        if formatted != spec.text:
            print(f"{args.file}: not in canonical form (run: qrtc fmt --write {args.file})")
            return EXIT_FAILED
        return EXIT_OK
    if args.write:
        if formatted != spec.text:
            Path(args.file).write_text(formatted, encoding="utf-8")
        return EXIT_OK
    sys.stdout.write(formatted)
    return EXIT_OK


def _train(args: argparse.Namespace) -> int:
    problem = qrtc.load(args.file)
    trajectory = qrtc.reference.train(problem)
    if args.json:
        print(json.dumps(_train_json(problem, trajectory), indent=2))
    else:
        _print_training(problem, trajectory, args.file, sys.stdout)
    return EXIT_OK


def _compile(args: argparse.Namespace) -> int:
    from qrtc import emit

    stages = list(dict.fromkeys(args.emit or ["block-system"]))
    compilation = pipeline.compile(
        args.file,
        until=emit.last_stage(stages),
        encoding=args.encoding,
        time_limit_s=args.time_limit,
    )
    out = Path(args.output)
    results = [
        emit.emit(compilation, stage, out / stage, name=Path(args.file).stem) for stage in stages
    ]
    print(f"{args.file}:")
    for line in dict.fromkeys(line for result in results for line in result.lines):
        print(line)
    for path in (path for result in results for path in result.paths):
        print(f"  wrote {path}")
    for table in (result.table for result in results if result.table):
        print()
        sys.stdout.write(table)
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from qrtc.verification import verify  # imports qsim and Hypothesis: only when verifying

    rungs = None
    if args.rungs is not None:
        rungs = [name.strip() for name in args.rungs.split(",") if name.strip()]
    spec = qrtc.parse_file(args.file)
    show = not args.no_progress and not args.json
    bar = _ProgressBar(sys.stderr) if show else None
    try:
        report = verify(
            spec,
            rungs=rungs,
            examples=args.examples,
            seed=args.seed,
            max_qubits=args.max_qubits,
            encoding=args.encoding,
            budget_s=args.time_budget,
            progress=bar.update if bar is not None else None,
        )
    except ValueError as error:  # an unknown rung name
        print(f"qrtc verify: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(
            f"{args.file}: verification ladder (design.md §4), {args.examples} Hypothesis "
            f"examples per rung, seed {args.seed}\n"
        )
        sys.stdout.write(report.to_table())
    return EXIT_OK if report.passed else EXIT_FAILED


def _report(args: argparse.Namespace) -> int:
    from qrtc.backends.assumptions import assess_assumptions

    result = pipeline.compile_spec(qrtc.parse_file(args.file))
    report = assess_assumptions(result.block_system, precision=result.problem.options.precision)
    if args.json:
        print(json.dumps({"ok": report.held, **report.to_json()}, indent=2))
    else:
        print(f"{args.file}: assumptions on the block system\n")
        sys.stdout.write(report.to_text())
    if report.held:
        return EXIT_OK
    violated = ", ".join(check.name for check in report.violations)
    error = AssumptionError(
        f"the compiled system violates: {violated}",
        span=result.problem.train.span,
        hint="a shorter horizon, a smaller lr or a smaller attack step keeps the dynamics "
        "locally stable",
    )
    print(error, file=sys.stderr)
    return EXIT_FAILED


def _plot(args: argparse.Namespace) -> int:
    from qrtc.backends import plots

    result = pipeline.compile_spec(qrtc.parse_file(args.file), until="maps")
    max_order = plots.default_max_order(result.maps.state_size)
    embedded = result.carleman_by_order(range(1, max_order + 1))
    for path in plots.write_plots(result.problem, result.trajectory, embedded, Path(args.output)):
        print(f"wrote {path}")
    return EXIT_OK


def _usage(message: str) -> int:
    """A mistake in the command line (not in the spec): argparse's format, exit status 2."""
    print(f"qrtc: error: {message}", file=sys.stderr)
    return EXIT_USER_ERROR


def _resources(args: argparse.Namespace) -> int:
    from qrtc.estimate import estimate_resources, formulas

    if args.formulas:
        for name, expression in formulas().items():
            print(f"{name} = {expression}")
        return EXIT_OK
    overrides: dict[str, float] = {}
    for item in args.set:
        name, _, text = item.partition("=")
        name = name.strip()
        if name not in ("horizon", "params", "precision") or not text:
            return _usage(f"--set {item!r}: expected horizon=N, params=N or precision=X")
        try:
            overrides[name] = float(text)
        except ValueError:
            return _usage(f"--set {item!r}: {text!r} is not a number")
    for name in ("horizon", "params"):
        if name in overrides and overrides[name] != int(overrides[name]):
            return _usage(f"--set {name}={overrides[name]:g}: expected an integer")
    estimate = estimate_resources(
        qrtc.parse_file(args.file),
        horizon=int(overrides["horizon"]) if "horizon" in overrides else None,
        params=int(overrides["params"]) if "params" in overrides else None,
        precision=overrides.get("precision"),
    )
    payload = estimate.to_json()
    if args.output is not None:
        directory = Path(args.output)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "resources.json").write_text(json.dumps(payload, indent=2) + "\n")
    if args.json:
        print(json.dumps(payload, indent=2))
    else:
        sys.stdout.write(estimate.to_table())
        if args.output is not None:
            print(f"wrote {Path(args.output) / 'resources.json'}")
    return EXIT_OK


def _scale(args: argparse.Namespace) -> int:
    from qrtc.scale import (
        Axis,
        parse_range,
        scale_study,
        write_family_specs,
        write_scale_plots,
    )

    if not args.over:
        return _usage("give at least one --over, e.g. --over horizon=2..1024")
    over: dict[Axis, list[int]] = {}
    for text in args.over:
        try:
            axis, values = parse_range(text)
        except ValueError as error:
            return _usage(f"--over: {error}")
        over[axis] = values
    study = scale_study(qrtc.parse_file(args.file), over)
    directory = Path(args.output)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "scale.json").write_text(json.dumps(study.to_json(), indent=2) + "\n")
    written = write_family_specs(study, directory)
    written += [] if args.no_plots else write_scale_plots(study, directory)
    if args.json:
        print(json.dumps(study.to_json(), indent=2))
    else:
        sys.stdout.write(study.to_table())
        for path in [directory / "scale.json", *written]:
            print(f"wrote {path}")
    return EXIT_OK


# ---- output ---------------------------------------------------------------------------------


def _summary(problem: Problem) -> dict[str, object]:
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


def _parameter_values(problem: Problem, theta: np.ndarray) -> dict[str, object]:
    return {
        block.name: theta[block.offset : block.offset + block.size].reshape(block.shape).tolist()
        for block in problem.parameters
    }


def _train_json(problem: Problem, trajectory: Trajectory) -> dict[str, object]:
    attack = problem.attack
    return {
        "ok": True,
        **_summary(problem),
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
        "final_parameters": _parameter_values(problem, trajectory.final_theta),
        "final_theta": trajectory.final_theta.tolist(),
    }


def _print_training(problem: Problem, trajectory: Trajectory, file: str, out: TextIO) -> None:
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
