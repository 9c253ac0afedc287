"""Which numbers are on WhatsApp: asked of the connection's session, answered in the job, kept on the contacts
(workers/number_check.py), and learned from what WhatsApp refuses or who writes in."""

from __future__ import annotations

from db.connections import Connection
from db.contacts import Contact
from db.jobs import Job
from tests.waiting import wait_for
from workers.campaigns import write_ledger
from workers.inbound import handle_inbound_batch
from workers.messages import gateway_queue
from workers.transports import simulator
from workers.transports.base import InboundMessage

ABSENT = "+5511900000002"


def checked(client, headers, body: dict) -> Job:
    answer = client.post("/api/contacts/check-whatsapp", json=body, headers=headers)
    assert answer.status_code == 202, answer.get_json()
    job_id = answer.get_json()["jobId"]
    assert wait_for(lambda: Job.get_by_id(job_id).status in ("done", "failed"), timeout=20)
    return Job.get_by_id(job_id)


def test_the_session_says_which_numbers_are_on_whatsapp_and_the_contacts_keep_it(
        client, admin_headers, factories, company, connection, redis_client, worker, gateway):
    simulator.configure(redis_client, connection.id, notOnWhatsapp=[ABSENT])
    present = factories.contact(company, phone="+5511900000001")
    absent = factories.contact(company, phone=ABSENT)
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)

    job = checked(client, admin_headers, {"phones": ["(11) 90000-0001", ABSENT, "+5511900000003", ABSENT]})

    assert (job.status, job.queue_name) == ("done", gateway_queue(connection.id))
    assert job.result == {"connectionId": connection.id, "onWhatsapp": 2, "notOnWhatsapp": 1, "numbers": [
        {"phone": "+5511900000001", "onWhatsapp": True}, {"phone": ABSENT, "onWhatsapp": False},
        {"phone": "+5511900000003", "onWhatsapp": True}]}
    assert Contact.get_by_id(present.id).on_whatsapp is True
    assert Contact.get_by_id(absent.id).on_whatsapp is False
    assert Contact.get_by_id(absent.id).whatsapp_checked_at is not None
    assert Contact.select().count() == 2  # numbers that are no contact are answered, not added
    shown = client.get("/api/contacts?onWhatsapp=false", headers=admin_headers).get_json()["items"]
    assert [(c["phone"], c["onWhatsapp"]) for c in shown] == [(ABSENT, False)]


def test_bad_numbers_a_stopped_connection_or_too_many_numbers_are_refused_before_anything_is_queued(
        client, admin_headers, factories, company, connection):
    bad = client.post("/api/contacts/check-whatsapp", json={"phones": ["+5511900000001", "call me"]},
                      headers=admin_headers)
    Connection.update(enabled=False).where(Connection.id == connection.id).execute()
    stopped = client.post("/api/contacts/check-whatsapp", json={"phones": ["+5511900000001"]}, headers=admin_headers)
    too_many = client.post("/api/contacts/check-whatsapp", json={"phones": ["+5511900000001"] * 1001},
                           headers=admin_headers)
    other_company = factories.connection(factories.company())
    foreign = client.post("/api/contacts/check-whatsapp",
                          json={"phones": ["+5511900000001"], "connectionId": other_company.id}, headers=admin_headers)

    assert (bad.status_code, list(bad.get_json()["details"])) == (400, ["phones[1]"])
    assert (stopped.status_code, stopped.get_json()["details"]) == (409, {"connectionId": "stopped"})
    assert too_many.status_code == 400 and foreign.status_code == 404
    assert Job.select().count() == 0


def test_campaigns_skip_the_numbers_known_not_to_be_on_whatsapp(factories, company, connection):
    unknown = factories.contact(company, phone="+5511900000001")
    present = factories.contact(company, phone="+5511900000002", on_whatsapp=True)
    absent = factories.contact(company, phone="+5511900000003", on_whatsapp=False)
    campaign = factories.campaign(company, connection=connection, status="running",
                                  contact_ids=[unknown.id, present.id, absent.id])

    write_ledger(campaign)

    ledger = {s.contact_id: (s.status, s.reason) for s in campaign.shippings}
    assert ledger == {unknown.id: ("queued", None), present.id: ("queued", None),
                      absent.id: ("skipped", "not_on_whatsapp")}


def test_a_send_whatsapp_refuses_for_the_number_marks_the_contact(
        client, admin_headers, factories, company, connection, redis_client, worker, gateway):
    simulator.configure(redis_client, connection.id, notOnWhatsapp=[ABSENT])

    answer = client.post("/api/messages", json={"to": ABSENT, "body": "hello"}, headers=admin_headers).get_json()

    assert wait_for(lambda: Contact.get(Contact.phone == ABSENT).on_whatsapp is False, timeout=20)
    assert client.get(f"/api/messages/{answer['id']}", headers=admin_headers).get_json()["status"] == "failed"


def test_who_writes_in_is_on_whatsapp_even_if_once_found_not_to_be(factories, company, connection, broker):
    absent = factories.contact(company, phone=ABSENT, on_whatsapp=False)

    handle_inbound_batch.fn([
        InboundMessage(connection.id, wa_id=f"3EB0IN{n}", chat=phone.lstrip("+"), sender=phone.lstrip("+"), body="hi")
        .to_dict() for n, phone in enumerate([ABSENT, "+5511900000009"])])

    assert Contact.get_by_id(absent.id).on_whatsapp is True
    assert Contact.get(Contact.phone == "+5511900000009").on_whatsapp is True
