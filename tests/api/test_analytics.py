"""GET /api/analytics/tickets, /messages, /campaigns and /connections: per company, per local day of its timezone.

The company is in São Paulo (UTC-3): a row at 22:30 there is on the next day in UTC, so a day counted in
UTC would put it on the wrong day, and one a minute before the window's local midnight would be inside it.
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from db.base import local_week_hour, utcnow
from db.connection_events import ConnectionEvent, record_connection_status
from db.messages import Message
from db.queue_rules import WEEKDAYS
from db.tickets import TicketTag
from tests.workers.import_helpers import on_sqlite
from workers.campaigns import campaign_report
from workers.connection_events import record_connection_event

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
MINUTE = dt.timedelta(minutes=1)


def local_midnight_utc(days_ago: int) -> dt.datetime:
    """Midnight in São Paulo `days_ago` days before today there, as naive UTC."""
    today = dt.datetime.now(SAO_PAULO).date()
    midnight = dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(), tzinfo=SAO_PAULO)
    return midnight.astimezone(dt.UTC).replace(tzinfo=None)


def local_days(count: int) -> list[str]:
    today = dt.datetime.now(SAO_PAULO).date()
    return [(today - dt.timedelta(days=n)).isoformat() for n in reversed(range(count))]


@pytest.fixture
def company(factories):
    return factories.company(timezone="America/Sao_Paulo")


@pytest.fixture
def headers(factories, app, company):
    return factories.auth_headers(app, factories.user(company=company, role="supervisor"))


def test_tickets_count_local_days_agents_and_queues(client, factories, company, headers):
    today, yesterday = local_midnight_utc(0), local_midnight_utc(1)
    agent = factories.user(company=company, role="agent", name="Ana")
    sales, support = factories.queue(company, name="Sales"), factories.queue(company, name="Support")
    late_evening = today - 90 * MINUTE  # 22:30 yesterday in São Paulo, 01:30 today in UTC
    factories.ticket(
        company,
        user=agent,
        queue=sales,
        status="closed",
        created_at=late_evening,
        first_response_at=late_evening + MINUTE,
        closed_at=today + 10 * MINUTE,
        rating=4,
        rated_at=today + 11 * MINUTE,
    )
    answered = factories.ticket(
        company,
        user=agent,
        queue=sales,
        status="open",
        created_at=today + MINUTE,
        first_response_at=today + 3 * MINUTE,
    )
    waiting = factories.ticket(company, queue=support, status="pending", created_at=today + 2 * MINUTE)
    vip, billing = factories.tag(company, name="VIP"), factories.tag(company, name="Billing")
    TicketTag.insert_many([(answered.id, vip.id), (answered.id, billing.id), (waiting.id, vip.id)],
                          fields=[TicketTag.ticket, TicketTag.tag]).execute()
    factories.ticket(
        company, status="pending", created_at=yesterday - MINUTE
    )  # before the window, still waiting
    factories.ticket(
        company,
        status="closed",
        created_at=today - dt.timedelta(days=10),
        closed_at=today - dt.timedelta(days=9),
        rating=1,
        rated_at=today - dt.timedelta(days=9),
    )
    factories.ticket(factories.company(), status="pending", created_at=today + MINUTE)  # another company's

    response = client.get("/api/analytics/tickets?days=2", headers=headers)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (
        body["timezone"] == "America/Sao_Paulo"
        and body["since"] == yesterday.isoformat(timespec="milliseconds") + "Z"
    )
    assert (body["opened"], body["closed"], body["pending"], body["open"]) == (3, 1, 2, 1)
    assert body["avgFirstResponseSeconds"] == 90.0 and body["avgResolutionSeconds"] == 100 * 60.0
    assert (body["ratings"], body["avgRating"]) == (1, 4.0)
    yesterday_date, today_date = local_days(2)
    assert body["perDay"] == [
        {"date": yesterday_date, "opened": 1, "closed": 0},
        {"date": today_date, "opened": 2, "closed": 1},
    ]
    assert body["byAgent"] == [
        {
            "userId": agent.id,
            "name": "Ana",
            "opened": 2,
            "closed": 1,
            "pending": 0,
            "open": 1,
            "avgFirstResponseSeconds": 90.0,
            "avgResolutionSeconds": 6000.0,
            "ratings": 1,
            "avgRating": 4.0,
            "replies": 0,
            "avgReplySeconds": None,
        },
        {
            "userId": None,
            "name": None,
            "opened": 1,
            "closed": 0,
            "pending": 2,
            "open": 0,
            "avgFirstResponseSeconds": None,
            "avgResolutionSeconds": None,
            "ratings": 0,
            "avgRating": None,
            "replies": 0,
            "avgReplySeconds": None,
        },
    ]
    by_queue = {
        item["name"]: (item["opened"], item["closed"], item["pending"], item["open"])
        for item in body["byQueue"]
    }
    assert by_queue == {"Sales": (2, 1, 0, 1), "Support": (1, 0, 1, 0), None: (0, 0, 1, 0)}
    by_tag = {item["name"]: (item["tagId"], item["opened"], item["pending"], item["open"], item["avgFirstResponseSeconds"])
              for item in body["byTag"]}
    assert by_tag == {"VIP": (vip.id, 2, 1, 1, 120.0), "Billing": (billing.id, 1, 0, 1, 120.0)}  # two tags: in both
    assert [item["name"] for item in body["byTag"]] == ["VIP", "Billing"]  # the busiest first


def test_reply_time_is_how_long_each_contact_waited_for_an_agents_answer(client, factories, company, headers):
    today = local_midnight_utc(0)
    agent = factories.user(company=company, role="agent", name="Ana")
    ticket = factories.ticket(company, user=agent, status="open", created_at=today)
    urgent = factories.tag(company, name="Urgent")
    TicketTag.create(ticket=ticket, tag=urgent)

    def said(minutes: int, direction: str = "in", by=None) -> None:
        at = today + minutes * MINUTE
        factories.message(ticket, direction=direction, user=by, created_at=at, sent_at=at if direction == "out" else None)

    said(1), said(2), said(5, "out", agent)  # waited 4 minutes, from the first of the two
    said(6, "out", agent)  # the agent again: no one waited
    said(10), said(12, "out", agent)  # 2 minutes
    said(15), said(20, "out"), said(25, "out", agent)  # a bot's message is no answer: 10 minutes
    old = factories.ticket(company, user=agent, status="closed", created_at=today - dt.timedelta(days=5))
    factories.message(old, created_at=today - dt.timedelta(days=5))
    factories.message(old, direction="out", user=agent, sent_at=today - dt.timedelta(days=4),
                      created_at=today - dt.timedelta(days=4))  # before the period

    body = client.get("/api/analytics/tickets?days=1", headers=headers).get_json()

    assert (body["replies"], body["avgReplySeconds"]) == (3, (240 + 120 + 600) / 3)
    [ana] = [item for item in body["byAgent"] if item["userId"] == agent.id]
    assert (ana["replies"], ana["avgReplySeconds"]) == (3, 320.0)
    [tagged] = body["byTag"]
    assert (tagged["tagId"], tagged["replies"], tagged["avgReplySeconds"]) == (urgent.id, 3, 320.0)


def test_messages_in_and_out_per_local_day(client, factories, company, headers):
    today, yesterday = local_midnight_utc(0), local_midnight_utc(1)
    ticket = factories.ticket(company)
    factories.message(ticket, created_at=today - 90 * MINUTE)  # late yesterday, locally
    factories.message(ticket, direction="out", status="read", created_at=today + MINUTE)
    factories.message(ticket, direction="out", status="failed", created_at=today + 2 * MINUTE)
    factories.message(ticket, direction="out", private=True, created_at=today + MINUTE)  # a note
    factories.message(ticket, created_at=yesterday - MINUTE)  # before the window
    factories.message(factories.ticket(factories.company()), created_at=today + MINUTE)

    body = client.get("/api/analytics/messages?days=2", headers=headers).get_json()

    yesterday_date, today_date = local_days(2)
    assert body["perDay"] == [
        {"date": yesterday_date, "incoming": 1, "outgoing": 0},
        {"date": today_date, "incoming": 0, "outgoing": 2},
    ]
    assert (body["incoming"], body["outgoing"], body["failed"]) == (1, 2, 1)
    assert len(client.get("/api/analytics/messages", headers=headers).get_json()["perDay"]) == 7
    # the contact's message at 22:30 yesterday, São Paulo time, in that weekday's 22nd hour
    traffic = {day["weekday"]: day["hours"] for day in body["traffic"]}
    yesterday_weekday = WEEKDAYS[dt.date.fromisoformat(yesterday_date).weekday()]
    assert list(traffic) == list(WEEKDAYS) and all(len(hours) == 24 for hours in traffic.values())
    assert traffic[yesterday_weekday][22] == 1 and sum(map(sum, traffic.values())) == 1


def test_campaign_rates_come_from_receipts_like_the_report(client, factories, company, headers):
    now = utcnow()
    ticket = factories.ticket(company)
    running = factories.campaign(
        company, name="Promo", status="running", started_at=now - dt.timedelta(hours=1)
    )
    for status in ("read", "delivered", "sent", "failed", "sending"):
        factories.shipping(running, factories.message(ticket, direction="out", status=status))
    factories.shipping(running, status="skipped", reason="opted_out")
    factories.shipping(running)  # still queued
    factories.campaign(
        company,
        status="completed",
        started_at=now - dt.timedelta(days=12),
        finished_at=now - dt.timedelta(days=11),
    )  # over before the window
    factories.campaign(company)  # a draft never ran

    body = client.get("/api/analytics/campaigns?days=7", headers=headers).get_json()

    assert [c["name"] for c in body["campaigns"]] == ["Promo"]
    promo = body["campaigns"][0]
    report = campaign_report(running)
    assert (
        {name: promo[name] for name in ("total", "sent", "delivered", "read", "failed")}
        == {name: report[name] for name in ("total", "sent", "delivered", "read", "failed")}
        == {"total": 7, "sent": 3, "delivered": 2, "read": 1, "failed": 1}
    )
    assert promo["deliveryRate"] == 0.6667 and promo["readRate"] == 0.3333 and promo["status"] == "running"
    assert body["totals"] == {
        "total": 7,
        "sent": 3,
        "delivered": 2,
        "read": 1,
        "failed": 1,
        "deliveryRate": 0.6667,
        "readRate": 0.3333,
    }


def test_connection_uptime_from_the_status_history(client, factories, company, headers):
    since = local_midnight_utc(1)
    hour = dt.timedelta(hours=1)
    steady = factories.connection(company, name="A steady")
    for status, at in (
        ("connected", since - hour),
        ("disconnected", since + hour),
        ("connected", since + 2 * hour),
    ):
        record_connection_status(steady.id, status, at)
    late = factories.connection(company, name="B late")
    record_connection_status(late.id, "connected", since + hour)
    record_connection_status(late.id, "stopped", since + 3 * hour, "stopped by an operator")
    factories.connection(company, name="C never")

    body = client.get("/api/analytics/connections?days=2", headers=headers).get_json()

    until = dt.datetime.fromisoformat(body["until"].removesuffix("Z"))
    steady_out, late_out, never_out = body["connections"]
    assert steady_out["connectedSeconds"] == pytest.approx((until - since - hour).total_seconds(), abs=0.5)
    assert steady_out["observedSeconds"] == pytest.approx((until - since).total_seconds(), abs=0.5)
    assert steady_out["disconnects"] == 1 and 0 < steady_out["uptime"] < 1
    assert late_out["connectedSeconds"] == pytest.approx(7200, abs=0.5)
    assert late_out["observedSeconds"] == pytest.approx((until - since - hour).total_seconds(), abs=0.5)
    assert never_out == {
        "id": never_out["id"],
        "name": "C never",
        "status": "stopped",
        "uptime": None,
        "connectedSeconds": 0.0,
        "observedSeconds": 0.0,
        "disconnects": 0,
    }


def test_the_gateway_events_become_history_once(factories, company, redis_client):
    connection = factories.connection(company)
    event = {"kind": "connected", "connection_id": connection.id, "phone": "5511999990000"}
    at = time.time()

    record_connection_event(event, at)
    record_connection_event(event, at)  # redelivered
    record_connection_event({"kind": "qr", "connection_id": connection.id, "code": "2@abc"}, at + 1)

    assert [(e.status, e.connection_id) for e in ConnectionEvent.select()] == [("connected", connection.id)]


@pytest.mark.parametrize("path", ["tickets", "messages", "campaigns", "connections"])
def test_agents_are_refused_and_validation_applies(client, factories, app, company, headers, path):
    agent = factories.user(company=company, role="agent")

    assert client.get(f"/api/analytics/{path}", headers=factories.auth_headers(app, agent)).status_code == 403
    assert client.get(f"/api/analytics/{path}?days=0", headers=headers).status_code == 400


def test_a_key_with_the_scope_reads_ticket_analytics(client, factories, company):
    key = factories.api_key(company, ["tickets:read"])

    assert client.get("/api/analytics/tickets", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/api/analytics/messages", headers={"X-API-Key": key}).status_code == 403


def test_the_hour_of_the_week_is_the_same_on_postgresql_and_sqlite(tmp_path, factories):
    def week_hour() -> int:
        company = factories.company()
        factories.message(factories.ticket(company), created_at=dt.datetime(2026, 12, 7, 1, 30))  # a Monday, in UTC
        hour = local_week_hour(Message.created_at, "America/Sao_Paulo")
        return Message.select(hour).where(Message.company == company.id).scalar()

    on_postgresql = week_hour()
    with on_sqlite(tmp_path):
        assert week_hour() == on_postgresql == 6 * 24 + 22  # Sunday, 22:30 in São Paulo
