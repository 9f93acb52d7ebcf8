r"""The polynomial maps' coefficient tensors at work (paper.md §2 A0; layout in
:mod:`qrtc.ir.polynomial_maps`): $A\,u^{\otimes k}$ and
$\mathcal F(z^\star + u) - z^\star = b_0 + \sum_k A_k u^{\otimes k}$ without forming
$u^{\otimes k}$, and $A_k$ as an explicit $d \times d^k$ CSR matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
from numpy.typing import NDArray

from qrtc.ir.polynomial_maps import PolynomialMap, SparseTensor

__all__ = ["apply_map", "apply_tensor", "assemble_tensor_matrix"]


def apply_tensor(tensor: SparseTensor, u: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""$A\,u^{\otimes k}$, shape ``(d,)``, for ``u`` of shape ``(d,)``, without forming
    $u^{\otimes k}$."""
    products = tensor.values * np.prod(u[tensor.columns], axis=1)
    return np.bincount(tensor.rows, weights=products, minlength=tensor.size).astype(np.float64)


def apply_map(polynomial: PolynomialMap, u: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""$\mathcal F(z^\star + u) - z^\star = b_0 + \sum_{k=1}^q A_k u^{\otimes k}$ for the
    deviation ``u``, shape ``(d_z,)``."""
    out = polynomial.constant.copy()
    for term in polynomial.terms:
        if term.nnz:
            out += apply_tensor(term, u)
    return out


def assemble_tensor_matrix(tensor: SparseTensor) -> scipy.sparse.csr_array:
    r"""$A \in \mathbb R^{d \times d^k}$ as CSR, columns at the flat multi-indices
    $\sum_i a_i d^{k-i}$ (small sizes only)."""
    return scipy.sparse.csr_array(
        (tensor.values, (tensor.rows, tensor.flat_columns())),
        shape=(tensor.size, tensor.size**tensor.degree),
    )
