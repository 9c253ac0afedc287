"""Every company setting, declared once: its type, default and meaning; read by the API and the workers.

A setting a company never changed has no row and reads as its default, so adding a setting is
one line here. `timezone` and `default_country` live on the company row itself (the API's
company resource shows them too); the others are `Setting` rows holding JSON.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from peewee import EXCLUDED
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from db.campaigns import MAX_PAUSE_EVERY
from db.companies import Company, Setting


def known_timezone(name: str) -> str:
    """`name` if it is an IANA timezone, else a ValueError (ZoneInfo looks the name up as a file: a very long
    one is an OSError)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name[:64]!r} is not an IANA timezone such as America/Sao_Paulo") from None
    return name


def keywords(words: list[str]) -> list[str]:
    """Lower-cased, stripped, without blanks or repeats, in the order given."""
    return list(dict.fromkeys(word.strip().casefold() for word in words if word.strip()))


class CampaignThrottle(BaseModel):
    """How fast a campaign sends: the API's `throttle` object, and the company's default of it (the
    `campaign_throttle` setting), which fills what a new campaign's throttle leaves out."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True,
                              allow_inf_nan=False)

    per_minute: int = Field(20, ge=1, le=6000)
    jitter_seconds: float = Field(10, ge=0, le=3600, description="each tick moves by up to ± this")
    pause_every: int = Field(50, ge=0, le=MAX_PAUSE_EVERY,
                             description="a long pause after this many sends; 0 never pauses")
    pause_seconds: float = Field(60, ge=0, le=86400)


@dataclass(frozen=True)
class SettingSpec:
    type: Any
    default: Any
    description: str
    company_column: str | None = None

    @property
    def adapter(self) -> TypeAdapter:
        return TypeAdapter(self.type)


Text = Annotated[str, Field(max_length=4096)]
Timezone = Annotated[str, Field(max_length=64), AfterValidator(known_timezone)]

REGISTRY: dict[str, SettingSpec] = {
    "timezone": SettingSpec(Timezone, "UTC",
                            "IANA timezone for business hours, schedules and reports", "timezone"),
    "default_country": SettingSpec(Annotated[str, Field(pattern=r"^[A-Z]{2}$")], "BR",
                                   "ISO country whose numbers may be written without +code", "default_country"),
    "auto_close_after_hours": SettingSpec(Annotated[int, Field(ge=0, le=8760)], 0,
                                          "close a ticket idle this many hours; 0 never closes"),
    "greeting_enabled": SettingSpec(bool, True, "send the queue's greeting when a ticket opens"),
    "out_of_hours_enabled": SettingSpec(bool, True, "answer with the queue's out-of-hours message when closed"),
    "sign_messages": SettingSpec(bool, False, "prefix agents' messages with their name"),
    "accepted_message": SettingSpec(Text, "", "sent to the contact when an agent takes their ticket, as Whaticket's "
                                              "greeting on acceptance (\"I'm {{agent}}, I'll take it from here\"); "
                                              "empty sends nothing"),
    "transferred_message": SettingSpec(Text, "", "sent to the contact when their ticket is transferred (to "
                                                 "{{queue}}, or {{agent}}); empty sends nothing"),
    "send_read_receipts": SettingSpec(bool, True, "show contacts blue ticks when an agent marks their ticket read"),
    "agents_see_unqueued_tickets": SettingSpec(bool, True, "agents see pending tickets that have no queue"),
    "rating_enabled": SettingSpec(bool, False, "ask the contact to rate the service (1 to 5) when an agent closes "
                                                "their ticket; the answer rates that ticket"),
    "rating_message": SettingSpec(Text, "How would you rate our service? Reply with a number from 1 (poor) to "
                                        "5 (excellent).", "the question sent when a ticket closes"),
    "rating_thanks_message": SettingSpec(Text, "Thank you for your rating!", "answered to a rating; empty sends "
                                                                             "nothing"),
    "rating_as_poll": SettingSpec(bool, False, "ask the rating as a WhatsApp poll the contact taps (1 to 5 stars, the "
                                               "question its first 255 characters); a written number still counts"),
    "reject_calls": SettingSpec(bool, False, "reject WhatsApp calls to the company's numbers"),
    "call_rejected_message": SettingSpec(Text, "", "sent after a rejected call; empty sends nothing"),
    "campaign_throttle": SettingSpec(CampaignThrottle, CampaignThrottle().model_dump(by_alias=True),
                                     "default pacing of campaigns"),
    "opt_out_keywords": SettingSpec(Annotated[list[Annotated[str, Field(max_length=50)]], Field(max_length=50),
                                              AfterValidator(keywords)],
                                    ["stop", "sair", "parar", "cancelar", "descadastrar", "unsubscribe"],
                                    "a contact who sends one of these words (case-insensitive) is opted out"),
    "opt_out_reply": SettingSpec(Text, "You will not receive more messages from us.",
                                 "answered to a contact who opts out; empty sends nothing"),
    "mfa_required": SettingSpec(bool, False, "every user must turn on two-step login: until they do, they reach only "
                                             "their profile and its two-step setup"),
}


def stored_form(key: str, value: Any) -> Any:
    """A validated value as JSON (objects with the API's camelCase keys)."""
    return REGISTRY[key].adapter.dump_python(value, mode="json", by_alias=True)


def company_settings(company_id: int) -> dict[str, Any]:
    """Every setting of the company: what it set, else the default."""
    company = Company.get_by_id(company_id)
    stored = {row.key: row.value for row in Setting.select().where(Setting.company == company_id)}
    values = {}
    for key, spec in REGISTRY.items():
        if spec.company_column:
            values[key] = getattr(company, spec.company_column)
        else:
            values[key] = stored.get(key, spec.default)
    return values


def company_setting(company_id: int, key: str) -> Any:
    """One setting of the company (KeyError for a key the registry does not declare)."""
    spec = REGISTRY[key]
    if spec.company_column:
        return getattr(Company.get_by_id(company_id), spec.company_column)
    row = Setting.get_or_none(Setting.company == company_id, Setting.key == key)
    return spec.default if row is None else row.value


RECENT_SECONDS = 10.0
_recent: dict[tuple[int, str], tuple[float, Any]] = {}


def recent_company_setting(company_id: int, key: str) -> Any:
    """`company_setting` as this process read it within the last `RECENT_SECONDS`: for a request's hot path
    (`POST /api/messages` reads `sign_messages`), where a query per request costs more than a change that
    takes a few seconds to reach every process."""
    now = time.monotonic()
    read_at, value = _recent.get((company_id, key), (0.0, None))
    if now - read_at > RECENT_SECONDS:
        value = company_setting(company_id, key)
        _recent[(company_id, key)] = (now, value)
    return value


def forget_recent_settings(company_id: int | None = None) -> None:
    """Drop what `recent_company_setting` keeps of the company (of every company: None) in this process."""
    for cached in [cached for cached in _recent if company_id is None or cached[0] == company_id]:
        _recent.pop(cached, None)


def save_company_settings(company_id: int, changes: dict[str, Any]) -> None:
    """Write validated values (JSON form); None puts a setting back to its default. This process forgets what
    it kept of the company's settings (`recent_company_setting`); the others, within seconds."""
    forget_recent_settings(company_id)
    company_columns = {}
    for key, value in changes.items():
        spec = REGISTRY[key]
        if spec.company_column:
            company_columns[spec.company_column] = spec.default if value is None else value
        elif value is None:
            Setting.delete().where(Setting.company == company_id, Setting.key == key).execute()
        else:
            Setting.insert(company=company_id, key=key, value=value).on_conflict(
                conflict_target=[Setting.company, Setting.key], update={Setting.value: EXCLUDED.value}
            ).execute()
    if company_columns:
        Company.update(**company_columns).where(Company.id == company_id).execute()
