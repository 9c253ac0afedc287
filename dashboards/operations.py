"""What the operations page shows: connections and their health, campaigns in progress, webhooks' deliveries, gateways.

A super admin sees every company's; a company admin (`company_id` given) only their own.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from dataclasses import dataclass

import peewee
import redis
from peewee import fn

from db.base import utcnow
from db.campaigns import Campaign, CampaignShipping
from db.connections import Connection
from db.webhooks import Webhook, WebhookDelivery
from workers.gateway import HEARTBEAT_PREFIX as GATEWAY_HEARTBEAT_PREFIX
from workers.gateway.process import lease_key
from workers.number_limits import limit_state

RATE_WINDOW = dt.timedelta(minutes=5)  # a campaign's actual rate is its sends over this long
DELIVERY_WINDOW = dt.timedelta(hours=1)  # a webhook's deliveries shown are those of the last hour


@dataclass(frozen=True)
class ConnectionHealth:
    connection: Connection
    gateway: str | None  # the gateway holding its session's lease
    limits: dict  # workers/number_limits.limit_state


@dataclass(frozen=True)
class CampaignProgress:
    campaign: Campaign
    total: int
    left: int  # recipients still queued in the ledger
    per_minute: float  # the pacing asked for
    actual_per_minute: float  # sends over the last RATE_WINDOW

    @property
    def done(self) -> int:
        return self.total - self.left

    @property
    def eta(self) -> dt.timedelta | None:
        """At the actual rate, or the paced one before any send; None for a paused campaign."""
        rate = self.actual_per_minute or self.per_minute
        if self.campaign.status != "running" or not rate:
            return None
        return dt.timedelta(minutes=self.left / rate)


def scoped(
    query: peewee.ModelSelect, model: type[peewee.Model], company_id: int | None
) -> peewee.ModelSelect:
    return query if company_id is None else query.where(model.company == company_id)


def connection_health(client: redis.Redis, company_id: int | None) -> list[ConnectionHealth]:
    connections = list(
        scoped(Connection.select(), Connection, company_id).order_by(Connection.company, Connection.id)
    )
    holders = client.mget([lease_key(c.id) for c in connections]) if connections else []
    return [
        ConnectionHealth(c, holder.decode() if holder else None, limit_state(c.id))
        for c, holder in zip(connections, holders, strict=True)
    ]


def campaigns_in_progress(company_id: int | None, now: dt.datetime | None = None) -> list[CampaignProgress]:
    now = now or utcnow()
    campaigns = list(
        scoped(Campaign.select(), Campaign, company_id)
        .where(Campaign.status.in_(("running", "paused")))
        .order_by(Campaign.id)
    )
    if not campaigns:
        return []
    totals: dict[int, int] = {}
    left: dict[int, int] = {}
    current_run = functools.reduce(operator.or_, ((CampaignShipping.campaign == c.id) &
                                                  (CampaignShipping.run == c.run) for c in campaigns))
    rows = (
        CampaignShipping.select(CampaignShipping.campaign, CampaignShipping.status, peewee.fn.COUNT(1))
        .where(current_run)
        .group_by(CampaignShipping.campaign, CampaignShipping.status)
        .tuples()
    )
    for campaign_id, status, count in rows:
        totals[campaign_id] = totals.get(campaign_id, 0) + count
        if status == "queued":
            left[campaign_id] = count
    recent = dict(
        CampaignShipping.select(CampaignShipping.campaign, peewee.fn.COUNT(1))
        .where(current_run, CampaignShipping.sent_at >= now - RATE_WINDOW)
        .group_by(CampaignShipping.campaign)
        .tuples()
    )
    window_minutes = RATE_WINDOW.total_seconds() / 60
    return [
        CampaignProgress(
            c,
            totals.get(c.id, 0),
            left.get(c.id, 0),
            float(c.pacing()["perMinute"]),
            round(recent.get(c.id, 0) / window_minutes, 1),
        )
        for c in campaigns
    ]


@dataclass(frozen=True)
class WebhookHealth:
    webhook: Webhook
    delivered: int  # of its deliveries written in the last DELIVERY_WINDOW
    retrying: int
    failed: int
    last_error: str | None  # of its latest failed or retrying delivery in the window

    @property
    def failing(self) -> bool:
        return bool(self.failed or self.retrying)


def webhook_health(company_id: int | None, now: dt.datetime | None = None) -> list[WebhookHealth]:
    """Each enabled webhook with what became of its deliveries of the last hour, failing ones first: which
    integration stopped taking the events, and why."""
    since = (now or utcnow()) - DELIVERY_WINDOW
    webhooks = list(scoped(Webhook.select(), Webhook, company_id).where(Webhook.enabled).order_by(Webhook.id))
    counts = {(webhook_id, status): count for webhook_id, status, count in (
        WebhookDelivery.select(WebhookDelivery.webhook, WebhookDelivery.status, fn.COUNT(WebhookDelivery.id))
        .where(WebhookDelivery.webhook.in_([w.id for w in webhooks]), WebhookDelivery.created_at >= since)
        .group_by(WebhookDelivery.webhook, WebhookDelivery.status).tuples())}
    rows = [WebhookHealth(w, counts.get((w.id, "delivered"), 0), counts.get((w.id, "pending"), 0),
                          counts.get((w.id, "failed"), 0), latest_error(w.id, since)) for w in webhooks]
    return sorted(rows, key=lambda row: not row.failing)


def latest_error(webhook_id: int, since: dt.datetime) -> str | None:
    return (WebhookDelivery.select(WebhookDelivery.last_error)
            .where(WebhookDelivery.webhook == webhook_id, WebhookDelivery.created_at >= since,
                   WebhookDelivery.last_error.is_null(False))
            .order_by(WebhookDelivery.id.desc()).limit(1).scalar())


def gateways(client: redis.Redis) -> dict[str, str]:
    """Each running gateway and the connections it holds (its heartbeat, workers/gateway/process.py)."""
    return {
        key.decode().removeprefix(GATEWAY_HEARTBEAT_PREFIX): (client.get(key) or b"").decode()
        for key in client.scan_iter(match=GATEWAY_HEARTBEAT_PREFIX + "*")
    }


def redis_info(client: redis.Redis) -> dict:
    info = client.info()
    return {
        "version": info.get("redis_version"),
        "usedMemory": info.get("used_memory_human"),
        "clients": info.get("connected_clients"),
        "uptimeDays": info.get("uptime_in_days"),
    }
