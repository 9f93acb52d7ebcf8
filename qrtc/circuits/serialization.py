"""cirq JSON for circuits built from the package's gates: the resolver to read them back.

Every gate of :mod:`qrtc.circuits` (and :class:`~qrtc.circuits.lookup.Table`) writes itself with
``cirq.to_json`` under the ``qrtc`` namespace (``"cirq_type": "qrtc.XorLookup"``). Reading needs
this module's resolver in front of cirq's own::

    import cirq
    from qrtc.circuits import json_resolver

    text = cirq.to_json(circuit)
    again = cirq.read_json(json_text=text, resolvers=[json_resolver, *cirq.DEFAULT_RESOLVERS])
    assert again == circuit

Tables round-trip exactly (integers, and floats through their shortest exact repr).
"""

from __future__ import annotations

import cirq

from qrtc.circuits._serialization import NAMESPACE
from qrtc.circuits.arithmetic import Increment, LessThanConstant
from qrtc.circuits.controlled import MultiControlledRy, MultiControlledX, SwapRegisters
from qrtc.circuits.lookup import RotationLookup, Table, XorLookup
from qrtc.circuits.qsvt import ProjectorPhase
from qrtc.circuits.sparse_access import IndexOracle
from qrtc.circuits.state_preparation import UniformSuperposition
from qrtc.circuits.time_register import BlockTypeOracle, MixedRadixIncrement
from qrtc.circuits.work import ExplicitWork, WorkQubit

__all__ = ["JSON_TYPES", "json_resolver", "read_json"]

JSON_TYPES: dict[str, type] = {
    f"{NAMESPACE}.{cls.__name__}": cls
    for cls in (
        BlockTypeOracle,
        ExplicitWork,
        Increment,
        IndexOracle,
        LessThanConstant,
        MixedRadixIncrement,
        MultiControlledRy,
        MultiControlledX,
        ProjectorPhase,
        RotationLookup,
        SwapRegisters,
        Table,
        UniformSuperposition,
        WorkQubit,
        XorLookup,
    )
}


def json_resolver(cirq_type: str) -> type | None:
    """The class of a ``"qrtc.<Class>"`` cirq_type, None for any other (cirq's resolver API)."""
    return JSON_TYPES.get(cirq_type)


def read_json(text: str) -> object:
    """``cirq.read_json(json_text=text)`` with :func:`json_resolver` before cirq's resolvers."""
    return cirq.read_json(json_text=text, resolvers=[json_resolver, *cirq.DEFAULT_RESOLVERS])
