"""The base of every request and response schema: camelCase on the wire, unknown fields refused."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, create_model
from pydantic.alias_generators import to_camel


def naive_utc(value: dt.datetime) -> dt.datetime:
    """A time as stored: naive UTC (a time without an offset is taken as UTC already)."""
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def iso_utc(value: dt.datetime | None) -> str | None:
    """Stored times are naive UTC; the API speaks ISO 8601 with a Z."""
    if value is None:
        return None
    return naive_utc(value).isoformat(timespec="milliseconds") + "Z"


UtcDateTime = Annotated[dt.datetime, PlainSerializer(iso_utc, return_type=str)]
UtcDateTimeIn = Annotated[dt.datetime, AfterValidator(naive_utc)]  # a request's time, any offset, as stored


class Schema(BaseModel):
    """A request body: camelCase keys, unknown keys are a 400, strings stripped."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )


class StrictSchema(Schema):
    """A body whose values keep their JSON types: "5" is not a number, 1 is not a boolean."""

    model_config = ConfigDict(**Schema.model_config, strict=True)


class QuerySchema(BaseModel):
    """Query parameters: camelCase, unknown parameters ignored (links carry their own)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class OutSchema(BaseModel):
    """A response body, built from a row with `from_attributes`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class PageQuery(QuerySchema):
    page: int = Field(1, ge=1)
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
