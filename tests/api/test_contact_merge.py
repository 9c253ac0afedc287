"""Merging a duplicate contact into the one kept: everything of the duplicate moves, its details fill the gaps, what
protects the person carries over, and it is gone; refused while both have a live ticket on one number."""

from __future__ import annotations

import pytest

from db.campaigns import CampaignShipping
from db.contact_lists import ContactListItem
from db.contacts import Contact, ContactTag
from db.leads import Lead
from db.messages import Message
from db.opt_outs import OptOut
from db.tickets import Ticket
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)


@pytest.fixture
def company(factories, database_kind):
    """On PostgreSQL, then on SQLite."""
    return factories.company()


@pytest.fixture
def as_admin(app, factories, company):
    return factories.auth_headers(app, factories.user(company, role="admin"))


def merge(client, headers, kept, merged):
    return client.post(f"/api/contacts/{kept.id}/merge", json={"contactId": merged.id}, headers=headers)


def test_the_duplicate_s_tickets_messages_and_the_rest_move_to_the_contact_kept_and_it_is_gone(
        client, factories, company, as_admin, realtime):  # noqa: F811
    vip, late = factories.tag(company, name="vip"), factories.tag(company, name="late")
    customers = factories.contact_list(company, name="Clientes")
    kept = factories.contact(company, phone="+5511987654321", name="+5511987654321", custom_fields={"cpf": "1"})
    merged = factories.contact(company, phone="+551187654321", name="Ana Lima", email="ana@example.com",
                               custom_fields={"cpf": "2", "city": "Recife"}, blocked=True)
    for contact, tags in ((kept, [vip]), (merged, [vip, late])):
        for tag in tags:
            ContactTag.create(contact=contact, tag=tag)
        ContactListItem.create(contact_list=customers, contact=contact)
    first, second = (factories.connection(company) for _ in range(2))
    old = factories.ticket(company, contact=merged, connection=first, status="closed")
    live = factories.ticket(company, contact=merged, connection=second, status="pending")
    factories.ticket(company, contact=kept, connection=first, status="open")
    factories.message(old, body="oi")
    lead = factories.lead(company, contact=merged)
    campaign = factories.campaign(company)
    factories.shipping(campaign, contact=kept)
    factories.shipping(campaign, contact=merged)  # the same run reached both: it stays once

    answer = merge(client, as_admin, kept, merged)

    assert answer.status_code == 200, answer.get_json()
    shown = answer.get_json()
    assert (shown["id"], shown["phone"], shown["name"], shown["email"]) == (
        kept.id, "+5511987654321", "Ana Lima", "ana@example.com")
    assert (shown["customFields"], shown["blocked"]) == ({"cpf": "1", "city": "Recife"}, True)
    assert Contact.get_or_none(Contact.id == merged.id) is None
    assert {t.id for t in Ticket.select().where(Ticket.contact == kept.id)} >= {old.id, live.id}
    assert [m.contact_id for m in Message.select()] == [kept.id]
    assert Lead.get_by_id(lead.id).contact_id == kept.id
    assert sorted(link.tag_id for link in ContactTag.select()) == sorted([vip.id, late.id])
    assert [item.contact_id for item in ContactListItem.select()] == [kept.id]
    assert [s.contact_id for s in CampaignShipping.select()] == [kept.id]
    told = [(event, data["id"]) for event, data in realtime()]
    assert ("contact:update", kept.id) in told and ("contact:delete", merged.id) in told
    assert ("ticket:update", live.id) in told


def test_an_opted_out_duplicate_leaves_the_contact_kept_opted_out(client, factories, company, as_admin):
    kept = factories.contact(company, phone="+5511987654321")
    merged = factories.contact(company, phone="+551187654321")
    OptOut.create(company=company, phone=merged.phone, contact=merged, source="keyword", keyword="SAIR")

    assert merge(client, as_admin, kept, merged).status_code == 200

    assert sorted(o.phone for o in OptOut.select().where(OptOut.contact == kept.id)) == [merged.phone, kept.phone]


def test_two_live_tickets_on_one_number_groups_itself_and_agents_are_refused(client, app, factories, company,
                                                                              as_admin):
    connection = factories.connection(company)
    kept, merged = factories.contact(company), factories.contact(company)
    factories.ticket(company, contact=kept, connection=connection, status="open")
    clashing = factories.ticket(company, contact=merged, connection=connection, status="pending")
    group = factories.contact(company, phone="120363012345678901@g.us", is_group=True)
    agent = factories.auth_headers(app, factories.user(company, role="agent"))
    foreign = factories.contact(factories.company())

    both_live = merge(client, as_admin, kept, merged)
    with_group = merge(client, as_admin, kept, group)
    itself = merge(client, as_admin, kept, kept)
    by_agent = merge(client, agent, kept, merged)
    other_company = merge(client, as_admin, kept, foreign)

    assert (both_live.status_code, both_live.get_json()["details"]) == (409, {"ticketIds": [clashing.id]})
    assert (with_group.status_code, itself.status_code, by_agent.status_code) == (409, 400, 403)
    assert other_company.status_code == 404
    assert Contact.select().count() == 4 and Ticket.get_by_id(clashing.id).contact_id == merged.id
