"""Campaigns on real parts: fan-out to the ledger, the pump sending through the gateway to the simulator,
pause, resume, cancel, and the report counted from receipts."""

from __future__ import annotations

import datetime as dt
import random
import statistics

import pytest

from db.base import utcnow
from db.campaigns import Campaign, CampaignShipping
from db.contact_lists import ContactListItem
from db.contacts import ContactTag
from db.messages import Message
from db.webhooks import WebhookDelivery
from tests.waiting import wait_for
from workers import campaigns
from workers.campaigns import campaign_report, plan_tick, write_ledger
from workers.events import Announcements
from workers.transports import simulator
from workers.webhooks import resend_lost_deliveries


@pytest.fixture
def company(factories):
    return factories.company()


@pytest.fixture
def connection(factories, company, redis_client):
    connection = factories.connection(company, enabled=True, is_default=True)
    simulator.configure(redis_client, connection.id, deliveredAfterMs=0, readAfterMs=50)
    return connection


def recipients(factories, company, count: int) -> list[int]:
    return [factories.contact(company).id for _ in range(count)]


def sent_to(redis_client, connection) -> list[str]:
    entries, _ = simulator.outbox(redis_client, connection.id, limit=10_000)
    return [entry["to"] for entry in entries]


def ledger(campaign) -> dict[int, tuple[str, str | None]]:
    rows = CampaignShipping.select().where(CampaignShipping.campaign == campaign.id)
    return {row.contact_id: (row.status, row.reason) for row in rows}


def run(campaign) -> None:
    assert campaigns.start_campaign(campaign) is not None


def test_fan_out_writes_one_row_per_recipient_and_skips_with_the_reason(factories, company):
    tag, contact_list = factories.tag(company), factories.contact_list(company)
    tagged, listed, given = (factories.contact(company) for _ in range(3))
    opted_out = factories.contact(company, opted_out_at=utcnow())
    blocked = factories.contact(company, blocked=True)
    invalid = factories.contact(company, phone="12345")
    stranger = factories.contact(factories.company())
    ContactTag.create(contact=tagged, tag=tag)
    ContactTag.create(contact=given, tag=tag)  # in two audiences: one row
    ContactListItem.create(contact_list=contact_list, contact=listed)
    ContactListItem.create(contact_list=contact_list, contact=opted_out)
    campaign = factories.campaign(company, tag=tag, contact_list=contact_list, status="running",
                                  contact_ids=[given.id, blocked.id, invalid.id, stranger.id])

    written = write_ledger(campaign)

    assert written == 6
    assert ledger(campaign) == {
        tagged.id: ("queued", None), listed.id: ("queued", None), given.id: ("queued", None),
        opted_out.id: ("skipped", "opted_out"), blocked.id: ("skipped", "blocked"),
        invalid.id: ("skipped", "invalid_number"),
    }
    assert write_ledger(campaign) == 0  # idempotent
    assert CampaignShipping.select().count() == 6


def test_a_second_fan_out_adds_only_new_recipients(factories, company):
    contact_list = factories.contact_list(company)
    first = factories.contact(company)
    ContactListItem.create(contact_list=contact_list, contact=first)
    campaign = factories.campaign(company, contact_list=contact_list, status="running")
    write_ledger(campaign)
    CampaignShipping.update(status="sent").execute()
    later = factories.contact(company)
    ContactListItem.create(contact_list=contact_list, contact=later)

    assert write_ledger(campaign) == 1
    assert ledger(campaign) == {first.id: ("sent", None), later.id: ("queued", None)}


def test_ticks_keep_the_configured_rate_on_average_with_jitter():
    throttle = {"perMinute": 30, "jitterSeconds": 1.5, "pauseEvery": 0, "pauseSeconds": 0}
    rng = random.Random(7)

    ticks = [plan_tick(throttle, n, rng) for n in range(2000)]

    assert {tick.batch for tick in ticks} == {1}
    assert statistics.mean(tick.delay for tick in ticks) == pytest.approx(2.0, rel=0.02)
    assert min(tick.delay for tick in ticks) < 1.0 < 3.0 < max(tick.delay for tick in ticks) + 0.6


def test_fast_rates_send_batches_and_a_long_pause_comes_every_n_sends():
    throttle = {"perMinute": 600, "jitterSeconds": 0, "pauseEvery": 25, "pauseSeconds": 300}

    first, before_pause, after_pause = plan_tick(throttle, 0), plan_tick(throttle, 20), plan_tick(throttle, 25)

    assert (first.batch, first.delay) == (10, pytest.approx(1.0))
    assert (before_pause.batch, before_pause.delay) == (5, pytest.approx(300.5))  # stops at the 25th send
    assert (after_pause.batch, after_pause.delay) == (10, pytest.approx(1.0))


def test_a_campaign_sends_each_recipient_once_with_its_variables_then_completes(
        factories, company, connection, redis_client, worker, gateway):
    ana = factories.contact(company, name="Ana Souza", custom_fields={"plan": "Gold"})
    others = recipients(factories, company, 4)
    campaign = factories.campaign(company, connection=connection, contact_ids=[ana.id, *others],
                                  messages=["Hi {{firstName}}, your {{plan|usual}} plan"],
                                  throttle={"perMinute": 6000})

    run(campaign)

    assert wait_for(lambda: Campaign.get_by_id(campaign.id).status == "completed", timeout=20)
    assert wait_for(lambda: len(sent_to(redis_client, connection)) == 5, timeout=20)
    assert sorted(sent_to(redis_client, connection)) == sorted(c.phone for c in campaign_contacts(campaign))
    entries, _ = simulator.outbox(redis_client, connection.id, to=ana.phone)
    assert entries[0]["body"] == "Hi Ana, your Gold plan"
    assert all(row.message_id for row in CampaignShipping.select())


def test_each_run_of_a_cron_campaign_sends_to_the_whole_audience_again(
        factories, company, connection, redis_client, worker, gateway):
    audience = recipients(factories, company, 3)
    campaign = factories.campaign(company, connection=connection, contact_ids=audience, cron="0 9 * * *",
                                  throttle={"perMinute": 6000})
    run(campaign)
    assert wait_for(lambda: Campaign.get_by_id(campaign.id).status == "scheduled", timeout=20)
    Campaign.update(scheduled_at=utcnow()).where(Campaign.id == campaign.id).execute()

    assert campaigns.start_due_campaigns() == [campaign.id]

    assert wait_for(lambda: Campaign.get_by_id(campaign.id).status == "scheduled", timeout=20)
    assert wait_for(lambda: len(sent_to(redis_client, connection)) == 6, timeout=20)
    again = Campaign.get_by_id(campaign.id)
    assert again.run == 2 and again.scheduled_at > utcnow()
    assert sorted(sent_to(redis_client, connection)) == sorted([c.phone for c in campaign_contacts(campaign)] * 2)
    assert [campaign_report(again, run)["total"] for run in (1, 2)] == [3, 3]
    assert CampaignShipping.select().where(CampaignShipping.run == 2, CampaignShipping.status == "sent").count() == 3


def test_a_failed_cron_campaign_started_again_goes_on_with_its_run(factories, company):
    campaign = factories.campaign(company, contact_ids=recipients(factories, company, 2), cron="0 9 * * *",
                                  status="failed", started_at=utcnow())
    write_ledger(campaign)

    run(campaign)

    assert Campaign.get_by_id(campaign.id).run == 1
    assert CampaignShipping.select().where(CampaignShipping.campaign == campaign.id).count() == 2


def campaign_contacts(campaign):
    from db.contacts import Contact

    return Contact.select().where(Contact.id.in_(campaign.contact_ids))


def test_a_long_pause_every_n_sends_holds_the_rest_back(factories, company, connection, redis_client, worker, gateway):
    campaign = factories.campaign(company, connection=connection, contact_ids=recipients(factories, company, 5),
                                  throttle={"perMinute": 6000, "pauseEvery": 3, "pauseSeconds": 5})

    run(campaign)

    assert wait_for(lambda: len(sent_to(redis_client, connection)) == 3, timeout=20)
    assert not wait_for(lambda: len(sent_to(redis_client, connection)) > 3, timeout=2)
    queued = CampaignShipping.select().where(CampaignShipping.status == "queued").count()
    assert (Campaign.get_by_id(campaign.id).status, queued) == ("running", 2)
    assert wait_for(lambda: len(sent_to(redis_client, connection)) == 5, timeout=20)  # after the pause


def sent_in_ledger(campaign) -> int:
    return CampaignShipping.select().where(CampaignShipping.campaign == campaign.id,
                                           CampaignShipping.status == "sent").count()


def test_pause_stops_sending_and_resume_sends_the_rest_each_once(
        factories, company, connection, redis_client, worker, gateway):
    campaign = factories.campaign(company, connection=connection, contact_ids=recipients(factories, company, 6),
                                  throttle={"perMinute": 120})
    run(campaign)
    assert wait_for(lambda: sent_in_ledger(campaign) >= 2, timeout=20)

    Campaign.update(status="paused").where(Campaign.id == campaign.id).execute()
    at_pause = sent_in_ledger(campaign)

    assert at_pause < 6
    assert wait_for(lambda: len(sent_to(redis_client, connection)) == at_pause, timeout=20)
    assert not wait_for(lambda: sent_in_ledger(campaign) > at_pause, timeout=2.5)

    assert campaigns.resume_campaign(campaign.id)

    assert wait_for(lambda: Campaign.get_by_id(campaign.id).status == "completed", timeout=30)
    assert wait_for(lambda: len(sent_to(redis_client, connection)) == 6, timeout=20)
    assert not wait_for(lambda: len(sent_to(redis_client, connection)) > 6, timeout=1.5)
    assert len(set(sent_to(redis_client, connection))) == 6


def test_cancel_marks_the_rest_cancelled_and_sends_no_more(factories, company, connection, redis_client,
                                                          worker, gateway):
    campaign = factories.campaign(company, connection=connection, contact_ids=recipients(factories, company, 5),
                                  throttle={"perMinute": 60})
    run(campaign)
    assert wait_for(lambda: sent_in_ledger(campaign) >= 1, timeout=20)

    Campaign.update(status="cancelled").where(Campaign.id == campaign.id).execute()
    campaigns.cancel_queued_shippings.send(campaign.id)

    assert wait_for(lambda: CampaignShipping.select().where(CampaignShipping.status == "queued").count() == 0,
                    timeout=20)
    sent = sent_in_ledger(campaign)
    assert not wait_for(lambda: sent_in_ledger(campaign) > sent, timeout=2)
    assert campaign_report(campaign)["cancelled"] == 5 - sent
    assert wait_for(lambda: len(sent_to(redis_client, connection)) == sent, timeout=20)


def test_the_report_counts_receipts_not_send_calls(factories, company, connection, redis_client, worker, gateway):
    simulator.configure(redis_client, connection.id, notOnWhatsapp=["+5511900000001"])
    unreachable = factories.contact(company, phone="+5511900000001")
    opted_out = factories.contact(company, opted_out_at=utcnow())
    campaign = factories.campaign(company, connection=connection, throttle={"perMinute": 6000},
                                  contact_ids=[*recipients(factories, company, 3), unreachable.id, opted_out.id])

    run(campaign)

    assert wait_for(lambda: campaign_report(campaign)["read"] == 3, timeout=30)
    assert wait_for(lambda: campaign_report(campaign)["failed"] == 1, timeout=30)
    assert campaign_report(campaign) == {"total": 5, "queued": 0, "sent": 3, "delivered": 3, "read": 3,
                                            "replied": 0, "failed": 1, "skipped": 1, "cancelled": 0, "optedOut": 1}


def test_the_report_counts_a_handed_over_message_as_queued_until_the_gateway_sends_it(factories, company):
    campaign = factories.campaign(company, contact_ids=recipients(factories, company, 2), status="running")
    write_ledger(campaign)
    ticket = factories.ticket(company)
    queued = Message.create(company=company, ticket=ticket, direction="out", status="queued")
    delivered = Message.create(company=company, ticket=ticket, direction="out", status="delivered")
    first, second = CampaignShipping.select().order_by(CampaignShipping.id)
    CampaignShipping.update(status="sent", message=queued).where(CampaignShipping.id == first.id).execute()
    CampaignShipping.update(status="sent", message=delivered).where(CampaignShipping.id == second.id).execute()

    report = campaign_report(campaign)

    assert (report["queued"], report["sent"], report["delivered"], report["read"]) == (1, 1, 1, 0)


def test_a_stalled_campaign_is_restarted_and_a_stale_tick_sends_nothing(factories, company, connection, broker):
    campaign = factories.campaign(company, connection=connection, contact_ids=recipients(factories, company, 2),
                                  status="running", pump_seq=3, next_pump_at=utcnow().replace(year=2000))

    campaigns.pump_campaign(campaign.id, 2)  # a tick that ran already

    assert CampaignShipping.select().count() == 0 and Message.select().count() == 0
    assert campaigns.restart_stalled_campaigns() == [campaign.id]
    assert broker.client.llen("dramatiq:campaigns") == 1


def test_a_campaign_that_completes_just_before_a_crash_still_reaches_the_webhooks(
        factories, company, connection, worker, gateway, monkeypatch):
    factories.webhook(company, events=["campaign:update"])
    campaign = factories.campaign(company, connection=connection, contact_ids=recipients(factories, company, 3),
                                  messages=["Hi"], throttle={"perMinute": 6000})
    send = Announcements.send

    def dies_announcing_the_end(announcements, pipeline=None):
        if any(data.get("status") == "completed" for event, _, data, *_ in announcements.realtime
               if event == "campaign:update"):
            raise SystemError("the worker died after the last tick's commit, before its events went out")
        send(announcements, pipeline)

    monkeypatch.setattr(Announcements, "send", dies_announcing_the_end)
    run(campaign)
    assert wait_for(lambda: Campaign.get_by_id(campaign.id).status == "completed", timeout=20)

    assert resend_lost_deliveries(lost_after=dt.timedelta(0)) == 1
    [completed] = [delivery for delivery in WebhookDelivery.select().where(WebhookDelivery.event == "campaign:update")
                   if delivery.payload["data"]["status"] == "completed"]
    assert completed.payload["data"]["total"] == 3


def test_a_poll_campaign_asks_each_recipient_the_poll_and_its_report_tallies_their_votes(
        client, factories, company, connection, redis_client, worker, gateway):
    headers = factories.auth_headers(client.application, factories.user(company, role="admin"))
    audience = [factories.contact(company, phone=f"+55119000000{n:02d}") for n in range(1, 4)]
    created = client.post("/api/campaigns", headers=headers, json={
        "name": "Pesquisa", "connectionId": connection.id, "contactIds": [c.id for c in audience],
        "throttle": {"perMinute": 6000}, "poll": {"name": "Qual sabor?", "options": ["Chocolate", "Morango"]}})
    assert created.status_code == 201, created.get_json()
    campaign = Campaign.get_by_id(created.get_json()["id"])

    run(campaign)
    assert wait_for(lambda: campaign_report(campaign)["sent"] == 3, timeout=30)
    polls = {m.contact_id: m for m in Message.select().where(Message.type == "poll")}
    for contact, choice in zip(audience, (["Chocolate"], ["Morango"], ["Chocolate"]), strict=True):
        simulator.inject_vote(redis_client, connection.id, contact.phone, polls[contact.id].wa_id, choice)

    assert wait_for(lambda: campaign_report(campaign)["poll"]["voters"] == 3, timeout=30)
    report = client.get(f"/api/campaigns/{campaign.id}/report", headers=headers).get_json()
    assert report["poll"] == {"voters": 3, "options": [{"name": "Chocolate", "votes": 2}, {"name": "Morango",
                                                                                            "votes": 1}]}
    assert created.get_json()["poll"] == {"name": "Qual sabor?", "options": ["Chocolate", "Morango"],
                                          "selectableCount": 1}
    assert {m.body for m in polls.values()} == {"Qual sabor?\n○ Chocolate\n○ Morango"}


def test_a_campaign_of_variants_reports_each_so_that_they_can_be_compared(factories, company):
    campaign = factories.campaign(company, messages=["Oi {{firstName}}", "Olá!"], status="running",
                                  contact_ids=recipients(factories, company, 3))
    write_ledger(campaign)
    ticket = factories.ticket(company)
    sent = [Message.create(company=company, ticket=ticket, direction="out", status=status)
            for status in ("read", "failed", "delivered")]
    rows = list(CampaignShipping.select().order_by(CampaignShipping.id))
    for row, message, variant in zip(rows, sent, (0, 1, 0), strict=True):
        CampaignShipping.update(status="sent", message=message, variant=variant).where(
            CampaignShipping.id == row.id).execute()
    Message.create(company=company, ticket=ticket, contact=rows[0].contact_id, direction="in", status="delivered")

    report = campaign_report(campaign)

    assert report["variants"] == [
        {"variant": 0, "text": "Oi {{firstName}}", "total": 2, "sent": 2, "delivered": 2, "read": 1, "replied": 1,
         "failed": 0},
        {"variant": 1, "text": "Olá!", "total": 1, "sent": 0, "delivered": 0, "read": 0, "replied": 0, "failed": 1}]
    assert (report["total"], report["read"], report["replied"], report["failed"]) == (3, 1, 1, 1)
    assert "variants" not in campaign_report(factories.campaign(company, messages=["one"]))
