"""Ban signals on real parts: the simulator's ban, a logout and a rate-limit error pause the number's campaigns
at once with the reason, and raise `connection:ban_signal` (realtime and webhooks)."""

from __future__ import annotations

import json
import time

import pytest

from db.campaigns import Campaign, CampaignShipping
from db.connections import Connection
from db.webhooks import WebhookDelivery
from tests.waiting import wait_for
from wharf.realtime import CHANNEL
from workers import campaigns
from workers.ban_signals import report_send_error, signal_of
from workers.number_limits import acquire, limit_state
from workers.transports import simulator
from workers.transports.base import TransportError


@pytest.fixture
def company(factories):
    return factories.company()


@pytest.fixture
def connection(factories, company, redis_client):
    connection = factories.connection(company, enabled=True)
    simulator.configure(redis_client, connection.id, deliveredAfterMs=0, readAfterMs=-1)
    return connection


def running_campaign(factories, company, **fields) -> Campaign:
    campaign = factories.campaign(
        company,
        contact_ids=[factories.contact(company).id for _ in range(50)],
        throttle={"perMinute": 60},
        **fields,
    )
    assert campaigns.start_campaign(campaign) is not None
    return campaign


def test_the_simulators_ban_pauses_the_numbers_campaigns_within_two_seconds(
    factories, company, connection, redis_client, worker, gateway
):
    factories.webhook(company, events=["connection:*"])
    elsewhere = factories.connection(company)
    on_the_number = running_campaign(factories, company, connection=connection)
    in_a_rotation = running_campaign(
        factories, company, connection=elsewhere, connection_ids=[elsewhere.id, connection.id]
    )
    not_on_it = running_campaign(factories, company, connection=elsewhere)
    assert wait_for(
        lambda: CampaignShipping.select().where(CampaignShipping.status == "sent").count() >= 1, 20
    )
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    try:
        simulator.push_command(redis_client, connection.id, "ban")
        banned_at = time.monotonic()

        assert wait_for(lambda: Campaign.get_by_id(on_the_number.id).status == "paused", timeout=2)
        assert wait_for(lambda: Campaign.get_by_id(in_a_rotation.id).status == "paused", timeout=2)
        assert time.monotonic() - banned_at < 2
        heard = []
        assert wait_for(
            lambda: (
                heard.append(pubsub.get_message(timeout=0.1))
                or any(m and json.loads(m["data"]).get("event") == "connection:ban_signal" for m in heard)
            ),
            timeout=5,
        )
    finally:
        pubsub.close()
    assert "banned" in Campaign.get_by_id(on_the_number.id).reason
    assert Campaign.get_by_id(not_on_it.id).status == "running"
    delivery = WebhookDelivery.get(WebhookDelivery.event == "connection:ban_signal")
    assert delivery.payload["data"]["connectionId"] == connection.id
    assert sorted(delivery.payload["data"]["pausedCampaignIds"]) == sorted(
        [on_the_number.id, in_a_rotation.id]
    )
    sent = (
        CampaignShipping.select()
        .where(CampaignShipping.campaign == on_the_number.id, CampaignShipping.status == "sent")
        .count()
    )
    assert not wait_for(
        lambda: (
            CampaignShipping.select()
            .where(CampaignShipping.campaign == on_the_number.id, CampaignShipping.status == "sent")
            .count()
            > sent
        ),
        timeout=2,
    )
    Campaign.update(status="cancelled").execute()  # the worker stops once the other campaign's pump has


def test_a_logout_pauses_the_numbers_campaigns_with_the_reason(
    factories, company, connection, redis_client, worker, gateway
):
    campaign = running_campaign(factories, company, connection=connection)
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)

    Connection.update(logout_requested=True).where(Connection.id == connection.id).execute()

    assert wait_for(lambda: Campaign.get_by_id(campaign.id).status == "paused", timeout=20)
    assert "logged_out" in Campaign.get_by_id(campaign.id).reason


@pytest.mark.parametrize(
    ("error", "signal"),
    [
        (TransportError("the number is banned", permanent=True, reason_code="banned"), "banned"),
        (TransportError("server returned error 429: rate-overlimit"), "rate_limited"),
        (TransportError("server returned error 463"), "restricted"),
        (TransportError("simulated network failure"), None),
        (TransportError("+551199 is not on WhatsApp", permanent=True, reason_code="not_on_whatsapp"), None),
    ],
)
def test_rate_limit_and_restriction_errors_are_ban_signals(error, signal):
    assert signal_of(error) == signal


def test_a_rate_limit_error_pauses_the_campaign_and_cools_the_number_down(factories, company, broker):
    connection = factories.connection(
        company, status="connected", send_limits={"quietStart": None, "quietEnd": None}
    )
    campaign = factories.campaign(company, connection=connection, status="running")

    report_send_error(connection.id, TransportError("server returned error 429: rate-overlimit"))

    paused = Campaign.get_by_id(campaign.id)
    assert paused.status == "paused" and "rate_limited" in paused.reason
    assert campaigns.resume_campaign(campaign.id)
    refused = acquire(connection, 1)
    assert (refused.granted, refused.reason) == (0, "cooldown") and refused.wait == pytest.approx(3600, abs=5)
    assert limit_state(connection.id)["cooldownSeconds"] == pytest.approx(3600, abs=5)
    report_send_error(connection.id, TransportError("server returned error 429: rate-overlimit"))
    assert (
        Campaign.get_by_id(campaign.id).status == "paused"
    )  # a resumed campaign on a failing number pauses again
