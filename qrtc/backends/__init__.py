"""Backends: input and output of compiled stages, besides lowering them.

:mod:`~qrtc.backends.simulate` (qsim and cirq.Simulator, post-selection, the simulation's size
and time model), :mod:`~qrtc.backends.qasm` and :mod:`~qrtc.backends.qiskit_export`
(OpenQASM, Qiskit), :mod:`~qrtc.backends.export` (MatrixMarket + JSON),
:mod:`~qrtc.backends.plots` (PNG figures), :mod:`~qrtc.backends.assumptions` (the assumption
report). Backends import the IR, circuits and shared numerics, never the driver or the passes.
Optional dependencies (matplotlib, qiskit) are imported inside the function that needs them,
so importing any backend module always works.
"""
