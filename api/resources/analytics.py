"""`/api/analytics/tickets`, `/messages`, `/campaigns` and `/connections`: how the company did over the
last `days` local days (see api/periods.py), for its managers. Every figure is aggregated by the database.

- tickets: opened (created in the period), closed (in the period), pending and open (now); the average
  first-response time of the tickets opened and the average resolution time of those closed; Chatwoot's reply time:
  the average wait of a contact for an agent's answer, of the answers given in the period; per local day, per agent
  (the ticket's agent now) and per queue.
- messages: incoming and outgoing per local day (private notes aside), and the outgoing that failed.
- campaigns: those that ran in the period, with delivery and read rates from receipts (sent ≥ delivered
  ≥ read, as the campaign report counts them).
- connections: the share of the period each number was connected, from its status history.
"""

from __future__ import annotations

import datetime as dt

import peewee
from flask import Blueprint
from peewee import SQL, Case, fn
from pydantic import Field

from api.endpoint import endpoint
from api.periods import Period, PeriodOut, PeriodQuery, company_period, per_local_day
from api.schemas import OutSchema, UtcDateTime
from api.scoping import owned
from api.security import current_principal
from db.base import local_week_hour, seconds_between, utcnow
from db.campaigns import Campaign, CampaignShipping
from db.connection_events import uptime_by_connection
from db.connections import Connection
from db.contacts import Tag
from db.messages import Message, contact_wrote_first, first_asked, is_agent_answer, last_answer
from db.queue_rules import WEEKDAYS
from db.queues import Queue
from db.sla import SLA_KINDS
from db.tickets import SLA_DUE, SlaMiss, SlaWait, Ticket, TicketTag
from db.users import User

blueprint = Blueprint("analytics", __name__, url_prefix="/api/analytics")
MANAGERS = ("super", "admin", "supervisor")


def analytics_view(response: type[PeriodOut], summary: str, scope: str = ""):
    """`@endpoint` as each view here declares it: the period, for managers (and keys with `scope`)."""
    return endpoint(
        summary=summary,
        tags=["analytics"],
        query=PeriodQuery,
        response=response,
        roles=MANAGERS,
        errors=[403],
        scope=scope or (),
    )


def count_if(condition: peewee.Expression) -> peewee.Node:
    return fn.SUM(Case(None, [(condition, 1)], 0))


def average_if(condition: peewee.Expression, value: peewee.Node) -> peewee.Node:
    return fn.AVG(Case(None, [(condition, value)]))


def seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


# --- tickets


class TicketFigures(OutSchema):
    opened: int = Field(description="created in the period")
    closed: int = Field(description="closed in the period")
    pending: int = Field(description="waiting for an agent now")
    open: int = Field(description="being answered now")
    avg_first_response_seconds: float | None = Field(description="of the tickets opened in the period")
    avg_resolution_seconds: float | None = Field(
        description="from opening to closing, of those closed in the period"
    )
    ratings: int = Field(description="ratings the contacts gave in the period (the setting ratingEnabled)")
    avg_rating: float | None = Field(description="their average, 1 to 5")
    replies: int = Field(description="agents' answers sent in the period to a contact who waited for one (the first "
                                     "response too)")
    avg_reply_seconds: float | None = Field(description="how long those contacts waited: from their first message "
                                                        "since the answer before to this one")


class AgentTickets(TicketFigures):
    user_id: int | None = Field(description="null: no agent")
    name: str | None


class QueueTickets(TicketFigures):
    queue_id: int | None = Field(description="null: no queue")
    name: str | None


class TagTickets(TicketFigures):
    tag_id: int
    name: str | None


class TicketDay(OutSchema):
    date: dt.date
    opened: int
    closed: int


class SlaTargetFigures(OutSchema):
    due: int = Field(description="targets of the tickets' SLA policies that fell due in the period, by now")
    missed: int = Field(description="those missed")
    met_rate: float | None = Field(description="the share met, 0 to 1; null: none due")


class SlaFigures(OutSchema):
    first_response: SlaTargetFigures
    next_response: SlaTargetFigures = Field(description="each wait of a contact's for an answer counts once its answer "
                                                        "fell due")
    resolution: SlaTargetFigures


class TicketAnalyticsOut(PeriodOut, TicketFigures):
    per_day: list[TicketDay]
    by_agent: list[AgentTickets]
    by_queue: list[QueueTickets]
    by_tag: list[TagTickets] = Field(description="per tag the tickets have now, as Chatwoot's label reports: a ticket "
                                                 "with two tags counts in both; untagged tickets in none")
    sla: SlaFigures


def sla_figures(period: Period) -> dict:
    """Per SLA target: how many fell due in the period and how many of those were missed (a first response is due
    only where the contact wrote first; a next response once per wait: those that ended, and those still going)."""
    tickets, now = owned(Ticket).select(Ticket.id), utcnow()
    figures = {}
    for kind in SLA_KINDS:
        due = owned(Ticket).where(SLA_DUE[kind].between(period.since, now),
                                  *([contact_wrote_first()] if kind == "first_response" else [])).count()
        if kind == "next_response":
            due += SlaWait.select().where(SlaWait.due_at.between(period.since, now), SlaWait.ticket.in_(tickets)).count()
        missed = SlaMiss.select().where(SlaMiss.kind == kind, SlaMiss.due_at >= period.since,
                                        SlaMiss.ticket.in_(tickets)).count()
        due = max(due, missed)  # a target missed fell due, also when its ticket's policy was taken away since
        figures[kind] = {"due": due, "missed": missed, "met_rate": round(1 - missed / due, 3) if due else None}
    return figures


def ticket_figures(period: Period, group: peewee.Field | None = None) -> list[tuple]:
    """TicketFigures' values in one row for all the tickets, or per `group` after its value: one query over
    the tickets opened or closed in the period or still live."""
    opened = Ticket.created_at >= period.since
    closed = Ticket.closed_at >= period.since
    rated = Ticket.rated_at >= period.since
    figures = [
        count_if(opened),
        count_if(closed),
        count_if(Ticket.status == "pending"),
        count_if(Ticket.status == "open"),
        average_if(
            opened & Ticket.first_response_at.is_null(False),
            seconds_between(Ticket.created_at, Ticket.first_response_at),
        ),
        average_if(closed, seconds_between(Ticket.created_at, Ticket.closed_at)),
        count_if(rated),
        average_if(rated, Ticket.rating),
    ]
    live = Ticket.status != "closed"
    if group is None:
        return list(owned(Ticket).select(*figures).where(opened | closed | rated | live).tuples())
    rows = per_ticket_group(owned(Ticket).select(group, *figures), group)
    return list(rows.where(opened | closed | rated | live).group_by(group).tuples())


def per_ticket_group(query: peewee.ModelSelect, group: peewee.Field) -> peewee.ModelSelect:
    """`query` (over tickets) joined to what `group` is a field of: a ticket's own field, or its tags'."""
    return query.join(TicketTag, on=TicketTag.ticket == Ticket.id) if group.model is TicketTag else query


def reply_figures(period: Period, group: peewee.Field | None = None) -> dict[int | None, tuple]:
    """{the `group`'s value (None without one): (replies, average reply seconds)} of the agents' answers sent in the
    period: each answer timed from the contact's first message since the answer before it; one that answered no one
    waiting (an agent writing twice) is none."""
    answer = Message.alias()
    waited_from = first_asked(answer.ticket, after=last_answer(answer.ticket, before=answer.sent_at),
                              before=answer.sent_at)
    figures = (fn.COUNT(waited_from), fn.AVG(seconds_between(waited_from, answer.sent_at)))
    rows = (answer.select(*([group] if group is not None else []), *figures)
            .join(Ticket, on=answer.ticket == Ticket.id)
            .where(is_agent_answer(answer), answer.sent_at >= period.since,
                   answer.company == current_principal().company_id))
    if group is None:
        return {None: rows.tuples().get()}
    return {value: (count, average) for value, count, average in per_ticket_group(rows, group).group_by(group).tuples()}


def figures_json(row: tuple, replies: tuple | None) -> dict:
    """TicketFigures of a `ticket_figures` row and its group's `reply_figures`."""
    opened, closed, pending, live, first_response, resolution, ratings, rating = row
    answers, reply = replies or (0, None)
    return {
        "opened": opened or 0,
        "closed": closed or 0,
        "pending": pending or 0,
        "open": live or 0,
        "avg_first_response_seconds": seconds(first_response),
        "avg_resolution_seconds": seconds(resolution),
        "ratings": ratings or 0,
        "avg_rating": None if rating is None else round(float(rating), 2),
        "replies": answers,
        "avg_reply_seconds": seconds(reply),
    }


def breakdown(period: Period, group: peewee.Field, model: type[peewee.Model], key: str) -> list[dict]:
    """The figures per `group` (a foreign key to `model`), named, busiest first."""
    rows, replies = ticket_figures(period, group), reply_figures(period, group)
    names = dict(model.select(model.id, model.name).where(model.id.in_([row[0] for row in rows])).tuples())
    items = [{key: row[0], "name": names.get(row[0]), **figures_json(row[1:], replies.get(row[0]))} for row in rows]
    return sorted(items, key=lambda item: (-item["opened"] - item["closed"], item["name"] or ""))


@blueprint.get("/tickets")
@analytics_view(
    TicketAnalyticsOut,
    "Tickets over the last days: opened, closed, pending, first-response, reply and resolution times, per day, "
    "agent, queue and tag; how many of their SLA targets were met",
    scope="tickets:read",
)
def ticket_analytics(query: PeriodQuery):
    period = company_period(query.days)
    opened = per_local_day(owned(Ticket), Ticket.created_at, period)
    closed = per_local_day(owned(Ticket), Ticket.closed_at, period)
    return TicketAnalyticsOut(
        **period.out(),
        **figures_json(ticket_figures(period)[0], reply_figures(period).get(None)),
        per_day=[
            {"date": date, "opened": o, "closed": c}
            for date, o, c in zip(period.dates, opened, closed, strict=True)
        ],
        by_agent=breakdown(period, Ticket.user, User, "user_id"),
        by_queue=breakdown(period, Ticket.queue, Queue, "queue_id"),
        by_tag=breakdown(period, TicketTag.tag, Tag, "tag_id"),
        sla=sla_figures(period),
    )


# --- messages


class MessageDay(OutSchema):
    date: dt.date
    incoming: int
    outgoing: int


class TrafficDay(OutSchema):
    weekday: str = Field(description="mon to sun")
    hours: list[int] = Field(description="the contacts' messages in each local hour of that weekday, 00:00 first")


class MessageAnalyticsOut(PeriodOut):
    incoming: int
    outgoing: int
    failed: int = Field(description="outgoing messages of the period that failed")
    per_day: list[MessageDay]
    traffic: list[TrafficDay] = Field(description="when the contacts write, as Chatwoot's conversation traffic: their "
                                                  "messages of the period by weekday and local hour, to staff by")


@blueprint.get("/messages")
@analytics_view(MessageAnalyticsOut, "Messages in and out per day over the last days", scope="messages:read")
def message_analytics(query: PeriodQuery):
    period = company_period(query.days)
    messages = owned(Message).where(Message.private == False)  # noqa: E712  (notes are not messages sent)
    incoming = per_local_day(messages.where(Message.direction == "in"), Message.created_at, period)
    outgoing = per_local_day(messages.where(Message.direction == "out"), Message.created_at, period)
    failed = messages.where(
        Message.direction == "out", Message.status == "failed", Message.created_at >= period.since
    ).count()
    hour = local_week_hour(Message.created_at, period.timezone)
    by_hour = dict(messages.select(hour, fn.COUNT(Message.id)).where(
        Message.direction == "in", Message.created_at >= period.since).group_by(SQL("1")).tuples())
    return MessageAnalyticsOut(
        **period.out(),
        incoming=sum(incoming),
        outgoing=sum(outgoing),
        failed=failed,
        per_day=[
            {"date": date, "incoming": i, "outgoing": o}
            for date, i, o in zip(period.dates, incoming, outgoing, strict=True)
        ],
        traffic=[{"weekday": weekday, "hours": [by_hour.get(day * 24 + h, 0) for h in range(24)]}
                 for day, weekday in enumerate(WEEKDAYS)],
    )


# --- campaigns


class CampaignFigures(OutSchema):
    total: int = Field(description="recipients in the ledger")
    sent: int
    delivered: int
    read: int
    failed: int
    delivery_rate: float | None = Field(description="delivered / sent")
    read_rate: float | None = Field(description="read / sent")


class CampaignAnalytics(CampaignFigures):
    id: int
    name: str
    status: str
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None


class CampaignAnalyticsOut(PeriodOut):
    totals: CampaignFigures
    campaigns: list[CampaignAnalytics]


def recipient_status() -> peewee.Node:
    """`workers.campaigns.delivery_status` in SQL: the ledger's status, or its message's once handed over."""
    handed_over = (CampaignShipping.status == "sent") & Message.status.is_null(False)
    message_status = Case(None, [(Message.status.in_(("queued", "sending")), "queued")], Message.status)
    return Case(None, [(handed_over, message_status)], CampaignShipping.status)


def campaign_counts(campaign_ids: list[int]) -> dict[int, tuple[int, int, int, int, int]]:
    """(total, sent, delivered, read, failed) per campaign, from the ledger and the receipts."""
    status = recipient_status()
    rows = (
        CampaignShipping.select(
            CampaignShipping.campaign,
            fn.COUNT(CampaignShipping.id),
            count_if(status.in_(("sent", "delivered", "read"))),
            count_if(status.in_(("delivered", "read"))),
            count_if(status == "read"),
            count_if(status == "failed"),
        )
        .join(Message, peewee.JOIN.LEFT_OUTER, on=(CampaignShipping.message == Message.id))
        .where(CampaignShipping.campaign.in_(campaign_ids))
        .group_by(CampaignShipping.campaign)
        .tuples()
    )
    return {campaign_id: tuple(int(n or 0) for n in counts) for campaign_id, *counts in rows}


def rates(total: int, sent: int, delivered: int, read: int, failed: int) -> dict:
    return {
        "total": total,
        "sent": sent,
        "delivered": delivered,
        "read": read,
        "failed": failed,
        "delivery_rate": round(delivered / sent, 4) if sent else None,
        "read_rate": round(read / sent, 4) if sent else None,
    }


@blueprint.get("/campaigns")
@analytics_view(
    CampaignAnalyticsOut,
    "Campaigns that ran in the last days, with their delivery and read rates",
    scope="campaigns:write",
)
def campaign_analytics(query: PeriodQuery):
    period = company_period(query.days)
    campaigns = list(
        owned(Campaign)
        .where(
            Campaign.started_at.is_null(False),
            Campaign.finished_at.is_null() | (Campaign.finished_at >= period.since),
        )
        .order_by(Campaign.started_at.desc(), Campaign.id.desc())
    )
    counts = campaign_counts([campaign.id for campaign in campaigns])
    nothing = (0, 0, 0, 0, 0)
    totals = [sum(column) for column in zip(*counts.values(), strict=True)] or nothing
    return CampaignAnalyticsOut(
        **period.out(),
        totals=rates(*totals),
        campaigns=[
            {
                "id": c.id,
                "name": c.name,
                "status": c.status,
                "started_at": c.started_at,
                "finished_at": c.finished_at,
                **rates(*counts.get(c.id, nothing)),
            }
            for c in campaigns
        ],
    )


# --- connections


class ConnectionUptime(OutSchema):
    id: int
    name: str
    status: str = Field(description="now")
    uptime: float | None = Field(description="connected / observed, 0..1; null with no history in the period")
    connected_seconds: float
    observed_seconds: float = Field(
        description="the period, from the connection's first recorded status if later"
    )
    disconnects: int


class ConnectionAnalyticsOut(PeriodOut):
    connections: list[ConnectionUptime]


@blueprint.get("/connections")
@analytics_view(
    ConnectionAnalyticsOut, "Each connection's uptime over the last days, from its status history"
)
def connection_analytics(query: PeriodQuery):
    period = company_period(query.days)
    connections = list(owned(Connection).order_by(Connection.name))
    uptimes = uptime_by_connection(owned(Connection).select(Connection.id), period.since, period.until)
    items = []
    for connection in connections:
        uptime = uptimes.get(connection.id)
        items.append(
            {
                "id": connection.id,
                "name": connection.name,
                "status": connection.status,
                "uptime": uptime.ratio if uptime else None,
                "connected_seconds": round(uptime.connected_seconds, 1) if uptime else 0.0,
                "observed_seconds": round(uptime.observed_seconds, 1) if uptime else 0.0,
                "disconnects": uptime.disconnects if uptime else 0,
            }
        )
    return ConnectionAnalyticsOut(**period.out(), connections=items)
