"""The ``qrtc`` command line's arguments: one sub-parser per command, and the parsing of the
values argparse cannot check alone (``--set NAME=VALUE``, ``--over NAME=LOW..HIGH``).

Light on purpose: building the parser imports the driver's registry (for the stage names of
``--emit``) and nothing that builds circuits or plots. Each sub-parser names its command
(``command_name``); :func:`qrtc.cli.main` runs ``qrtc.cli.commands.<name>_command``.
"""

from __future__ import annotations

import argparse

import qrtc
import qrtc.pipeline as pipeline

__all__ = ["EMIT_CHOICES", "UsageError", "build_parser", "parse_overrides", "positive_int"]

# Every stage of the registry, plus the side outputs of the block encoding; "circuit" is the
# block encoding's name before the registry had one.
EMIT_CHOICES = (
    *(entry.cli_name for entry in pipeline.STAGES),
    "resources",
    "qasm",
    "circuit",
)


class UsageError(Exception):
    """A mistake in the command line (not in the spec): printed as argparse does, exit 2."""


def build_parser() -> argparse.ArgumentParser:
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
    check.set_defaults(command_name="check")

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
    fmt.set_defaults(command_name="fmt")

    train = commands.add_parser(
        "train",
        help="run the exact classical PGD robust training of a spec",
        description="Run the exact classical reference: PGD robust training as the spec "
        "describes it. Prints the clean and adversarial loss per outer step and the final "
        "parameters.",
    )
    train.add_argument("file", help="the .qrt spec")
    train.add_argument("--json", action="store_true", help="print the result as JSON")
    train.set_defaults(command_name="train")

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
    compile_.set_defaults(command_name="compile")

    report = commands.add_parser(
        "report",
        help="measure the paper's assumptions on the built system",
        description="Build the block system of a spec and report, for each assumption of the "
        "paper (local stability, sparsity, truncation error, terminal weight), the measured "
        "value, the bound it is held to and whether it held. Exit status 1 if one is violated.",
    )
    report.add_argument("file", help="the .qrt spec")
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.set_defaults(command_name="report")

    plot = commands.add_parser(
        "plot",
        help="plot reference vs Carleman trajectories and the truncation error",
        description="Write PNG plots: the reference trajectory beside the Carleman "
        "trajectories for N = 1..N_max, and the terminal error against N with its bound. "
        "Needs matplotlib: pip install 'qrtc[plot]'.",
    )
    plot.add_argument("file", help="the .qrt spec")
    plot.add_argument("-o", "--output", default="out", help="output directory (default: out)")
    plot.set_defaults(command_name="plot")

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
        type=positive_int,
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
    run.set_defaults(command_name="run")

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
    resources.set_defaults(command_name="resources")

    scale = commands.add_parser(
        "scale",
        help="the scaling study: kappa and queries vs horizon and model size, with plots",
        description="Estimates over a geometric grid of horizons and/or model sizes: a table, "
        "scale.json and PNG plots (kappa and queries vs T, queries vs n, the classical PGD "
        "cost beside them), each point marked built (exact kappa of the assembled system), "
        "formula (bound) or extrapolated. Along params it builds a sparse family of the model "
        "(the spec copied into independent blocks, qrtc.studies.family) while kappa stays exact, "
        "fits "
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
    scale.set_defaults(command_name="scale")

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
        type=_names,
        metavar="NAMES",
        help="comma-separated rungs to run (default: all): assumptions, maps, carleman, "
        "block-system, trajectory, oracles, block-encoding, polynomial, phases, qsvt, qsim, "
        "shots, qasm, resources",
    )
    verify.add_argument(
        "--examples", type=positive_int, default=20, help="Hypothesis examples per rung (20)"
    )
    verify.add_argument("--seed", type=int, default=0, help="seed of the search (default 0)")
    verify.add_argument(
        "--max-qubits",
        type=positive_int,
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
    verify.set_defaults(command_name="verify")
    return parser


def positive_int(text: str) -> int:
    try:
        value = int(float(text)) if "e" in text.lower() else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _names(text: str) -> list[str]:
    """``a, b,c`` as ``["a", "b", "c"]`` (checked against the rungs by the ladder)."""
    return [name.strip() for name in text.split(",") if name.strip()]


def parse_overrides(items: list[str]) -> dict[str, float]:
    """``--set horizon=1e6 --set params=1e9 --set precision=0.01`` as numbers.

    Raises:
        UsageError: an unknown name, a value that is not a number, or a non-integer size.
    """
    overrides: dict[str, float] = {}
    for item in items:
        name, _, text = item.partition("=")
        name = name.strip()
        if name not in ("horizon", "params", "precision") or not text:
            raise UsageError(f"--set {item!r}: expected horizon=N, params=N or precision=X")
        try:
            overrides[name] = float(text)
        except ValueError:
            raise UsageError(f"--set {item!r}: {text!r} is not a number") from None
    for name in ("horizon", "params"):
        if name in overrides and overrides[name] != int(overrides[name]):
            raise UsageError(f"--set {name}={overrides[name]:g}: expected an integer")
    return overrides
