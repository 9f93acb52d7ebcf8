"""The inversion pass: kappa_eff from numpy's SVD, the degree limit, the circuit's bookkeeping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qrtc
from qrtc.errors import CompileError
from qrtc.ir.block_system import BlockSystem
from qrtc.numerics.block_matrix import assemble_matrix
from qrtc.numerics.conditioning import effective_condition_number
from qrtc.passes import invert_block_encoding as invert
from qrtc.passes.encode_block_system import encode_block_system
from qrtc.pipeline import compile_spec

TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny_robust.qrt"


@pytest.fixture(scope="module")
def system() -> BlockSystem:
    block_system = compile_spec(qrtc.parse_file(TINY)).block_system
    assert block_system is not None
    return block_system


def test_kappa_eff_is_alpha_over_the_smallest_singular_value(system: BlockSystem) -> None:
    encoding = encode_block_system(system, method="generic")
    kappa, exact = effective_condition_number(system, encoding.alpha)
    smallest = np.linalg.svd(assemble_matrix(system).toarray(), compute_uv=False)[-1]
    assert exact and kappa == pytest.approx(encoding.alpha / smallest, rel=1e-12)


def test_the_circuit_uses_u_once_per_degree(system: BlockSystem) -> None:
    encoding = encode_block_system(system, method="generic")
    qsvt = invert.invert_block_encoding(system, encoding, polynomial_error=1e-2)
    assert qsvt.degree % 2 == 1 and qsvt.queries == qsvt.degree
    assert qsvt.polynomial_error <= 1e-2 and qsvt.phase_residual < 1e-12
    # The coefficients are of an odd polynomial close to s/x at the ends of [1/kappa, 1].
    assert np.all(qsvt.coefficients[::2] == 0)
    assert qsvt.degree < qsvt.reference_degree


def test_a_degree_over_the_limit_is_a_compile_error(
    system: BlockSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invert, "MAX_DEGREE", 11)
    encoding = encode_block_system(system, method="generic")
    with pytest.raises(CompileError, match="needs degree") as raised:
        invert.invert_block_encoding(system, encoding, polynomial_error=1e-3)
    assert "--emit resources" in (raised.value.hint or "")
