"""`make run`'s default database is SQLite, which has no FOR UPDATE: the claims that lock rows on
PostgreSQL (`db.base.locked`) run there too, each in a transaction that holds the write lock."""

from __future__ import annotations

import datetime as dt

from db.base import database, utcnow
from db.campaigns import CampaignShipping
from db.messages import Message
from db.schedules import Schedule
from tests.workers.import_helpers import on_sqlite
from workers.campaigns import claim_recipients
from workers.schedules import send_due_schedules


def test_due_schedules_and_campaign_recipients_are_claimed_on_sqlite(tmp_path, factories, broker):
    with on_sqlite(tmp_path):
        company = factories.company()
        connection = factories.connection(company)
        contact = factories.contact(company)
        Schedule.create(company=company, connection=connection, contact=contact, body="Lembrete",
                        send_at=utcnow() - dt.timedelta(seconds=1))
        campaign = factories.campaign(company, connection=connection, status="running")
        shippings = [factories.shipping(campaign) for _ in range(3)]

        ran = send_due_schedules()
        with database.atomic():
            claimed = claim_recipients(campaign, 2)

        assert ran == 1 and Schedule.get().status != "pending"
        assert [message.body for message in Message.select()] == ["Lembrete"]
        assert claimed == [(shipping.id, shipping.contact_id) for shipping in shippings[:2]]
        assert CampaignShipping.get_by_id(shippings[2].id).status == "queued"
