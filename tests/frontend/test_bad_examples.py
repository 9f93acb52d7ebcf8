"""Every spec in examples/bad/ fails with exactly the message in its golden .err file.

The message is taken from the CLI (``qrtc check``), run from the repository root, so a golden
file is exactly what a user sees. Regenerate with ``pytest --update-goldens`` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qrtc.cli import main

ROOT = Path(__file__).resolve().parents[2]
BAD = sorted((ROOT / "examples" / "bad").glob("*.qrt"))


def test_there_are_enough_bad_examples() -> None:
    assert len(BAD) >= 15


@pytest.mark.parametrize("spec", BAD, ids=lambda path: path.stem)
def test_bad_example_fails_with_golden_message(
    spec: Path,
    update_goldens: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(ROOT)
    status = main(["check", str(spec.relative_to(ROOT))])
    captured = capsys.readouterr()
    assert status == 2, captured.out
    assert "Traceback" not in captured.err
    golden = spec.with_suffix(".err")
    if update_goldens:
        golden.write_text(captured.err, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}; run pytest --update-goldens"
    assert captured.err == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("spec", BAD, ids=lambda path: path.stem)
def test_every_error_points_into_the_file(
    spec: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each message starts with file:line:col: error: and, where it has a span, a caret line."""
    monkeypatch.chdir(ROOT)
    main(["check", str(spec.relative_to(ROOT))])
    err = capsys.readouterr().err
    relative = str(spec.relative_to(ROOT))
    headers = [line for line in err.splitlines() if ": error: " in line]
    assert headers
    for header in headers:
        location = header.split(": error: ")[0]
        file, line, column = location.rsplit(":", 2)
        assert file == relative
        assert int(line) >= 1 and int(column) >= 1
    assert err.count("^") >= len(headers) - err.count("not UTF-8")
