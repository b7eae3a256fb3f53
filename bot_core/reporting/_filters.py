"""Report filters (contract section 2): one model, validated in one place.

The CLI, the Prefect flows and the tests all build a :class:`Filters` through
:func:`parse_filters`, so a malformed date or a limit of 0 is refused with the same one-line
message everywhere, naming the command-line option an operator would type.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from bot_core._types import Document, UtcDateTime
from bot_core.errors import InvalidFilterError

__all__ = [
    "ExportsFilter",
    "Filters",
    "SortDirection",
    "SortKey",
    "SummaryStatusFilter",
    "parse_filters",
    "parse_timestamp",
    "within_age_window",
]

SortKey = Literal["updated_at", "created_at", "name", "size"]
SortDirection = Literal["asc", "desc"]
SummaryStatusFilter = Literal["any", "valid", "missing", "invalid"]
ExportsFilter = Literal["any", "yes", "no"]

_OPTION_NAMES = {
    "since": "--since",
    "until": "--until",
    "categories": "--category",
    "summary_status": "--summary-status",
    "limit": "--limit",
    "offset": "--offset",
    "sort_key": "--sort",
    "sort_direction": "--sort-direction",
    "query": "--query",
    "has_exports": "--has-exports",
}


def parse_timestamp(value: object) -> object:
    """Accept an ISO-8601 date or datetime (``Z`` or an offset allowed; naive means UTC).

    A date alone means 00:00 UTC that day.  Anything else is left for pydantic to refuse.
    """
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("expected an ISO-8601 date or datetime, got a blank value")
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                "expected an ISO-8601 date or datetime such as 2024-04-01 or 2024-04-01T12:00:00Z"
            ) from None
    return value


_Timestamp = Annotated[UtcDateTime, BeforeValidator(parse_timestamp)]


class Filters(Document):
    """Which reports an overview, purge, archive or flow acts on, normalised."""

    since: _Timestamp | None = Field(default=None, description="updated_at >= since")
    until: _Timestamp | None = Field(default=None, description="updated_at <= until")
    categories: list[str] = Field(default_factory=list, description="lower-cased, any of")
    summary_status: SummaryStatusFilter = "any"
    limit: int | None = Field(default=None, gt=0)
    offset: int | None = Field(default=None, ge=0)
    sort_key: SortKey = "updated_at"
    sort_direction: SortDirection = "desc"
    query: str | None = Field(default=None, description="case-insensitive substring")
    has_exports: ExportsFilter = "any"

    @field_validator("categories", mode="before")
    @classmethod
    def _normalise_categories(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            return value
        seen: list[str] = []
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise ValueError("a category must be a non-blank name")
            name = item.strip().lower()
            if name not in seen:
                seen.append(name)
        return seen

    @field_validator("query", mode="before")
    @classmethod
    def _blank_query_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _since_not_after_until(self) -> Filters:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError(
                f"--since ({self.since.isoformat()}) is after --until ({self.until.isoformat()})"
            )
        return self


def _describe(error: Any) -> str:
    location: tuple[Any, ...] = tuple(error.get("loc") or ())
    field = str(location[0]) if location else ""
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    if not field:
        return message
    option = _OPTION_NAMES.get(field, field)
    shown = error.get("input")
    position = location[1] if len(location) > 1 else None
    if isinstance(shown, list | tuple) and isinstance(position, int) and position < len(shown):
        shown = shown[position]
    return f"invalid {option} value {shown!r}: {message}"


def parse_filters(**values: Any) -> Filters:
    """Build :class:`Filters` from raw values; raise :class:`InvalidFilterError` on bad input.

    Keys are the model's field names; ``None`` means "not given".
    """
    given = {key: value for key, value in values.items() if value is not None}
    try:
        return Filters.model_validate(given)
    except ValidationError as exc:
        raise InvalidFilterError(_describe(exc.errors()[0])) from exc


def within_age_window(
    filters: Filters,
    *,
    now: datetime,
    older_than_days: int | None = None,
    newer_than_days: int | None = None,
) -> Filters:
    """``filters`` with ``until = now - older_than_days`` and ``since = now - newer_than_days``.

    Why: a scheduled run means a rolling window ("smoke reports older than 30 days"), not a
    date typed once into a deployment.  The window is resolved once, at the start of the run,
    so the sealed plan and the audit records carry the actual dates.  Giving both a date and
    the matching age is refused rather than guessed.
    """
    updates: dict[str, datetime] = {}
    for days, field, option, opposite in (
        (older_than_days, "until", "older_than_days", filters.until),
        (newer_than_days, "since", "newer_than_days", filters.since),
    ):
        if days is None:
            continue
        if days < 0:
            raise InvalidFilterError(f"{option} must be 0 or more, got {days}")
        if opposite is not None:
            raise InvalidFilterError(f"give either {field} or {option}, not both")
        updates[field] = now - timedelta(days=days)
    if not updates:
        return filters
    return parse_filters(**{**filters.model_dump(), **updates})
