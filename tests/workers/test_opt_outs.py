"""The company's opt-out list: STOP through the simulator opts the contact out of campaigns and scheduled
messages with one reply; only an explicit opt-in undoes it; the list outlives the contact row."""

from __future__ import annotations

import datetime as dt

import pytest

from db.base import utcnow
from db.campaigns import CampaignShipping
from db.company_settings import save_company_settings
from db.contacts import Contact
from db.messages import Message
from db.opt_outs import OptOut, is_opted_out, opt_in, opt_out
from db.schedules import Schedule, ScheduleRun
from db.tickets import Ticket
from tests.waiting import wait_for
from workers import campaigns
from workers.campaigns import campaign_report, write_ledger
from workers.opt_outs import handle_opt_out_message, opt_out_keyword
from workers.schedules import send_due_schedules
from workers.transports import simulator

PHONE = "+5511987654321"


@pytest.fixture
def company(factories):
    return factories.company()


@pytest.fixture
def connection(factories, company, redis_client):
    connection = factories.connection(company, enabled=True, is_default=True)
    simulator.configure(redis_client, connection.id, deliveredAfterMs=0, readAfterMs=-1)
    return connection


def replies_to(redis_client, connection, phone: str) -> list[str]:
    return [entry["body"] for entry in simulator.outbox(redis_client, connection.id, to=phone)[0]]


def test_stop_through_the_simulator_opts_out_with_one_reply_and_campaigns_and_schedules_skip_them(
    factories, company, connection, redis_client, worker, gateway
):
    save_company_settings(company.id, {"opt_out_reply": "Done, no more messages."})

    simulator.inject_inbound(redis_client, connection.id, PHONE, "  Stop! ")

    assert wait_for(
        lambda: (
            Contact.get_or_none(Contact.phone == PHONE) is not None
            and is_opted_out(Contact.get(Contact.phone == PHONE))
        ),
        timeout=20,
    )
    assert wait_for(
        lambda: replies_to(redis_client, connection, PHONE) == ["Done, no more messages."], timeout=20
    )
    contact = Contact.get(Contact.phone == PHONE)
    listed = OptOut.get(OptOut.phone == PHONE)
    assert (listed.source, listed.keyword, listed.contact_id) == ("keyword", "stop", contact.id)

    simulator.inject_inbound(redis_client, connection.id, PHONE, "STOP")
    assert wait_for(lambda: Ticket.get(Ticket.contact == contact).unread_messages == 2, timeout=20)
    assert not wait_for(lambda: len(replies_to(redis_client, connection, PHONE)) > 1, timeout=1.5)

    campaign = factories.campaign(company, connection=connection, contact_ids=[contact.id], status="running")
    write_ledger(campaign)
    assert (CampaignShipping.get().status, CampaignShipping.get().reason) == ("skipped", "opted_out")
    schedule = Schedule.create(
        company=company,
        connection=connection,
        contact=contact,
        body="Hi",
        send_at=utcnow() - dt.timedelta(seconds=1),
    )
    send_due_schedules()
    assert (Schedule.get_by_id(schedule.id).status, ScheduleRun.get().status) == ("skipped", "skipped")


def test_a_word_inside_a_sentence_is_no_opt_out_and_the_keywords_are_the_companys(factories, company):
    keywords = ["stop", "sair"]

    assert opt_out_keyword("SAIR.", keywords) == "sair"
    assert opt_out_keyword("please don't stop", keywords) is None
    assert opt_out_keyword("", keywords) is None
    save_company_settings(company.id, {"opt_out_keywords": ["basta"]})
    contact = factories.contact(company)
    ticket = factories.ticket(company, contact=contact)

    assert handle_opt_out_message(ticket, contact, factories.message(ticket, body="stop")) is False
    assert handle_opt_out_message(ticket, contact, factories.message(ticket, body="Basta")) is True
    assert is_opted_out(contact)


def test_the_list_outlives_the_contact_and_only_opt_in_takes_a_number_off(factories, company):
    contact = factories.contact(company, phone=PHONE)
    assert opt_out(contact, reason="asked by phone") is True
    assert opt_out(contact) is False  # already on the list: nothing new (no second reply)

    contact.delete_instance()
    again = factories.contact(company, phone=PHONE)
    other_company = factories.contact(factories.company(), phone=PHONE)

    assert is_opted_out(again) and not is_opted_out(other_company)
    campaign = factories.campaign(company, contact_ids=[again.id], status="running")
    write_ledger(campaign)
    assert CampaignShipping.get().reason == "opted_out"
    assert opt_in(again) is True and not is_opted_out(again)
    assert Contact.get_by_id(again.id).opted_out_at is None and OptOut.select().count() == 0
    assert opt_in(again) is False


def test_the_report_counts_replies_after_the_campaign_message_and_opt_outs_since(
    factories, company, connection, redis_client, worker, gateway
):
    replying, stopping, silent = (factories.contact(company, phone=f"+551190000000{n}") for n in range(3))
    simulator.inject_inbound(redis_client, connection.id, silent.phone, "an older conversation")
    assert wait_for(
        lambda: Message.select().where(Message.contact == silent, Message.direction == "in").exists(), 20
    )
    campaign = factories.campaign(
        company,
        connection=connection,
        throttle={"perMinute": 6000},
        contact_ids=[replying.id, stopping.id, silent.id],
    )

    assert campaigns.start_campaign(campaign) is not None
    assert wait_for(lambda: campaign_report(campaign)["sent"] == 3, timeout=20)

    simulator.inject_inbound(redis_client, connection.id, replying.phone, "tell me more")
    simulator.inject_inbound(redis_client, connection.id, stopping.phone, "stop")

    assert wait_for(lambda: campaign_report(campaign)["replied"] == 2, timeout=20)
    assert wait_for(lambda: campaign_report(campaign)["optedOut"] == 1, timeout=20)
    report = campaign_report(campaign)
    assert (report["total"], report["sent"], report["skipped"]) == (3, 3, 0)
