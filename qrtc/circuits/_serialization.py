"""cirq JSON for the package's frozen dataclass gates: every field, under the ``qrtc`` namespace.

A gate's JSON object is ``{"cirq_type": "qrtc.<Class>", <field>: <value>, ...}``; tuples come
back from JSON as lists and are turned into tuples again, numpy tables are handled by
:class:`qrtc.circuits.lookup.Table` itself. The resolver that maps ``qrtc.<Class>`` back to the
class is :func:`qrtc.circuits.serialization.json_resolver`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Self

NAMESPACE = "qrtc"


class JsonDataclass:
    """Mixin: ``_json_namespace_``, ``_json_dict_`` and ``_from_json_dict_`` from the fields."""

    @classmethod
    def _json_namespace_(cls) -> str:
        return NAMESPACE

    def _json_dict_(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def _from_json_dict_(cls, **kwargs: Any) -> Self:
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            if field.name not in kwargs:
                continue
            value = kwargs[field.name]
            # Annotations are strings here (``from __future__ import annotations``).
            if str(field.type).startswith("tuple") and isinstance(value, list):
                value = tuple(value)
            values[field.name] = value
        return cls(**values)
