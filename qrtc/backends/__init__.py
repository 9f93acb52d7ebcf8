"""Backends: what is done with a compiled spec besides lowering it (reports, exports, plots).

One module per backend: :mod:`qrtc.backends.assumptions` (the assumption report),
:mod:`qrtc.backends.export` (MatrixMarket + JSON), :mod:`qrtc.backends.plots` (PNG figures).
Backends may import :mod:`qrtc.ir` and :mod:`qrtc.passes`; passes never import backends.
Optional dependencies (matplotlib) are imported lazily inside the function that needs them, so
importing any backend module always works.
"""
