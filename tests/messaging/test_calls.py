"""WhatsApp calls to a company's number: shown in the caller's ticket once, rejected and answered once when the
company says so (the settings `reject_calls` and `call_rejected_message`)."""

from __future__ import annotations

import pytest

from db.company_settings import save_company_settings
from db.contacts import Contact
from db.messages import Message, PendingFollowUp
from db.tickets import Ticket
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)
from tests.messaging.test_read_receipts import queued_on_session
from tests.waiting import wait_for
from workers.calls import handle_call, record_call, reject_incoming_call
from workers.inbound import handle_inbound
from workers.messages import send_message
from workers.transports.base import InboundMessage, IncomingCall

CALLER = "5511987654321"
SORRY = "We can't take calls here: please write to us."


def incoming_call(connection, call_id: str = "2F1C0B6A9E8D7C6B", **fields) -> dict:
    return IncomingCall(connection.id, call_id=call_id, chat=CALLER, timestamp=1_800_000_000.0, **fields).to_dict()


def rejecting(company, message: str = SORRY) -> None:
    save_company_settings(company.id, {"reject_calls": True, "call_rejected_message": message})


def replies() -> list[str]:
    return [m.body for m in Message.select().where(Message.direction == "out").order_by(Message.id)]


def queued(broker, connection) -> list[tuple[str, tuple]]:
    return [(m.actor_name, tuple(m.args)) for m in queued_on_session(broker, connection)]


def test_a_call_shows_in_the_callers_ticket_once_when_delivered_twice(connection, broker, realtime):  # noqa: F811
    first = handle_call.fn(incoming_call(connection))
    again = handle_call.fn(incoming_call(connection))

    [call] = Message.select()
    ticket = Ticket.get()
    assert (call.direction, call.type, call.body, call.wa_id) == ("in", "call", "📞 Voice call", "2F1C0B6A9E8D7C6B")
    assert call.ticket_id == ticket.id and Contact.get_by_id(call.contact_id).phone == f"+{CALLER}"
    assert (ticket.unread_messages, ticket.last_message) == (1, "📞 Voice call")
    assert first == {"rejected": False, "messageId": call.id, "ticketId": ticket.id, "ticketCreated": True}
    assert again == {"rejected": False, "duplicate": "2F1C0B6A9E8D7C6B"}
    assert [event for event, _ in realtime()] == ["ticket:new", "message:new"]
    assert PendingFollowUp.select().count() == 0
    assert replies() == [] and queued(broker, connection) == []  # not rejected, not answered, no greeting


def test_with_rejection_off_a_call_rings_on_and_reading_it_sends_no_blue_tick(client, admin_headers, company,
                                                                               connection, broker):
    save_company_settings(company.id, {"call_rejected_message": SORRY})  # without reject_calls: not sent
    handle_call.fn(incoming_call(connection, video=True))
    ticket = Ticket.get()

    read = client.post(f"/api/tickets/{ticket.id}/read", headers=admin_headers)

    assert read.status_code == 200 and read.get_json()["unreadMessages"] == 0
    assert Message.get().body == "📹 Video call"
    assert replies() == [] and queued(broker, connection) == []  # no rejection, no reply, no read receipt


def test_a_rejected_call_stops_ringing_and_is_answered_once(client, admin_headers, company, connection, redis_client,
                                                           worker, gateway):
    assert client.patch("/api/settings", json={"rejectCalls": True, "callRejectedMessage": SORRY},
                        headers=admin_headers).status_code == 200

    answer = client.post(f"/api/simulator/{connection.id}/call", json={"from": "11987654321"}, headers=admin_headers)

    assert answer.status_code == 202, answer.get_json()
    call_id = answer.get_json()["callId"]
    assert (answer.get_json()["from"], answer.get_json()["video"]) == (f"+{CALLER}", False)

    def calls() -> list[dict]:
        return client.get(f"/api/simulator/{connection.id}/calls", headers=admin_headers).get_json()["items"]

    assert wait_for(lambda: calls()[0]["rejectedAt"] is not None, timeout=20)
    assert wait_for(lambda: Message.select().where(Message.direction == "out", Message.status != "queued").exists(),
                    timeout=20)
    outbox = client.get(f"/api/simulator/{connection.id}/outbox", headers=admin_headers).get_json()["items"]
    assert [(entry["to"], entry["body"]) for entry in outbox] == [(f"+{CALLER}", SORRY)]
    [shown] = calls()
    assert (shown["callId"], shown["from"], shown["video"]) == (call_id, f"+{CALLER}", False)
    ticket = Ticket.get()
    listed = client.get(f"/api/tickets/{ticket.id}/messages", headers=admin_headers).get_json()["items"]
    assert sorted((m["direction"], m["type"], m["body"]) for m in listed) == [("in", "call", "📞 Voice call"),
                                                                              ("out", "text", SORRY)]

    handle_call.fn(incoming_call(connection, call_id=call_id))  # the gateway's event, delivered again

    assert replies() == [SORRY]


def test_a_call_redelivered_after_a_crash_is_announced_and_answered_once(company, connection, broker,
                                                                        realtime):  # noqa: F811
    rejecting(company)
    record_call(connection, incoming_call(connection))  # the worker died here: recorded, nothing followed

    handle_call.fn(incoming_call(connection))
    handle_call.fn(incoming_call(connection))

    assert replies() == [SORRY]
    assert [event for event, _ in realtime()] == ["ticket:new", "message:new", "message:new"]  # the reply's last
    rejection = (reject_incoming_call.actor_name, (connection.id, CALLER, "2F1C0B6A9E8D7C6B"))
    assert [name for name, _ in queued(broker, connection)].count(send_message.actor_name) == 1
    assert [entry for entry in queued(broker, connection) if entry == rejection] == [rejection] * 2  # once a run


def test_a_ticket_a_call_opens_is_greeted_so_the_next_message_answers_the_menu(factories, company, broker):
    sales = factories.queue(company, greeting="Vendas.")
    reception = factories.queue(company, greeting="Olá! Escolha:",
                                menu_options=[{"option": "1", "label": "Vendas", "queueId": sales.id}])
    connection = factories.connection(company, default_queue=reception)
    rejecting(company)

    handle_call.fn(incoming_call(connection))
    handle_call.fn(incoming_call(connection))
    handle_inbound.fn(InboundMessage(connection.id, wa_id="3EB0ONE", chat=CALLER, sender=CALLER, body="1",
                                     timestamp=1_800_000_060.0).to_dict())

    assert replies() == [SORRY, "Olá! Escolha:\n\n1 - Vendas", "Vendas."]
    assert Ticket.get().queue_id == sales.id


def test_an_empty_message_rejects_without_answering(company, connection, broker):
    rejecting(company, message="")

    result = handle_call.fn(incoming_call(connection))

    assert result["rejected"] and Message.select().count() == 1 and replies() == []
    assert [name for name, _ in queued(broker, connection)] == [reject_incoming_call.actor_name]


def test_a_blocked_contacts_call_is_rejected_and_nothing_else(factories, company, connection, broker):
    rejecting(company)
    factories.contact(company, phone=f"+{CALLER}", blocked=True)

    result = handle_call.fn(incoming_call(connection))

    assert result == {"rejected": True, "blocked": "2F1C0B6A9E8D7C6B"}
    assert Message.select().count() == 0 and Ticket.select().count() == 0
    assert queued(broker, connection) == [(reject_incoming_call.actor_name, (connection.id, CALLER, "2F1C0B6A9E8D7C6B"))]


@pytest.mark.parametrize("reject", [True, False], ids=["rejecting", "not rejecting"])
def test_a_group_call_is_left_alone(company, connection, broker, reject):
    if reject:
        rejecting(company)

    assert handle_call.fn(incoming_call(connection, is_group=True)) == {"skipped": "group call"}

    assert Message.select().count() == 0 and Contact.select().count() == 0 and queued(broker, connection) == []


def test_the_simulated_call_api_checks_who_calls_what(app, client, admin_headers, factories, company, connection):
    agent = factories.auth_headers(app, factories.user(company, role="agent"))
    real = factories.connection(company, transport="neonize")

    wrong_number = client.post(f"/api/simulator/{connection.id}/call", json={"from": "12"}, headers=admin_headers)
    by_agent = client.post(f"/api/simulator/{connection.id}/call", json={"from": CALLER}, headers=agent)
    not_simulated = client.post(f"/api/simulator/{real.id}/call", json={"from": CALLER}, headers=admin_headers)
    video = client.post(f"/api/simulator/{connection.id}/call", json={"from": f"+{CALLER}", "video": True},
                        headers=admin_headers)
    listed = client.get(f"/api/simulator/{connection.id}/calls", headers=admin_headers)

    assert wrong_number.status_code == 400 and "from" in wrong_number.get_json()["details"]
    assert by_agent.status_code == 403
    assert not_simulated.status_code == 409 and not_simulated.get_json()["error"] == "not_simulated"
    assert video.status_code == 202 and video.get_json()["video"]
    [call] = listed.get_json()["items"]  # no gateway runs: it rings, unanswered
    assert (call["callId"], call["from"], call["video"], call["rejectedAt"]) == (
        video.get_json()["callId"], f"+{CALLER}", True, None)
    assert call["at"].endswith("Z")
