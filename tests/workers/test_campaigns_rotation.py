"""A campaign over several numbers: sends rotate over those connected and within their limits."""

from __future__ import annotations

import pytest

from db.campaigns import Campaign, CampaignShipping
from db.connections import Connection
from db.messages import Message
from tests.waiting import wait_for
from workers import campaigns
from workers.campaigns import sending_budget
from workers.transports import simulator

NO_QUIET = {"quietStart": None, "quietEnd": None, "warmupFirstDay": 0, "jitterSeconds": 0}


@pytest.fixture
def company(factories):
    return factories.company()


def number(factories, company, redis_client, **fields) -> Connection:
    connection = factories.connection(company, enabled=True, **fields)
    simulator.configure(redis_client, connection.id, deliveredAfterMs=0, readAfterMs=-1)
    return connection


def outbox_of(redis_client, connection) -> list[str]:
    return [entry["to"] for entry in simulator.outbox(redis_client, connection.id, limit=1000)[0]]


def test_sends_rotate_over_the_connected_numbers_each_recipient_once(
    factories, company, redis_client, worker, gateway
):
    first, second = number(factories, company, redis_client), number(factories, company, redis_client)
    contacts = [factories.contact(company) for _ in range(10)]
    campaign = factories.campaign(
        company,
        connection=first,
        connection_ids=[first.id, second.id],
        contact_ids=[c.id for c in contacts],
        throttle={"perMinute": 120},
    )
    assert wait_for(
        lambda: Connection.select().where(Connection.status == "connected").count() == 2, timeout=20
    )

    assert campaigns.start_campaign(campaign) is not None

    assert wait_for(
        lambda: len(outbox_of(redis_client, first)) + len(outbox_of(redis_client, second)) == 10, 30
    )
    on_first, on_second = outbox_of(redis_client, first), outbox_of(redis_client, second)
    assert len(on_first) == len(on_second) == 5
    assert sorted(on_first + on_second) == sorted(c.phone for c in contacts)
    senders = [
        m.connection_id
        for m in Message.select()
        .join(CampaignShipping, on=(CampaignShipping.message == Message.id))
        .order_by(CampaignShipping.sent_at, CampaignShipping.id)
    ]
    assert all(a != b for a, b in zip(senders, senders[1:], strict=False))  # one, then the other


def test_a_number_out_of_budget_or_disconnected_is_passed_over(factories, company, broker):
    capped = factories.connection(
        company, status="connected", send_limits={"burst": 50, "hourlyCap": 2, **NO_QUIET}
    )
    free = factories.connection(company, status="connected")
    down = factories.connection(company, status="disconnected")
    campaign = factories.campaign(
        company, connection=capped, connection_ids=[down.id, capped.id, free.id], status="running"
    )

    slots = sending_budget(campaign, 6).slots

    assert [c.id for c in slots] == [capped.id, free.id, capped.id, free.id, free.id, free.id]
    assert sending_budget(campaign, 4).slots == [free] * 4
    nothing = sending_budget(Campaign(company=company, connection_ids=[down.id]), 4)
    assert (nothing.slots, nothing.wait) == ([], campaigns.NO_NUMBER_WAIT)
