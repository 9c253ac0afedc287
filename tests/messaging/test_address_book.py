"""Importing the contacts saved on a number's phone: each number a contact named as the phone saved it, a contact
with a name keeps it, a hidden number makes none, and importing again creates nothing."""

from __future__ import annotations

from db.connections import Connection
from db.contacts import Contact
from db.jobs import Job
from tests.waiting import finished_job, wait_for
from workers.messages import gateway_queue
from workers.transports import simulator


def imported(client, headers, body=None) -> Job:
    return finished_job(client.post("/api/contacts/import-from-phone", json=body, headers=headers))


def test_the_phones_contacts_become_the_companys_named_as_saved_once(client, admin_headers, factories, company,
                                                                     connection, redis_client, worker, gateway):
    factories.contact(company, phone="+5511900000001", name="Ana (cliente desde 2019)")
    factories.contact(company, phone="+5511900000002", name="+5511900000002")  # a send created it, nameless
    simulator.configure(redis_client, connection.id, addressBook={
        "5511900000001": "Ana Lima", "5511900000002": "Bruno Reis", "5511900000003": "Carla",
        "5511900000004": "", "98765432101234@lid": "Dani"})
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)

    first = imported(client, admin_headers, {"connectionId": connection.id})
    again = imported(client, admin_headers)  # the default connection

    assert (first.status, first.queue_name) == ("done", gateway_queue(connection.id))
    assert first.result == {"connectionId": connection.id, "found": 5, "created": 2, "named": 1, "hiddenNumbers": 1}
    assert again.result == {**first.result, "created": 0, "named": 0}
    assert dict(Contact.select(Contact.phone, Contact.name).order_by(Contact.phone).tuples()) == {
        "+5511900000001": "Ana (cliente desde 2019)", "+5511900000002": "Bruno Reis", "+5511900000003": "Carla",
        "+5511900000004": ""}


def test_only_managers_import_and_only_from_a_started_connection(app, client, admin_headers, factories, company,
                                                                 connection):
    agent = factories.auth_headers(app, factories.user(company, role="agent"))
    stopped = factories.connection(company, enabled=False)

    by_agent = client.post("/api/contacts/import-from-phone", headers=agent)
    from_stopped = client.post("/api/contacts/import-from-phone", json={"connectionId": stopped.id},
                               headers=admin_headers)

    assert (by_agent.status_code, from_stopped.status_code) == (403, 409)
    assert Job.select().count() == 0
