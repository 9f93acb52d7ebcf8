"""The qrtc command: exit codes, output, and no traceback for any user mistake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qrtc.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "robust_linreg.qrt"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qrtc", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_check_accepts_a_valid_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "ok" in out and "2 parameters" in out and "3 samples" in out


def test_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLE), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] is True
    assert summary["substeps"] == 3 * (2 + 1)
    assert summary["state_size"] == 2 + 3 * 2


def test_user_error_exits_2_with_message_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "bad.qrt"
    spec.write_text("param theta[2]\nloss l = thetta\n")
    assert main(["check", str(spec)]) == 2
    err = capsys.readouterr().err
    assert f"{spec}:2:10: error: unknown name 'thetta'" in err
    assert "did you mean 'theta'?" in err


def test_json_error_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.qrt"
    spec.write_text("param theta[2] = [1, 2, 3]\n")
    assert main(["check", str(spec), "--json"]) == 2
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False
    first = payload["error"]["errors"][0]
    assert first["span"]["line"] == 1 and first["span"]["column"] == 18


def test_missing_file_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "no/such/spec.qrt"]) == 2
    assert "cannot read spec" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\xff\xfe garbage \x89PNG\r\n",
        bytes(range(256)),
        b"loss l = " + b"(" * 10_000 + b"x" + b")" * 10_000,
        b"loss l = " + b"-" * 10_000 + b"x",
        b"loss l = " + b"x^" * 10_000 + b"2",
        pytest.param(b"loss l = " + b"+".join([b"x"] * 250_000), marks=pytest.mark.slow),
        pytest.param(b"data = inline { " + b"1 -> 2; " * 125_000 + b"}", marks=pytest.mark.slow),
        b"\xef\xbb\xbfparam theta",
    ],
    ids=[
        "empty",
        "binary",
        "all-bytes",
        "nested-parens",
        "unary-minus",
        "power-tower",
        "1MB-sum",
        "1MB-data",
        "bom",
    ],
)
def test_no_traceback_for_hostile_input(
    content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "hostile.qrt"
    spec.write_bytes(content)
    assert main(["check", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith(f"{spec}:")


def test_train_prints_losses_and_final_parameters() -> None:
    result = run("train", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split()[:1] == ["3"] for line in lines)  # the row of the last outer step
    assert "final parameters:" in result.stdout and "theta = [" in result.stdout


def test_train_json_matches_the_reference() -> None:
    import qrtc

    result = run("train", str(EXAMPLE), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    trajectory = qrtc.reference.train(qrtc.load(str(EXAMPLE)))
    assert payload["final_theta"] == trajectory.final_theta.tolist()
    assert payload["clean_loss"] == trajectory.clean_loss.tolist()
    assert len(payload["adversarial_loss"]) == 3


@pytest.mark.parametrize("command", ["check", "fmt", "train", "compile", "report", "plot"])
def test_help_for_every_command(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    assert "usage: qrtc " + command in result.stdout


def test_no_command_prints_usage() -> None:
    result = run()
    assert result.returncode == 2
    assert "usage: qrtc" in result.stderr


@pytest.mark.slow
def test_fmt_write_and_check(tmp_path: Path) -> None:
    spec = tmp_path / "messy.qrt"
    spec.write_text(
        "param   theta[2]=[0.1,-0.2] # keep me\ninput x[2] label y\n"
        "data=inline{[0.5,-0.3]->0.2}\npredict f=dot(theta,x)\nloss l=0.5*(f-y)^2\n"
        "attack pgd{radius=0.05\nsteps=2}\ntrain{lr=0.2;horizon=3}\n"
    )
    assert run("fmt", "--check", str(spec)).returncode == 1
    before = run("fmt", str(spec)).stdout
    assert run("fmt", "--write", str(spec)).returncode == 0
    assert spec.read_text() == before
    assert "# keep me" in before
    assert run("fmt", "--check", str(spec)).returncode == 0
    assert run("check", str(spec)).returncode == 0


@pytest.mark.slow
def test_compile_emits_every_stage(tmp_path: Path) -> None:
    result = run(
        "compile",
        str(EXAMPLE),
        "--emit",
        "maps",
        "--emit",
        "carleman",
        "--emit",
        "block-system",
        "-o",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    for name in (
        "maps/maps.json",
        "maps/attack_A3.mtx",
        "carleman/learner_C.mtx",
        "block-system/L.mtx",
        "block-system/block_system.json",
    ):
        assert (tmp_path / name).is_file(), name
    assert "wrote" in result.stdout


@pytest.mark.slow
def test_compile_emits_each_stage_of_the_registry_as_the_compilation_built_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every stage of ``qrtc.pipeline.STAGES`` is written; what is written equals what
    ``qrtc.compile`` builds (text summaries, the trajectory, the input state and amplitudes)."""
    import numpy as np

    import qrtc
    from qrtc.cli import main
    from qrtc.pipeline import STAGES

    tiny = ROOT / "examples" / "tiny_robust.qrt"
    emits = [arg for entry in STAGES for arg in ("--emit", entry.cli_name)]
    assert main(["compile", str(tiny), *emits, "--encoding", "auto", "-o", str(tmp_path)]) == 0
    compilation = qrtc.compile(tiny)
    for entry in STAGES:
        text = (tmp_path / entry.cli_name / f"{entry.name}.txt").read_text(encoding="utf-8")
        assert text == compilation.stage(entry.name).to_text(), entry.name  # type: ignore[attr-defined]
    arrays = np.load(tmp_path / "trajectory" / "trajectory.npz")
    np.testing.assert_array_equal(arrays["theta"], compilation.trajectory.theta)
    state = np.load(tmp_path / "qsvt" / "tiny_robust.b.npy")
    n_work = int(np.log2(state.size)) - compilation.qsvt.n_qubits
    np.testing.assert_array_equal(state[:: 1 << n_work], compilation.initial_state())
    amplitudes = np.load(tmp_path / "simulation" / "amplitudes.npy")
    np.testing.assert_array_equal(amplitudes, compilation.simulation.amplitudes)
    for suffix in ("qsvt.qasm", "qsvt.qasm3", "qsvt.json"):
        assert (tmp_path / "qsvt" / f"tiny_robust.{suffix}").stat().st_size > 0
    assert "QSVT inversion: degree" in capsys.readouterr().out


@pytest.mark.slow
def test_report_holds_on_the_shipped_example() -> None:
    result = run("report", str(EXAMPLE), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["held"] is True
    assert any(check["name"].startswith("condition number") for check in payload["checks"])


@pytest.mark.slow
def test_report_on_an_unstable_spec_exits_1_pointing_at_train(tmp_path: Path) -> None:
    spec = tmp_path / "unstable.qrt"
    spec.write_text(
        "param theta = 0.5\ninput x\nlabel y\ndata = inline { 1.0 -> 0.2 }\n"
        "predict f = theta * x\nloss l = 0.5 * (f - y)^2\n"
        "attack pgd { radius = 1e12; step = 1e-12; steps = 1 }\n"
        "train { lr = 25; horizon = 6 }\n"
        "compile { carleman_order = 1; scale = 1; padding = 0 }\n"
    )
    result = run("report", str(spec))
    assert result.returncode == 1
    assert "VIOLATED" in result.stdout
    assert f"{spec}:8:1: error: the compiled system violates" in result.stderr


@pytest.mark.slow
def test_plot_writes_pngs(tmp_path: Path) -> None:
    result = run("plot", str(EXAMPLE), "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for name in ("trajectories.png", "truncation_error.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "command",
    [
        ["check", "examples/tiny_robust.qrt"],
        ["fmt", "examples/tiny_robust.qrt"],
        ["train", "examples/tiny_robust.qrt"],
        ["--help"],
    ],
    ids=lambda c: c[0],
)
def test_commands_that_build_no_circuit_import_no_circuit_or_plot_library(
    command: list[str],
) -> None:
    """Fast start: ``python -X importtime -m qrtc check`` lists none of cirq, qsimcirq, sympy,
    matplotlib (before the one-driver change ``--help`` took 2.7 s importing them)."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "qrtc", *command],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    heavy = {name for name in imported if name.split(".")[0] in HEAVY}
    assert not heavy, sorted(heavy)[:10]


HEAVY = ("cirq", "qsimcirq", "sympy", "matplotlib")
