"""Configs that gained fields after files recording them were published.

Checkpoint metadata, prepared data's ``meta.json`` and the runs' resolved recipes record configs
as dumped when they were written, and published files are immutable (their sha256 is pinned).
A field added later is therefore left out of every dump while it holds its legacy value (the
behaviour before it existed): old records read back to the same behaviour, and configs dump,
and compare, exactly as they did.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer

__all__ = ["LaterFieldsModel"]


class LaterFieldsModel(BaseModel):
    """A pydantic model whose fields in ``legacy_values`` are not dumped at those values."""

    #: field name -> the value that means "the behaviour from before the field existed"
    legacy_values: ClassVar[dict[str, object]] = {}

    @model_serializer(mode="wrap")
    def _leave_out_legacy_values(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data = handler(self)
        for name, legacy in self.legacy_values.items():
            if name in data and data[name] == legacy:
                del data[name]
        return data
