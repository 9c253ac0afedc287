"""Per-number send limits, kept in Redis so every worker, gateway and restart shares them.

What campaigns and scheduled messages may send on a number now: a token bucket (a steady rate
with a small burst), hourly and daily caps, quiet hours in the company's timezone, and a warm-up
ramp that lowers the daily cap while a number is new to sending. One Lua script refills, checks
and takes tokens and counts them in the hour's and the day's windows atomically, so any number
of processes asking at once never get more than the limits allow. A caller that gets fewer sends
than it asked for defers the rest (`Grant.wait` says when to come back); nothing is dropped.

Agent replies and plain API sends are not limited and not counted: a customer waiting for an answer
must never be kept waiting by a campaign's budget (README, "Number safety").
The clock is an argument (`now`, Unix seconds) so tests can fix it; hosts keep NTP time.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import redis
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from db.companies import Company
from db.connections import Connection
from wharf.redis_client import redis_client

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
WINDOW_TTL = 2 * 86400  # counters outlive their window long enough for the dashboard to read yesterday's


class SendLimits(BaseModel):
    """A connection's limits (the API's `sendLimits`); the defaults are the README's safe defaults."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", allow_inf_nan=False)

    per_minute: float = Field(10, gt=0, le=600, description="steady rate of the token bucket")
    burst: int = Field(5, ge=1, le=1000, description="sends allowed back to back before the rate applies")
    hourly_cap: int = Field(200, ge=1, le=1_000_000)
    daily_cap: int = Field(1000, ge=1, le=10_000_000, description="per day in the company's timezone")
    quiet_start: str | None = Field("21:00", pattern=HHMM, description="no sends from this local time...")
    quiet_end: str | None = Field(
        "08:00", pattern=HHMM, description="...until this one; null: no quiet hours"
    )
    jitter_seconds: float = Field(
        5, ge=0, le=3600, description="a random extra wait of up to this between sends"
    )
    warmup_first_day: int = Field(
        50,
        ge=0,
        le=10_000_000,
        description="daily cap on the first sending day, doubling daily up to dailyCap; "
        "0: no warm-up (a number with a sending history)",
    )


def limits_of(connection: Connection) -> SendLimits | None:
    """The connection's limits; None (unlimited) for a simulator connection that was given none,
    since the simulated network bans nobody and demos and benchmarks run at the campaign's rate."""
    if connection.send_limits is None:
        return None if connection.transport == "simulator" else SendLimits()
    return SendLimits.model_validate(connection.send_limits)


# KEYS: bucket, hour counter, day counter, cooldown.
# ARGV: now, tokens per second, burst, hourly cap, daily cap (today's, warm-up included), wanted, counter TTL.
# Returns {granted, tokens as text, sent this hour, sent today, cooldown seconds left}.
TAKE = """
local now = tonumber(ARGV[1])
local rate, burst = tonumber(ARGV[2]), tonumber(ARGV[3])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(bucket[1]) or burst, tonumber(bucket[2]) or now
if now > at then tokens = math.min(burst, tokens + (now - at) * rate); at = now end
local hour = tonumber(redis.call('GET', KEYS[2]) or '0')
local day = tonumber(redis.call('GET', KEYS[3]) or '0')
local cooling = redis.call('PTTL', KEYS[4])
local granted = math.min(tonumber(ARGV[6]), math.floor(tokens), tonumber(ARGV[4]) - hour, tonumber(ARGV[5]) - day)
if granted < 0 or cooling > 0 then granted = 0 end
if granted > 0 then
  tokens = tokens - granted
  hour = redis.call('INCRBY', KEYS[2], granted); redis.call('EXPIRE', KEYS[2], ARGV[7])
  day = redis.call('INCRBY', KEYS[3], granted); redis.call('EXPIRE', KEYS[3], ARGV[7])
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('EXPIRE', KEYS[1], ARGV[7])
return {granted, tostring(tokens), hour, day, tostring(math.max(cooling, 0) / 1000)}
"""

# A grant not used after all (fewer recipients left than granted): tokens and counts go back.
GIVE_BACK = """
local burst = tonumber(ARGV[2])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or ARGV[2])
redis.call('HSET', KEYS[1], 'tokens', tostring(math.min(burst, tokens + tonumber(ARGV[1]))))
for i = 2, 3 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[1]) then redis.call('DECRBY', KEYS[i], ARGV[1]) end
end
return 1
"""


def key(connection_id: int, name: str) -> str:
    # The braces keep a number's keys in one Redis Cluster slot, as the scripts need.
    return f"wharf:limits:{{{connection_id}}}:{name}"


@dataclass(frozen=True)
class Window:
    """Where `now` falls for a number: its Redis keys and its local time."""

    connection_id: int
    now: float
    timezone: str

    @property
    def local(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now, ZoneInfo(self.timezone))

    def keys(self) -> list[str]:
        # UTC hours: every timezone's hours start on one (but for a few half-hour zones)
        hour = int(self.now // 3600)
        return [
            key(self.connection_id, "bucket"),
            key(self.connection_id, f"hour:{hour}"),
            key(self.connection_id, f"day:{self.local.date().isoformat()}"),
            key(self.connection_id, "cooldown"),
        ]

    def seconds_to_next_hour(self) -> float:
        return 3600 - self.now % 3600

    def seconds_to_next_day(self) -> float:
        local = self.local
        midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), local.tzinfo)
        return max(1.0, midnight.timestamp() - self.now)


def clock_time(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def quiet_for(limits: SendLimits, local: dt.datetime) -> float:
    """Seconds until the quiet hours end, 0 outside them (a window may span midnight: 21:00-08:00)."""
    if not limits.quiet_start or not limits.quiet_end or limits.quiet_start == limits.quiet_end:
        return 0.0
    start, end = clock_time(limits.quiet_start), clock_time(limits.quiet_end)
    now = local.time().replace(tzinfo=None)
    quiet = start <= now < end if start < end else (now >= start or now < end)
    if not quiet:
        return 0.0
    ends = dt.datetime.combine(local.date(), end, local.tzinfo)
    if ends <= local:
        ends += dt.timedelta(days=1)
    return max(1.0, ends.timestamp() - local.timestamp())


def warmup_day(first_sent_at: dt.datetime | None, now: float) -> int:
    """1 on the number's first sending day (or before it ever sent), 2 the next day, and so on."""
    if first_sent_at is None:
        return 1
    return max(1, int((now - first_sent_at.replace(tzinfo=dt.UTC).timestamp()) // 86400) + 1)


def daily_cap_on(limits: SendLimits, day: int) -> int:
    if not limits.warmup_first_day:
        return limits.daily_cap
    return min(limits.daily_cap, limits.warmup_first_day * 2 ** min(day - 1, 30))


@dataclass(frozen=True)
class Grant:
    granted: int
    wait: float = 0.0  # seconds until more may be granted (0 when all were)
    reason: str | None = None  # why fewer were granted: quiet_hours, cooldown, daily_cap, hourly_cap, rate


def take(client: redis.Redis, window: Window, limits: SendLimits, daily_cap: int, want: int) -> Grant:
    """Up to `want` sends now, taken atomically from the number's bucket and windows."""
    quiet = quiet_for(limits, window.local)
    if quiet:
        return Grant(0, quiet, "quiet_hours")
    rate = limits.per_minute / 60
    granted, tokens, hour, day, cooling = client.eval(
        TAKE,
        4,
        *window.keys(),
        window.now,
        rate,
        limits.burst,
        limits.hourly_cap,
        daily_cap,
        want,
        WINDOW_TTL,
    )
    if granted >= want:
        return Grant(granted)
    if float(cooling) > 0:
        return Grant(granted, float(cooling), "cooldown")
    if day >= daily_cap:
        return Grant(granted, window.seconds_to_next_day(), "daily_cap")
    if hour >= limits.hourly_cap:
        return Grant(granted, window.seconds_to_next_hour(), "hourly_cap")
    return Grant(granted, max(0.05, (1 - float(tokens) % 1) / rate), "rate")


def window_of(connection: Connection, now: float) -> Window:
    timezone = Company.select(Company.timezone).where(Company.id == connection.company_id).scalar() or "UTC"
    return Window(connection.id, now, timezone)


def acquire(connection: Connection, want: int, now: float | None = None) -> Grant:
    """Up to `want` limited sends on the connection now; see the module's docstring."""
    limits = limits_of(connection)
    if limits is None or want <= 0:
        return Grant(max(want, 0))
    now = time.time() if now is None else now
    grant = take(
        redis_client(),
        window_of(connection, now),
        limits,
        daily_cap_on(limits, warmup_day(connection.first_sent_at, now)),
        want,
    )
    if grant.granted and connection.first_sent_at is None:  # the warm-up counts from the first limited send
        first = dt.datetime.fromtimestamp(now, dt.UTC).replace(tzinfo=None)
        Connection.update(first_sent_at=first).where(
            Connection.id == connection.id, Connection.first_sent_at.is_null()
        ).execute()
        connection.first_sent_at = first
    return grant


def give_back(connection: Connection, count: int, now: float | None = None) -> None:
    """Return sends granted but not used, so the number's budget is not spent on nobody."""
    limits = limits_of(connection)
    if limits is None or count <= 0:
        return
    keys = window_of(connection, time.time() if now is None else now).keys()[:3]
    redis_client().eval(GIVE_BACK, 3, *keys, count, limits.burst)


def jitter_of(connection: Connection) -> float:
    limits = limits_of(connection)
    return limits.jitter_seconds if limits else 0.0


def cool_down(connection_id: int, seconds: float) -> bool:
    """No limited send on the number for `seconds` (after a ban signal); True when no cool-down was on."""
    return bool(redis_client().set(key(connection_id, "cooldown"), 1, px=int(seconds * 1000), nx=True))


def limit_state(connection_id: int, now: float | None = None) -> dict:
    """The number's limits and where it stands, for the dashboard (read only: takes nothing)."""
    connection = Connection.get_by_id(connection_id)
    limits = limits_of(connection)
    now = time.time() if now is None else now
    window = window_of(connection, now)
    bucket_key, hour_key, day_key, cooldown_key = window.keys()
    client = redis_client()
    tokens, at = client.hmget(bucket_key, "tokens", "at")
    hour, day = (int(client.get(name) or 0) for name in (hour_key, day_key))
    state = {
        "connectionId": connection_id,
        "limited": limits is not None,
        "sentThisHour": hour,
        "sentToday": day,
        "warmupDay": warmup_day(connection.first_sent_at, now),
        "cooldownSeconds": max(client.pttl(cooldown_key) or 0, 0) / 1000,
    }
    if limits is None:
        return {
            **state,
            "limits": None,
            "tokens": None,
            "hourlyCap": None,
            "dailyCap": None,
            "quietNow": False,
        }
    if tokens is None:
        tokens = limits.burst
    else:
        tokens = min(limits.burst, float(tokens) + max(0.0, now - float(at)) * limits.per_minute / 60)
    return {
        **state,
        "limits": limits.model_dump(by_alias=True),
        "tokens": math.floor(tokens * 100) / 100,
        "hourlyCap": limits.hourly_cap,
        "dailyCap": daily_cap_on(limits, state["warmupDay"]),
        "quietNow": quiet_for(limits, window.local) > 0,
    }
