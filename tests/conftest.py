"""Shared pytest configuration: Hypothesis profiles and the ``--update-goldens`` option.

Profiles, chosen with ``HYPOTHESIS_PROFILE`` (default ``ci``):

- ``ci``: no deadline (shared CI machines stall), 100 examples for ordinary properties.
  Fuzz tests ask for more (at least 2000) with ``strategies.fuzz_settings(n)``.
- ``nightly``: no deadline, 2000 examples for ordinary properties; ``fuzz_settings`` gives fuzz
  tests ten times their ``ci`` count.
- ``dev``: 20 examples (fuzz tests a tenth of theirs), for a quick local run.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

_SLOW_GENERATION = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci", deadline=None, max_examples=100, suppress_health_check=_SLOW_GENERATION
)
settings.register_profile(
    "nightly", deadline=None, max_examples=2000, suppress_health_check=_SLOW_GENERATION
)
settings.register_profile(
    "dev", deadline=None, max_examples=20, suppress_health_check=_SLOW_GENERATION
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite golden files (tests/golden/, examples/bad/*.err) from the current output",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """True when pytest ran with ``--update-goldens``: golden tests write instead of compare."""
    return bool(request.config.getoption("--update-goldens"))
