"""POST /api/messages: the conversation a send joins, its rows and Job, and what is refused.

The pipeline beyond the API (gateway, receipts) is in tests/messaging/test_pipeline.py.
"""

from __future__ import annotations

import io

import pytest

from db.contacts import Contact
from db.jobs import Job
from db.messages import Message
from db.tickets import Ticket, TicketEvent, find_conversation
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)
from tests.workers.import_helpers import on_sqlite
from workers.jobs import enqueued_marker
from workers.messages import gateway_queue


def send(client, headers, **body):
    return client.post("/api/messages", json=body, headers=headers)


def test_sends_to_one_phone_share_its_contact_and_ticket(client, headers, admin, connection, redis_client):
    first = send(client, headers, to="+5511987654321", body="one")
    second = send(client, headers, to="+5511987654321", body="two")

    assert first.status_code == second.status_code == 202, first.get_json()
    assert Contact.select().count() == 1 and Ticket.select().count() == 1
    ticket = Ticket.get()
    assert (ticket.status, ticket.user_id, ticket.connection_id) == ("open", admin.id, connection.id)
    assert ticket.last_message == "two"
    assert [event.kind for event in TicketEvent.select().order_by(TicketEvent.id)] == ["created", "accepted"]
    for answer in (first, second):
        sent = answer.get_json()
        message = Message.get_by_id(sent["id"])
        assert (sent["status"], message.status, message.ticket_id, message.user_id) == ("queued", "queued", ticket.id,
                                                                                     admin.id)
        job = Job.get_by_id(sent["jobId"])
        assert job.message["args"] == [message.id] and job.queue_name == f"gw.{connection.id}"
        assert redis_client.exists(enqueued_marker(job.id))
        shown = client.get(f"/api/messages/{sent['id']}", headers=headers).get_json()
        assert (shown["userId"], shown["flowSessionId"]) == (admin.id, None)


def test_a_send_is_announced_with_its_job_marked_enqueued(client, headers, connection, redis_client, realtime):  # noqa: F811
    answer = send(client, headers, to="+5511987654321", body="one").get_json()

    events = realtime()
    message = Message.get_by_id(answer["id"])
    assert [(event, data["id"], data["ticketId"], data["body"]) for event, data in events] == [
        ("message:new", message.id, message.ticket_id, "one")]
    assert redis_client.exists(enqueued_marker(answer["jobId"]))


def test_a_known_contact_without_a_ticket_gets_one(client, headers, factories, company, connection):
    contact = factories.contact(company, phone="+5511987654321", name="Ana")

    answer = send(client, headers, to="+5511987654321", body="hi")

    assert answer.status_code == 202
    assert Contact.select().count() == 1 and Ticket.get().contact_id == contact.id
    assert Contact.get().name == "Ana"


def test_a_number_without_its_country_code_is_read_in_the_company_s_country(client, headers, company, connection):
    company.default_country = "PT"
    company.save()

    answer = send(client, headers, to="912 345 678", body="olá")

    assert answer.status_code == 202, answer.get_json()
    assert Contact.get().phone == "+351912345678"


def test_a_recipient_that_is_no_phone_number_is_a_400_with_the_reason(client, headers, connection):
    answer = send(client, headers, to="not a number", body="hi")

    assert answer.status_code == 400
    assert answer.get_json()["error"] == "validation_error" and "to" in answer.get_json()["details"]
    assert Message.select().count() == 0


def test_the_named_connection_is_used_and_another_company_s_is_a_404(client, headers, factories, company, connection):
    other = factories.connection(company, name="second")
    foreign = factories.connection(factories.company())

    to_other = send(client, headers, to="+5511987654321", body="hi", connectionId=other.id)
    to_foreign = send(client, headers, to="+5511987654321", body="hi", connectionId=foreign.id)

    assert to_other.status_code == 202
    assert Message.get_by_id(to_other.get_json()["id"]).connection_id == other.id
    assert to_foreign.status_code == 404 and to_foreign.get_json()["error"] == "not_found"


def test_a_deleted_connection_is_refused_at_once(client, headers, connection):
    assert send(client, headers, to="+5511987654321", body="hi", connectionId=connection.id).status_code == 202

    assert client.delete(f"/api/connections/{connection.id}", headers=headers).status_code == 204
    named = send(client, headers, to="+5511987654321", body="hi", connectionId=connection.id)
    default = send(client, headers, to="+5511987654321", body="hi")

    assert named.status_code == 404
    assert default.status_code == 422 and default.get_json()["error"] == "no_connection"


def test_a_new_default_connection_takes_the_next_send(client, headers, factories, company, connection):
    send(client, headers, to="+5511987654321", body="before")
    newer = factories.connection(company, name="newer")
    client.patch(f"/api/connections/{newer.id}", json={"isDefault": True}, headers=headers)

    answer = send(client, headers, to="+5511987654321", body="after")

    assert Message.get_by_id(answer.get_json()["id"]).connection_id == newer.id
    assert Ticket.select().count() == 2  # one conversation per connection


def test_a_closed_ticket_is_not_reused(client, headers, connection):
    first = send(client, headers, to="+5511987654321", body="one").get_json()
    Ticket.update(status="closed").execute()

    second = send(client, headers, to="+5511987654321", body="two").get_json()

    assert Message.get_by_id(second["id"]).ticket_id != Message.get_by_id(first["id"]).ticket_id


def test_the_same_idempotency_key_writes_and_enqueues_one_message(client, headers, connection):
    keyed = {**headers, "Idempotency-Key": "order-17"}
    body = {"to": "+5511987654321", "body": "once"}

    first = client.post("/api/messages", json=body, headers=keyed)
    second = client.post("/api/messages", json=body, headers=keyed)

    assert first.status_code == second.status_code == 202
    assert first.get_json() == second.get_json() and second.headers["Idempotent-Replayed"] == "true"
    assert Message.select().count() == 1 and Job.select().count() == 1


def test_another_user_s_send_with_the_same_key_is_a_message_of_its_own(client, headers, app, factories,
                                                                      company, connection):
    agent = factories.auth_headers(app, factories.user(company, role="supervisor"))  # sees the admin's ticket
    body = {"to": "+5511987654321", "body": "once"}

    mine = client.post("/api/messages", json=body, headers={**headers, "Idempotency-Key": "order-17"})
    theirs = client.post("/api/messages", json=body, headers={**agent, "Idempotency-Key": "order-17"})

    assert mine.status_code == theirs.status_code == 202, theirs.get_json()
    assert mine.get_json()["id"] != theirs.get_json()["id"] and "Idempotent-Replayed" not in theirs.headers
    assert Message.select().count() == 2 and Job.select().count() == 2


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


def send_form(client, headers, key: str, file: tuple[bytes, str, str] = (PNG, "a.png", "image/png"), **fields):
    """POST /api/messages as multipart/form-data with `Idempotency-Key: key`, the file (content, name, type)
    as the field `file`."""
    data, name, mimetype = file
    return client.post("/api/messages", headers={**headers, "Idempotency-Key": key},
                       content_type="multipart/form-data", data={**fields, "file": (io.BytesIO(data), name, mimetype)})


def test_the_same_multipart_send_with_its_key_replays_and_writes_one_message(client, headers, factories,
                                                                             company, connection):
    ticket = factories.ticket(company, connection=connection)

    first = send_form(client, headers, "upload-1", ticketId=str(ticket.id), body="hi")
    second = send_form(client, headers, "upload-1", ticketId=str(ticket.id), body="hi")

    assert first.status_code == second.status_code == 202, first.get_json()
    assert first.get_json() == second.get_json() and second.headers["Idempotent-Replayed"] == "true"
    assert Message.select().count() == 1 and Job.select().count() == 1


@pytest.mark.parametrize("change", [
    {"file": (PNG + b"\x00", "a.png", "image/png")},
    {"file": (PNG, "b.png", "image/png")},
    {"file": (PNG, "a.png", "image/webp")},
    {"body": "bye"},
    {"ticketId": "other"},
], ids=["file content", "file name", "file type", "body field", "ticketId"])
def test_a_key_sent_again_with_another_file_or_field_is_a_422(client, headers, factories, company, connection,
                                                               change):
    tickets = {"first": factories.ticket(company, connection=connection),
               "other": factories.ticket(company, contact=factories.contact(company), connection=connection)}
    request = {"ticketId": "first", "body": "hi", **change}
    request["ticketId"] = str(tickets[request["ticketId"]].id)
    send_form(client, headers, "upload-1", ticketId=str(tickets["first"].id), body="hi")

    again = send_form(client, headers, "upload-1", **request)

    assert again.status_code == 422, again.get_json()
    assert again.get_json()["error"] == "idempotency_key_reused"
    assert Message.select().count() == 1 and Job.select().count() == 1


def test_an_api_key_sends_with_its_rate_limit_headers(client, headers, connection):
    key = client.post("/api/api-keys", json={"name": "shop", "scopes": ["messages:send"]}, headers=headers).get_json()

    answer = client.post("/api/messages", json={"to": "+5511987654321", "body": "hi"}, headers={"X-API-Key": key["key"]})

    assert answer.status_code == 202, answer.get_json()
    assert "X-RateLimit-Remaining" in answer.headers
    assert client.get(f"/api/messages/{answer.get_json()['id']}", headers=headers).get_json()["userId"] is None


def test_a_conversation_is_found_on_sqlite_too(tmp_path, factories):
    with on_sqlite(tmp_path):
        company = factories.company()
        connection = factories.connection(company, is_default=True)
        contact = factories.contact(company, phone="+5511987654321")
        ticket = factories.ticket(company, contact=contact, connection=connection)

        found = find_conversation(company.id, "+5511987654321")
        unknown = find_conversation(company.id, "+5511900000000", connection.id)

        assert (found.connection_id, found.contact_id, found.ticket.id) == (connection.id, contact.id, ticket.id)
        assert (found.ticket.status, found.ticket.contact_id) == (ticket.status, contact.id)
        assert (unknown.connection_id, unknown.contact_id, unknown.ticket) == (connection.id, None, None)
        assert find_conversation(company.id, "+5511987654321", connection.id + 1) is None


def test_an_agent_sends_to_and_reads_only_the_tickets_they_may_see(app, client, factories, company, connection):
    agent = factories.user(company, role="agent")  # in no queue
    as_agent = factories.auth_headers(app, agent)
    theirs = factories.ticket(company, connection=connection, queue=factories.queue(company), status="open",
                              user=factories.user(company, role="agent"))
    said = factories.message(theirs, body="my card number is ...")
    unrouted = factories.ticket(company, connection=connection)  # pending, no queue: anyone may take it

    to_their_ticket = send(client, as_agent, ticketId=theirs.id, body="hi")
    to_their_phone = send(client, as_agent, to=theirs.contact.phone, body="hi")
    read_theirs = client.get(f"/api/messages/{said.id}", headers=as_agent)
    to_unrouted = send(client, as_agent, ticketId=unrouted.id, body="hi")

    assert to_their_ticket.status_code == 404 and to_their_ticket.get_json()["error"] == "not_found"
    assert to_their_phone.status_code == 409 and to_their_phone.get_json()["details"] == {"ticketId": theirs.id}
    assert read_theirs.status_code == 404
    assert to_unrouted.status_code == 202
    assert Message.select().where(Message.ticket == theirs.id).count() == 1  # only what the contact said


def test_a_quoted_message_of_another_chat_is_refused_and_nothing_is_written(client, headers, factories, company,
                                                                           connection):
    ticket = factories.ticket(company, connection=connection, status="open")
    own = factories.message(ticket)
    earlier = factories.message(factories.ticket(company, connection=connection, contact=ticket.contact,
                                                 status="closed"))
    elsewhere = factories.message(factories.ticket(company, connection=connection))
    written = Message.select().count()

    to_ticket = send(client, headers, ticketId=ticket.id, body="x", quotedMessageId=elsewhere.id)
    to_new_phone = send(client, headers, to="+5511912345678", body="x", quotedMessageId=own.id)

    assert to_ticket.status_code == to_new_phone.status_code == 404
    assert to_ticket.get_json()["details"] == {"quotedMessageId": "not in this conversation"}
    assert Message.select().count() == written
    assert not Contact.select().where(Contact.phone == "+5511912345678").exists()  # no conversation opened
    assert send(client, headers, ticketId=ticket.id, body="x", quotedMessageId=own.id).status_code == 202
    assert send(client, headers, to=ticket.contact.phone, body="x", quotedMessageId=earlier.id).status_code == 202


def test_a_ticket_s_messages_go_out_on_its_own_connection(client, headers, factories, company, connection):
    ticket = factories.ticket(company, connection=connection, status="open")
    other = factories.connection(company, name="other")

    answer = send(client, headers, ticketId=ticket.id, body="hi", connectionId=other.id)

    assert answer.status_code == 400 and answer.get_json()["details"] == {"connectionId": "not the ticket's connection"}
    assert send(client, headers, ticketId=ticket.id, body="hi", connectionId=connection.id).status_code == 202


def test_deleting_a_connection_fails_its_messages_not_sent_yet_and_empties_its_queue(client, headers, connection,
                                                                                     redis_client):
    waiting = send(client, headers, to="+5511987654321", body="hi").get_json()  # no gateway runs here
    queue_keys = redis_client.keys(f"*{gateway_queue(connection.id)}*")
    assert queue_keys

    assert client.delete(f"/api/connections/{connection.id}", headers=headers).status_code == 204

    message = Message.get_by_id(waiting["id"])
    assert (message.status, message.error) == ("failed", "its connection was deleted")
    assert Job.get_by_id(waiting["jobId"]).status == "failed"
    assert not any(redis_client.exists(key) for key in queue_keys)
    shown = client.get(f"/api/messages/{waiting['id']}", headers=headers).get_json()
    assert (shown["status"], shown["error"]) == ("failed", "its connection was deleted")


def test_a_closed_ticket_or_a_blocked_contact_is_refused_at_once(client, headers, factories, company, connection):
    closed = factories.ticket(company, connection=connection, status="closed")
    blocked = factories.contact(company, blocked=True)
    blocked_ticket = factories.ticket(company, connection=connection, contact=blocked, status="open")

    to_closed = send(client, headers, ticketId=closed.id, body="hi")
    to_blocked_ticket = send(client, headers, ticketId=blocked_ticket.id, body="hi")
    to_blocked_phone = send(client, headers, to=blocked.phone, body="hi")

    assert to_closed.status_code == 409 and "reopen" in to_closed.get_json()["message"]
    assert to_blocked_ticket.status_code == to_blocked_phone.status_code == 422
    assert to_blocked_phone.get_json()["error"] == "contact_blocked"
    assert Message.select().count() == 0
    assert send(client, headers, to=closed.contact.phone, body="hi").status_code == 202  # a new conversation


def test_an_agent_s_text_goes_out_under_their_name_when_the_company_signs_messages(
        client, headers, factories, admin, company, connection):
    key = {"X-API-Key": factories.api_key(company, ["messages:send"])}
    client.patch("/api/settings", headers=headers, json={"signMessages": True})

    by_user = send(client, headers, to="+5511987654321", body="Bom dia!").get_json()
    by_program = send(client, key, to="+5511987654321", body="Pedido enviado").get_json()

    client.patch("/api/settings", headers=headers, json={"signMessages": False})  # read afresh by this process
    unsigned = send(client, headers, to="+5511987654321", body="Até logo").get_json()

    assert Message.get_by_id(by_user["id"]).body == f"*{admin.name}:*\nBom dia!"
    assert Message.get_by_id(by_program["id"]).body == "Pedido enviado"
    assert Message.get_by_id(unsigned["id"]).body == "Até logo"
