"""Types shared by every JSON document bot_core reads or writes.

Why: the contract writes every timestamp as ISO-8601 UTC with an explicit ``+00:00`` offset,
while pydantic's default would write ``Z``; documents we write must be immutable and reject
unknown fields, so a typo in a field name fails loudly instead of vanishing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)

__all__ = ["Document", "SparseDocument", "UtcDateTime", "as_utc"]


def as_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UtcDateTime = Annotated[
    datetime,
    AfterValidator(as_utc),
    PlainSerializer(lambda value: value.isoformat(), return_type=str, when_used="json"),
]
"""A timezone-aware UTC datetime, written as ``2024-06-12T10:00:00+00:00``."""


class Document(BaseModel):
    """Base of every document we write: frozen, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SparseDocument(Document):
    """A document whose fields listed in ``_omit_when_none`` are left out of JSON while ``None``.

    Why: the contract marks some fields as present only when they apply ("+ error",
    "+ dry_run"); writing them as ``null`` would tell the Report Center something else.
    """

    _omit_when_none: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _drop_unset_optionals(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for name in self._omit_when_none:
                if data.get(name) is None:
                    data.pop(name, None)
        return data
