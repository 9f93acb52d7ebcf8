r"""$\hat C = C_{\mathcal A} \oplus C_{\mathcal L} \oplus I_{D_N} \oplus 0$: the matrix the
structured block encoding selects from by block type (design.md §3).

Shared numerics: the encoding pass tabulates it, the resource formulas and the estimate count
its non-zeros; independent of the horizon.
"""

from __future__ import annotations

import scipy.sparse

from qrtc.ir.block_system import BlockSystem
from qrtc.ir.carleman import CarlemanMaps

__all__ = ["carleman_select_matrix", "register_width", "select_matrix"]


def register_width(size: int) -> int:
    """Qubits that index ``size`` values (at least 1)."""
    return max(1, (size - 1).bit_length())


def select_matrix(system: BlockSystem) -> scipy.sparse.csr_array:
    r"""$\hat C$ of ``system`` (:func:`carleman_select_matrix`)."""
    return carleman_select_matrix(system.carleman)


def carleman_select_matrix(carleman: CarlemanMaps) -> scipy.sparse.csr_array:
    r"""$\hat C = C_{\mathcal A} \oplus C_{\mathcal L} \oplus I_{D_N} \oplus 0$, each block
    $2^\lambda \times 2^\lambda$: shape ``(4 * 2**lambda, 4 * 2**lambda)``; independent of $T$."""
    size = carleman.lifted_size
    padded = 1 << register_width(size)

    def pad(block: scipy.sparse.csr_array) -> scipy.sparse.csr_array:
        empty = scipy.sparse.csr_array((padded - size, padded - size))
        return scipy.sparse.csr_array(scipy.sparse.block_diag([block, empty], format="csr"))

    blocks = [
        pad(carleman.attack.matrix),
        pad(carleman.learner.matrix),
        pad(scipy.sparse.eye_array(size, format="csr")),
        scipy.sparse.csr_array((padded, padded)),
    ]
    return scipy.sparse.csr_array(scipy.sparse.block_diag(blocks, format="csr"))
