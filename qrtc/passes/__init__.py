"""Lowering passes, one module per arrow of the pipeline (shared/design.md §1)."""

from __future__ import annotations

from qrtc.passes.derive_polynomial_maps import derive_polynomial_maps

__all__ = ["derive_polynomial_maps"]
