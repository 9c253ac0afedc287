"""The gateway sends a connection's queue in batches: in the order queued, each message settled on its own."""

from __future__ import annotations

from db.jobs import Job
from db.messages import Message
from db.tickets import find_or_open_ticket
from tests.waiting import wait_for
from workers.gateway.send_consumer import BATCH_SIZE
from workers.inbound import upsert_contact
from workers.messages import queue_outbound
from workers.transports import simulator

PHONES = [f"+551190000000{n}" for n in range(5)]
REFUSED = PHONES[3]
COUNT = BATCH_SIZE + 50  # two batches at least


def test_a_connections_messages_go_out_in_queue_order_and_a_refusal_fails_only_its_own(
        factories, redis_client, worker, gateway):
    company = factories.company()
    connection = factories.connection(company, enabled=True)
    simulator.configure(redis_client, connection.id, deliveredAfterMs=0, readAfterMs=-1, notOnWhatsapp=[REFUSED])
    tickets = [find_or_open_ticket(upsert_contact(company.id, phone, None, False), connection)[0] for phone in PHONES]
    queued = [queue_outbound(tickets[n % 5], f"message {n}") for n in range(COUNT)]

    settled = Message.status.in_(("delivered", "failed"))
    assert wait_for(lambda: Message.select().where(settled).count() == COUNT, timeout=60)
    finished = Job.status.in_(("done", "failed"))  # a batch's Jobs are updated just after its messages
    assert wait_for(lambda: Job.select().where(finished).count() == COUNT, timeout=30)

    entries, total = simulator.outbox(redis_client, connection.id, limit=COUNT)
    expected = [f"message {n}" for n in range(COUNT) if PHONES[n % 5] != REFUSED]
    assert [entry["body"] for entry in entries] == expected and total == len(expected)
    refused = Message.select().where(Message.status == "failed")
    assert refused.count() == COUNT - len(expected)
    assert all("not on WhatsApp" in message.error for message in refused)
    jobs = {job.id: job for job in Job.select().where(Job.id.in_([job_id for _, job_id in queued]))}
    for message, job_id in queued:
        status = Message.get_by_id(message.id).status
        assert jobs[job_id].status == ("failed" if status == "failed" else "done")
        if status == "delivered":
            assert jobs[job_id].result == {"messageId": message.id, "waId": message.wa_id}
