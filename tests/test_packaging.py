"""The grammar is found both from an installed wheel and from an editable install.

Each test makes a virtual environment that sees this machine's packages (for lark, numpy, ...),
installs qrtc into it without touching the network, and asks it where qrt.lark came from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = (
    "import qrtc, qrtc.frontend.parse as p; "
    "print(p.grammar_path()); "
    "print(qrtc.load(r'{spec}').n_params)"
)


def _venv(tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    return venv / ("Scripts" if os.name == "nt" else "bin") / "python"


def _install(python: Path, *args: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q", *args],
        check=True,
        cwd=ROOT,
    )


def _probe(python: Path, cwd: Path) -> list[str]:
    spec = ROOT / "examples" / "robust_linreg.qrt"
    result = subprocess.run(
        [str(python), "-c", PROBE.format(spec=spec)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=True,
    )
    return result.stdout.split()


@pytest.mark.slow
def test_wheel_install_uses_the_packaged_grammar(tmp_path: Path) -> None:
    python = _venv(tmp_path)
    source = tmp_path / "src"
    # Build from a copy, so that no build artefact lands in the checkout.
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "*.egg-info", "build"))
    _install(python, str(source))
    grammar, n_params = _probe(python, cwd=tmp_path)
    assert Path(grammar).parts[-3:] == ("qrtc", "_grammar", "qrt.lark")
    assert "site-packages" in grammar
    assert n_params == "2"


@pytest.mark.slow
def test_editable_install_uses_the_source_grammar(tmp_path: Path) -> None:
    python = _venv(tmp_path)
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "*.egg-info", "build"))
    _install(python, "-e", str(source))
    grammar, n_params = _probe(python, cwd=tmp_path)
    assert Path(grammar) == source / "grammar" / "qrt.lark"
    assert n_params == "2"
