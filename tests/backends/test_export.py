"""--emit output read back independently (scipy.io.mmread, json) equals the IR it came from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse.linalg

import qrtc
from qrtc.backends.export import write_block_system, write_carleman, write_maps
from qrtc.numerics.sparse_tensors import apply_map
from qrtc.pipeline import Compilation, compile_spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compiled() -> Compilation:
    return compile_spec(qrtc.parse_file(str(ROOT / "examples" / "robust_linreg.qrt")))


def test_maps_round_trip(compiled: Compilation, tmp_path: Path) -> None:
    maps = compiled.maps
    assert maps is not None
    write_maps(maps, tmp_path)
    metadata = json.loads((tmp_path / "maps.json").read_text())
    assert metadata["state_size"] == maps.state_size and metadata["degree"] == maps.degree
    rng = np.random.default_rng(1)
    for polynomial in (maps.attack, maps.learner):
        u = rng.normal(size=maps.state_size)
        value = scipy.io.mmread(tmp_path / f"{polynomial.kind}_b0.mtx").ravel()
        power = np.ones(1)
        for k in range(1, len(polynomial.terms) + 1):
            power = np.kron(power, u)
            matrix = scipy.io.mmread(tmp_path / f"{polynomial.kind}_A{k}.mtx")
            value = value + matrix @ power
        np.testing.assert_allclose(value, apply_map(polynomial, u), rtol=1e-12, atol=1e-15)


def test_block_system_solves_to_the_reference(compiled: Compilation, tmp_path: Path) -> None:
    """Solve the written L x = b with scipy and read θ_T as the metadata says."""
    system, trajectory = compiled.block_system, compiled.trajectory
    assert system is not None and trajectory is not None
    write_block_system(system, tmp_path)
    metadata = json.loads((tmp_path / "block_system.json").read_text())
    matrix = scipy.sparse.csc_array(scipy.io.mmread(tmp_path / "L.mtx"))
    rhs = scipy.io.mmread(tmp_path / "b.mtx").ravel()
    x = scipy.sparse.linalg.spsolve(matrix, rhs)
    start, stop = metadata["terminal_slice"]
    theta = np.array(metadata["expansion_point_theta"]) + metadata["scale"] * x[start:stop]
    assert compiled.carleman is not None and compiled.carleman.truncation_error is not None
    error = np.linalg.norm(theta - trajectory.final_theta)
    assert error <= compiled.carleman.truncation_error * (1 + 1e-6) + 1e-12


def test_carleman_matrices_round_trip(compiled: Compilation, tmp_path: Path) -> None:
    carleman = compiled.carleman
    assert carleman is not None
    write_carleman(carleman, tmp_path)
    for matrix in (carleman.attack, carleman.learner):
        read = scipy.sparse.csr_array(scipy.io.mmread(tmp_path / f"{matrix.kind}_C.mtx"))
        assert (read != matrix.matrix).nnz == 0
    assert json.loads((tmp_path / "carleman.json").read_text())["order"] == carleman.order
    assert (tmp_path / "carleman.txt").read_text() == carleman.to_text()
