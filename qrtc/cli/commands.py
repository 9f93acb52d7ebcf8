"""The body of each ``qrtc`` command: a thin consumer of the driver (:func:`qrtc.compile`).

Modules that build circuits (cirq, qsim) or plots (matplotlib) are imported inside the
commands that need them, so that ``check``, ``fmt``, ``train`` and ``--help`` start in a
fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import qrtc
import qrtc.pipeline as pipeline
from qrtc.cli import output
from qrtc.cli.arguments import UsageError, parse_overrides
from qrtc.cli.output import ProgressBar
from qrtc.errors import AssumptionError

__all__ = [
    "check_command",
    "compile_command",
    "fmt_command",
    "plot_command",
    "report_command",
    "resources_command",
    "run_command",
    "scale_command",
    "train_command",
    "verify_command",
]

EXIT_OK, EXIT_FAILED, EXIT_USER_ERROR = 0, 1, 2


def run_command(args: argparse.Namespace) -> int:
    from qrtc.cli.run_report import RunReport  # imports cirq and qsim: only when running

    bar = None if args.no_progress or args.json else ProgressBar(sys.stderr)
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


def check_command(args: argparse.Namespace) -> int:
    problem = qrtc.load(args.file)
    summary = output.summary(problem)
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


def fmt_command(args: argparse.Namespace) -> int:
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


def train_command(args: argparse.Namespace) -> int:
    problem = qrtc.load(args.file)
    trajectory = qrtc.reference.train(problem)
    if args.json:
        print(json.dumps(output.train_json(problem, trajectory), indent=2))
    else:
        output.print_training(problem, trajectory, args.file, sys.stdout)
    return EXIT_OK


def compile_command(args: argparse.Namespace) -> int:
    import qrtc.cli.emit as emit

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


def verify_command(args: argparse.Namespace) -> int:
    from qrtc.verification import verify  # imports qsim and Hypothesis: only when verifying

    bar = None if args.no_progress or args.json else ProgressBar(sys.stderr)
    try:
        report = verify(
            qrtc.parse_file(args.file),
            rungs=args.rungs,
            examples=args.examples,
            seed=args.seed,
            max_qubits=args.max_qubits,
            encoding=args.encoding,
            budget_s=args.time_budget,
            progress=bar.update if bar is not None else None,
        )
    except ValueError as error:  # an unknown rung name
        raise UsageError(f"verify: {error}") from None
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


def report_command(args: argparse.Namespace) -> int:
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


def plot_command(args: argparse.Namespace) -> int:
    from qrtc.backends import plots

    result = pipeline.compile_spec(qrtc.parse_file(args.file), until="maps")
    max_order = plots.default_max_order(result.maps.state_size)
    embedded = result.carleman_by_order(range(1, max_order + 1))
    for path in plots.write_plots(result.problem, result.trajectory, embedded, Path(args.output)):
        print(f"wrote {path}")
    return EXIT_OK


def resources_command(args: argparse.Namespace) -> int:
    from qrtc.resources.estimate import estimate_resources, formulas

    if args.formulas:
        for name, expression in formulas().items():
            print(f"{name} = {expression}")
        return EXIT_OK
    overrides = parse_overrides(args.set)
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


def scale_command(args: argparse.Namespace) -> int:
    from qrtc.studies.scale import (
        Axis,
        parse_range,
        scale_study,
        write_family_specs,
        write_scale_plots,
    )

    if not args.over:
        raise UsageError("give at least one --over, e.g. --over horizon=2..1024")
    over: dict[Axis, list[int]] = {}
    for text in args.over:
        try:
            axis, values = parse_range(text)
        except ValueError as error:
            raise UsageError(f"--over: {error}") from None
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
