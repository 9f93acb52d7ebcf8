"""``qrtc compile --emit STAGE``: write any stage of a compilation to disk.

One writer per stage of the registry (:data:`qrtc.pipeline.STAGES`), plus two side outputs
of the block encoding (``resources``: counted beside the formula; ``qasm``: $U$ in OpenQASM).
Every stage writes its ``to_text()`` summary; beside it:

* ``problem``: ``problem.json`` (sizes, attack, training);
* ``trajectory``: ``trajectory.npz`` (``theta``, ``delta``, ``clean_loss``,
  ``adversarial_loss``);
* ``maps``, ``carleman``, ``block-system``: MatrixMarket matrices and JSON metadata
  (:mod:`qrtc.backends.export`);
* ``block-encoding`` (alias ``circuit``): the circuit diagram of $U$;
* ``qsvt``: the whole inversion circuit in OpenQASM 2.0 and 3.0 with one named register per
  register, the input state $|b\\rangle$ as ``.npy`` (documented in the QASM header) and the
  circuit as cirq JSON;
* ``simulation``: the post-selected amplitudes as ``.npy``;
* ``readout``: ``readout.json`` ($\\theta_T$ three ways, the error split).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qrtc.errors import BackendError
from qrtc.pipeline import STAGE_NAMES, Compilation, Stage, stage_entry

__all__ = ["SIDE_OUTPUTS", "Emitted", "emit", "last_stage"]

SIDE_OUTPUTS: dict[str, Stage] = {
    "resources": "block_encoding",
    "qasm": "block_encoding",
    "circuit": "block_encoding",
}
"""Outputs that are not stages, and the stage each needs."""


@dataclass(frozen=True, slots=True)
class Emitted:
    """What a writer wrote, and what the command prints about it."""

    paths: list[Path]
    lines: list[str] = field(default_factory=list)
    table: str = ""


def last_stage(names: Iterable[str]) -> Stage:
    """The latest stage any of ``names`` (stages or side outputs) needs."""
    needed = [SIDE_OUTPUTS.get(name) or stage_entry(name).name for name in names]
    return max(needed, key=STAGE_NAMES.index, default="block_system")


def _directory(out_dir: Path) -> Path:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BackendError(f"cannot create {str(out_dir)!r}: {error.strerror}") from None
    return out_dir


def _text(out_dir: Path, name: str, text: str) -> Path:
    path = _directory(out_dir) / f"{name}.txt"
    path.write_text(text, encoding="utf-8")
    return path


def _json(path: Path, payload: object) -> Path:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _problem(c: Compilation, out_dir: Path, name: str) -> Emitted:
    problem = c.problem
    summary = {
        "file": problem.file,
        "parameters": problem.n_params,
        "samples": problem.n_samples,
        "input_size": problem.input_size,
        "horizon": problem.train.horizon,
        "lr": problem.train.lr,
        "pgd_steps": problem.attack.steps,
        "substeps": problem.n_substeps,
        "state_size": problem.state_size,
    }
    paths = [_text(out_dir, "problem", problem.to_text()), _json(out_dir / "problem.json", summary)]
    return Emitted(
        paths, [f"  problem: {problem.n_params} parameters, {problem.n_samples} samples"]
    )


def _trajectory(c: Compilation, out_dir: Path, name: str) -> Emitted:
    trajectory = c.trajectory
    arrays = out_dir / "trajectory.npz"
    path = _text(out_dir, "trajectory", trajectory.to_text())
    np.savez(
        arrays,
        theta=trajectory.theta,
        delta=trajectory.delta,
        clean_loss=trajectory.clean_loss,
        adversarial_loss=trajectory.adversarial_loss,
    )
    return Emitted([path, arrays], [f"  trajectory: {trajectory.theta.shape[0]} sub-steps"])


def _maps(c: Compilation, out_dir: Path, name: str) -> Emitted:
    from qrtc.backends import export

    maps = c.maps
    return Emitted([*export.write_maps(maps, out_dir), _text(out_dir, "maps", maps.to_text())])


def _carleman(c: Compilation, out_dir: Path, name: str) -> Emitted:
    from qrtc.backends import export

    carleman = c.carleman
    line = f"  Carleman order N = {carleman.order}, lifted size {carleman.lifted_size:,}"
    return Emitted(export.write_carleman(carleman, out_dir), [line])


def _block_system(c: Compilation, out_dir: Path, name: str) -> Emitted:
    from qrtc.backends import export

    system = c.block_system
    line = (
        f"  block system of dim {system.dim} ({system.nnz} non-zeros), Carleman order "
        f"N = {system.carleman.order}, kappa <= {system.kappa_bound:.4g}"
    )
    return Emitted(export.write_block_system(system, out_dir), [line])


def _encoding_line(c: Compilation) -> str:
    encoding = c.block_encoding
    return (
        f"  block encoding ({encoding.method}): alpha = {encoding.alpha:.6g}, "
        f"{encoding.n_system_qubits} system + {encoding.n_ancilla_qubits} ancilla qubits"
    )


def _block_encoding(c: Compilation, out_dir: Path, name: str) -> Emitted:
    from qrtc.backends import export

    return Emitted(export.write_block_encoding(c.block_encoding, out_dir), [_encoding_line(c)])


def _resources(c: Compilation, out_dir: Path, name: str) -> Emitted:
    from qrtc.backends import export
    from qrtc.resources.counted import count_resources
    from qrtc.resources.formulas import predict_resources

    encoding = c.block_encoding
    counted = count_resources(encoding)
    predicted = predict_resources(c.block_system, method=encoding.method)
    paths, table = export.write_resources(counted, predicted, out_dir)
    return Emitted(paths, [_encoding_line(c)], table)


def _qasm(c: Compilation, out_dir: Path, name: str) -> Emitted:
    from qrtc.backends import export
    from qrtc.resources.counted import count_resources

    encoding = c.block_encoding
    counted = count_resources(encoding)
    paths = export.write_qasm_files(encoding, counted, out_dir, name=name)
    return Emitted(paths, [_encoding_line(c)])


def _qsvt(c: Compilation, out_dir: Path, name: str) -> Emitted:
    from qrtc.backends.qasm import write_qsvt_qasm

    qsvt = c.qsvt
    paths = [_text(out_dir, "qsvt", qsvt.to_text())]
    paths += write_qsvt_qasm(qsvt, c.initial_state(), out_dir, name=name)
    line = (
        f"  QSVT inversion: degree {qsvt.degree}, {qsvt.n_qubits} qubits, "
        f"kappa_eff {qsvt.kappa:.4g}"
    )
    return Emitted(paths, [line])


def _simulation(c: Compilation, out_dir: Path, name: str) -> Emitted:
    state = c.simulation
    amplitudes = _directory(out_dir) / "amplitudes.npy"
    np.save(amplitudes, np.asarray(state.amplitudes))
    paths = [_text(out_dir, "simulation", state.to_text()), amplitudes]
    line = f"  simulation ({state.simulator}): success probability {state.success_probability:.4g}"
    return Emitted(paths, [line])


def _readout(c: Compilation, out_dir: Path, name: str) -> Emitted:
    readout = c.readout
    payload = {
        "theta_reference": readout.theta_reference.tolist(),
        "theta_carleman": readout.theta_carleman.tolist(),
        "theta_quantum": readout.theta_quantum.tolist(),
        "state_error": readout.state_error,
        "success_probability": readout.success_probability,
        "errors": {
            t.source: {"measured": t.measured, "predicted": t.predicted} for t in readout.errors
        },
    }
    paths = [_text(out_dir, "readout", readout.to_text()), _json(out_dir / "readout.json", payload)]
    return Emitted(paths, [f"  theta_T quantum: {readout.theta_quantum.tolist()}"])


_WRITERS: dict[str, Callable[[Compilation, Path, str], Emitted]] = {
    "problem": _problem,
    "trajectory": _trajectory,
    "maps": _maps,
    "carleman": _carleman,
    "block_system": _block_system,
    "block_encoding": _block_encoding,
    "qsvt": _qsvt,
    "simulation": _simulation,
    "readout": _readout,
    "resources": _resources,
    "qasm": _qasm,
    "circuit": _block_encoding,
}
assert set(STAGE_NAMES) <= set(_WRITERS)


def emit(compilation: Compilation, stage: str, out_dir: Path, *, name: str) -> Emitted:
    """Write ``stage`` (a stage name, hyphens allowed, or a side output) into ``out_dir``.

    ``name`` is the file stem of the outputs named after the spec (QASM files).

    Raises:
        QrtError: the stage cannot be built, or ``out_dir`` cannot be written.
    """
    key = stage if stage in SIDE_OUTPUTS else stage_entry(stage).name
    return _WRITERS[key](compilation, out_dir, name)
