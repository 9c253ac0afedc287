"""The base of every request and response schema: camelCase on the wire, unknown fields refused."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Iterator
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    create_model,
    field_validator,
)
from pydantic.alias_generators import to_camel

from api.errors import ValidationFailed

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1  # PostgreSQL's BIGINT, SQLite's INTEGER and Redis's integers
INT32_MAX = 2**31 - 1  # PostgreSQL's INTEGER: the column of plans' limits and price, open-ticket caps, priorities
MAX_PAGE = 10_000_000  # past any list paged through; its offset (at 500 a page) fits every integer above


def naive_utc(value: dt.datetime) -> dt.datetime:
    """A time as stored: naive UTC (a time without an offset is taken as UTC already)."""
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def iso_utc(value: dt.datetime | None) -> str | None:
    """Stored times are naive UTC; the API speaks ISO 8601 with a Z."""
    if value is None:
        return None
    return naive_utc(value).isoformat(timespec="milliseconds") + "Z"


def stored_time(value: dt.datetime) -> dt.datetime:
    """A request's time as stored; one that naive UTC cannot hold (year 1 at +14:00) is invalid, not a 500."""
    try:
        return naive_utc(value)
    except OverflowError:
        raise ValueError("the time falls outside the years 1 to 9999 in UTC") from None


UtcDateTime = Annotated[dt.datetime, PlainSerializer(iso_utc, return_type=str)]
UtcDateTimeIn = Annotated[dt.datetime, AfterValidator(stored_time)]  # a request's time, any offset, as stored
Int32 = Annotated[int, Field(le=INT32_MAX)]  # kept in an INTEGER column; each field sets its own lower bound


def numbers_in(value: Any) -> Iterator[int | float]:
    """Every number in `value`, or in its lists, sets and dicts at any depth."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from numbers_in(item)
    elif isinstance(value, int | float):
        yield value


class RequestModel(BaseModel):
    """What a client sends: NaN, an infinity (JSON's 1e400) or an integer no database can hold is a 400
    naming its field, not a 500 from the database (or Redis) it reaches later, nor a JSON no client can read.

    `allow_inf_nan` words it for a float field; the validator catches the rest, in untyped JSON too."""

    model_config = ConfigDict(allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def storable_numbers(cls, value: Any) -> Any:
        for number in numbers_in(value):
            if isinstance(number, float) and not math.isfinite(number):
                raise ValueError("numbers must be finite, not NaN or Infinity")
            if isinstance(number, int) and not BIGINT_MIN <= number <= BIGINT_MAX:
                raise ValueError(f"numbers must lie between {BIGINT_MIN} and {BIGINT_MAX}")
        return value


class Schema(RequestModel):
    """A request body: camelCase keys, unknown keys are a 400, strings stripped."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )

    def changes(self, not_null: Collection[str] = ()) -> dict[str, Any]:
        """The fields a PATCH sent, by field name; any of `not_null` sent as null is a 400 (null is how
        a client clears the others)."""
        sent = self.model_dump(exclude_unset=True)
        if nulls := sorted(name for name in not_null if name in sent and sent[name] is None):
            raise ValidationFailed("these fields cannot be null", {to_camel(name): "may not be null" for name in nulls})
        return sent


class StrictSchema(Schema):
    """A body whose values keep their JSON types: "5" is not a number, 1 is not a boolean."""

    model_config = ConfigDict(**Schema.model_config, strict=True)


class QuerySchema(RequestModel):
    """Query parameters: camelCase, unknown parameters ignored (links carry their own)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class OutSchema(BaseModel):
    """A response body, built from a row with `from_attributes`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class PageQuery(QuerySchema):
    page: int = Field(1, ge=1, le=MAX_PAGE, description="a page past the data is empty")
    page_size: int = Field(50, ge=1, le=500)


class ErrorOut(OutSchema):
    error: str
    message: str
    status_code: int
    details: dict[str, Any] = {}


class JobAccepted(OutSchema):
    job_id: str


_pages: dict[type[OutSchema], type[OutSchema]] = {}


def page_of(item: type[OutSchema]) -> type[OutSchema]:
    """The list envelope {items, page, pageSize, total} for one item schema."""
    if item not in _pages:
        _pages[item] = create_model(
            f"{item.__name__.removesuffix('Out')}Page",
            __base__=OutSchema,
            items=(list[item], ...),
            page=(int, ...),
            page_size=(int, ...),
            total=(int, ...),
        )
    return _pages[item]
