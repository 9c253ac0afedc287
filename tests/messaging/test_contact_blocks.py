"""A contact blocked in Wharf is blocked on WhatsApp too, by the numbers that talked with them, and unblocked with it
(workers/contact_blocks.py): what WhatsApp ends with is the contact as they are last, whatever order the work ran in."""

from __future__ import annotations

from db.connections import Connection
from tests.conftest import running_gateway
from tests.waiting import wait_for
from workers.transports import simulator


def blocked_on(redis_client, connection) -> list[str]:
    return ["+" + number for number in simulator.blocklist(redis_client, connection.id)]


def set_blocked(client, headers, contact, blocked: bool) -> None:
    answer = client.patch(f"/api/contacts/{contact.id}", json={"blocked": blocked}, headers=headers)
    assert (answer.status_code, answer.get_json()["blocked"]) == (200, blocked), answer.get_json()


def test_a_blocked_contact_is_blocked_on_the_numbers_that_talked_with_them_until_unblocked(
        client, admin_headers, factories, company, connection, redis_client, worker, gateway):
    contact = factories.contact(company, phone="+5511900000001")
    factories.ticket(company, contact=contact, connection=connection, status="closed")
    other = factories.connection(company, enabled=True)  # never talked with them
    assert wait_for(lambda: Connection.select().where(Connection.status == "connected").count() == 2, timeout=20)

    set_blocked(client, admin_headers, contact, True)
    assert wait_for(lambda: blocked_on(redis_client, connection) == [contact.phone], timeout=20)
    set_blocked(client, admin_headers, contact, False)

    assert wait_for(lambda: blocked_on(redis_client, connection) == [], timeout=20)
    assert blocked_on(redis_client, other) == []
    shown = client.get(f"/api/simulator/{connection.id}/blocklist", headers=admin_headers)
    assert (shown.status_code, shown.get_json()) == (200, {"items": []})


def test_an_unblock_queued_before_the_block_ran_leaves_them_unblocked_and_a_group_is_never_blocked_on_whatsapp(
        client, admin_headers, factories, company, connection, redis_client, broker, worker):
    changed, group, last = (factories.contact(company, phone=phone, is_group=is_group) for phone, is_group in (
        ("+5511900000001", False), ("120363012345678901@g.us", True), ("+5511900000003", False)))
    for contact in (changed, group, last):
        factories.ticket(company, contact=contact, connection=connection, status="closed")

    set_blocked(client, admin_headers, changed, True)  # the session is down: both wait on its queue
    set_blocked(client, admin_headers, changed, False)
    set_blocked(client, admin_headers, group, True)
    set_blocked(client, admin_headers, last, True)  # the queue runs in order: once it is blocked, the rest ran
    with running_gateway(broker):
        assert wait_for(lambda: blocked_on(redis_client, connection) == [last.phone], timeout=20)

    assert blocked_on(redis_client, connection) == [last.phone]
