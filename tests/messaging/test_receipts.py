"""Receipts in any order, any number of times: every message ends at the highest status it reached."""

from __future__ import annotations

import random

from db.base import utcnow
from db.messages import Message
from db.tickets import find_or_open_ticket
from workers.acks import apply_receipts
from workers.inbound import upsert_contact
from workers.transports.base import Receipt, deterministic_wa_id

MESSAGES = 10_000


def sent_messages(factories, count: int) -> tuple[int, list[str]]:
    company = factories.company()
    connection = factories.connection(company)
    ticket, _ = find_or_open_ticket(upsert_contact(company.id, "+5511987654321", "Ana", False), connection)
    wa_ids = [deterministic_wa_id(connection.id, str(n)) for n in range(count)]
    rows = [{"company": company.id, "ticket": ticket.id, "connection": connection.id, "contact": ticket.contact_id,
             "direction": "out", "body": f"m{n}", "status": "sent", "wa_id": wa_id, "sent_at": utcnow()}
            for n, wa_id in enumerate(wa_ids)]
    Message.insert_many(rows).execute()
    return connection.id, wa_ids


def test_ten_thousand_receipts_in_random_order_leave_every_message_at_its_highest_status(
    factories, broker, worker
):
    connection_id, wa_ids = sent_messages(factories, MESSAGES)
    highest = {wa_id: random.choice(("delivered", "read")) for wa_id in wa_ids}
    receipts = [(wa_id, "delivered") for wa_id in wa_ids]
    receipts += [(wa_id, "read") for wa_id, status in highest.items() if status == "read"]
    receipts += random.sample(receipts, 2000)  # WhatsApp repeats itself
    random.shuffle(receipts)

    for start in range(0, len(receipts), 50):  # a receipt event carries several ids of one status
        batch = receipts[start : start + 50]
        for status in ("delivered", "read"):
            ids = tuple(wa_id for wa_id, s in batch if s == status)
            if ids:
                apply_receipts.send(Receipt(connection_id, wa_ids=ids, status=status).to_dict())
    broker.join("acks", timeout=120_000)
    worker.join()

    final = {m.wa_id: m.status for m in Message.select(Message.wa_id, Message.status)}
    assert final == highest
    assert not Message.select().where(Message.status == "read", Message.read_at.is_null()).exists()
    assert not Message.select().where(Message.delivered_at.is_null()).exists()


def test_a_receipt_that_overtakes_the_sent_update_is_kept(factories, database):
    connection_id, [wa_id] = sent_messages(factories, 1)
    Message.update(status="sending", sent_at=None).execute()

    apply_receipts.fn(Receipt(connection_id, wa_ids=(wa_id,), status="read").to_dict())
    Message.update(status="sent").where(Message.status.in_(("queued", "sending"))).execute()  # the late "sent"

    message = Message.get()
    assert message.status == "read" and message.sent_at and message.read_at
