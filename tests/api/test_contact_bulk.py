"""Bulk contact actions: tag, list, give to an agent, block and delete many contacts at once; what the body names is
checked first, ids not the company's are reported, each contact changed is announced."""

from __future__ import annotations

from db.contact_lists import ContactListItem
from db.contacts import Contact, ContactTag
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)


def bulk(client, headers, action: str, contacts: list, **fields):
    ids = [contact if isinstance(contact, int) else contact.id for contact in contacts]
    return client.post("/api/contacts/bulk", json={"contactIds": ids, "action": action, **fields}, headers=headers)


def test_tags_lists_owner_and_block_reach_every_contact_and_foreign_ids_are_reported(
        client, factories, company, headers, realtime):  # noqa: F811
    vip, old = factories.tag(company, name="vip"), factories.tag(company, name="old")
    customers = factories.contact_list(company, name="Clientes")
    agent = factories.user(company, role="agent")
    ana, bia = factories.contact(company), factories.contact(company)
    ContactTag.create(contact=ana, tag=old)
    foreign = factories.contact(factories.company())

    tagged = bulk(client, headers, "add_tags", [ana, bia, foreign], tagIds=[vip.id])
    untagged = bulk(client, headers, "remove_tags", [ana], tagIds=[old.id])
    listed = bulk(client, headers, "add_to_list", [ana, bia, ana], listId=customers.id)
    owned = bulk(client, headers, "set_owner", [ana, bia], ownerId=agent.id)
    blocked = bulk(client, headers, "block", [bia])

    assert tagged.get_json() == {"done": [ana.id, bia.id], "failed": [
        {"contactId": foreign.id, "error": "not_found", "message": "contact not found", "statusCode": 404}]}
    assert all(answer.status_code == 200 for answer in (untagged, listed, owned, blocked))
    assert sorted((link.contact_id, link.tag_id) for link in ContactTag.select()) == sorted(
        [(ana.id, vip.id), (bia.id, vip.id)])
    assert sorted(item.contact_id for item in ContactListItem.select()) == sorted([ana.id, bia.id])
    assert {c.owner_id for c in Contact.select().where(Contact.company == company.id)} == {agent.id}
    assert [c.blocked for c in (Contact.get_by_id(ana.id), Contact.get_by_id(bia.id))] == [False, True]
    updates = [data["id"] for event, data in realtime() if event == "contact:update"]
    assert updates.count(bia.id) == 4 and foreign.id not in updates


def test_nothing_changes_for_what_the_body_names_wrong_and_agents_neither_give_nor_delete(
        app, client, factories, company, headers):
    ana = factories.contact(company)
    agent = factories.auth_headers(app, factories.user(company, role="agent"))
    foreign_tag = factories.tag(factories.company())

    unknown_tag = bulk(client, headers, "add_tags", [ana], tagIds=[foreign_tag.id])
    no_list = bulk(client, headers, "add_to_list", [ana])
    agent_deletes = bulk(client, agent, "delete", [ana])
    agent_tags = bulk(client, agent, "add_tags", [ana], tagIds=[factories.tag(company).id])
    deleted = bulk(client, headers, "delete", [ana])

    assert (unknown_tag.status_code, no_list.status_code, agent_deletes.status_code) == (400, 400, 403)
    assert agent_tags.status_code == 200 and deleted.get_json()["done"] == [ana.id]
    assert Contact.get_or_none(Contact.id == ana.id) is None
