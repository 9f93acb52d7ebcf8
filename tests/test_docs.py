"""The documentation shows what the code prints: docs/pipeline.md quotes each stage's golden
``to_text()`` (tests/ir compares the goldens with the code) and names every stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from qrtc.pipeline import STAGE_NAMES

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_the_pipeline_page_shows_each_stage_as_it_prints(stage: str) -> None:
    page = (ROOT / "docs" / "pipeline.md").read_text(encoding="utf-8")
    golden = (ROOT / "tests" / "golden" / f"tiny_robust.{stage}.txt").read_text(encoding="utf-8")
    assert f"## `{stage}`" in page
    assert golden.rstrip() in page, f"docs/pipeline.md is out of date for {stage}"


def test_the_readme_names_every_stage() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for stage in STAGE_NAMES:
        assert f"| `{stage}` |" in readme, stage
