"""The pipeline as data: the ordered stages from ``.qrt`` text to the sparse block system.

``compile_spec(spec, until="carleman")`` runs every stage up to and including ``until`` and
returns all intermediate results. With ``verify=True`` (the default when the environment sets
``QRTC_VERIFY=1``; always in tests) each IR's ``verify()`` runs on the pass's output.

The reference trajectory is a stage of its own: the dynamics pass needs it to freeze the sign
pattern and the clip active set (paper.md §3.3), and every later stage is checked against it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, get_args

from qrtc.frontend.check import check
from qrtc.ir.block_system import BlockSystem
from qrtc.ir.carleman import CarlemanMaps
from qrtc.ir.polynomial_maps import PolynomialMaps
from qrtc.ir.problem import Problem
from qrtc.ir.spec import Spec
from qrtc.ir.trajectory import Trajectory
from qrtc.passes.assemble_block_system import assemble_block_system
from qrtc.passes.carleman_embed import carleman_embed
from qrtc.passes.derive_polynomial_maps import derive_polynomial_maps
from qrtc.reference import train

__all__ = ["STAGES", "Compilation", "Stage", "compile_spec"]

Stage = Literal["problem", "trajectory", "maps", "carleman", "block_system"]
STAGES: tuple[Stage, ...] = get_args(Stage)
"""The stages in order; each is computed from the ones before it."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Compilation:
    """Everything computed from one spec, up to the stage that was asked for."""

    spec: Spec
    problem: Problem | None = None
    trajectory: Trajectory | None = None
    maps: PolynomialMaps | None = None
    carleman: CarlemanMaps | None = None
    block_system: BlockSystem | None = None


def compile_spec(
    spec: Spec,
    *,
    until: Stage = "block_system",
    verify: bool | None = None,
    on_stage: Callable[[Stage, float], None] | None = None,
) -> Compilation:
    """Run the stages of :data:`STAGES` up to and including ``until``.

    ``on_stage(stage, seconds)`` is called after each stage with its wall time.

    Raises:
        QrtError: the spec is invalid, breaks an assumption, or cannot be compiled.
    """
    if until not in STAGES:
        raise ValueError(f"unknown stage {until!r}; stages: {', '.join(STAGES)}")
    if verify is None:
        verify = os.environ.get("QRTC_VERIFY") == "1"
    last = STAGES.index(until)
    clock = [time.perf_counter()]

    def done(stage: Stage) -> None:
        now = time.perf_counter()
        if on_stage is not None:
            on_stage(stage, now - clock[0])
        clock[0] = now

    problem = check(spec)
    done("problem")
    result = Compilation(spec=spec, problem=problem)
    if last >= STAGES.index("trajectory"):
        result = replace(result, trajectory=train(problem))
        done("trajectory")
    if last >= STAGES.index("maps"):
        assert result.trajectory is not None
        maps = derive_polynomial_maps(problem, result.trajectory)
        if verify:
            maps.verify()
        result = replace(result, maps=maps)
        done("maps")
    if last >= STAGES.index("carleman"):
        assert result.maps is not None
        carleman = carleman_embed(result.maps, options=problem.options)
        if verify:
            carleman.verify()
        result = replace(result, carleman=carleman)
        done("carleman")
    if last >= STAGES.index("block_system"):
        assert result.carleman is not None
        block_system = assemble_block_system(result.carleman, options=problem.options)
        if verify:
            block_system.verify()
        result = replace(result, block_system=block_system)
        done("block_system")
    return result
