"""GroupCommit: concurrent sends written in one transaction, each request still answered alone.

The sends here are the API's own (`write_outbounds`, `dispatch_outbounds`) on real PostgreSQL and Redis.
A write held on an event lets the test line requests up behind a leader, so the grouping is certain.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from api.group_commit import GroupCommit
from db.base import database
from db.jobs import Job
from db.messages import Message
from db.tickets import Ticket
from wharf.logs import request_id_var
from workers.jobs import enqueued_marker
from workers.messages import OutboundDraft, dispatch_outbounds, write_outbounds
from workers.observability import REQUEST_ID_OPTION


class HeldWrites:
    """`write_outbounds`, recording each batch's size; the first batch waits for `release()`."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.first_started = threading.Event()
        self._released = threading.Event()

    def __call__(self, drafts):
        self.batches.append(len(drafts))
        if len(self.batches) == 1:
            self.first_started.set()
            assert self._released.wait(10)
        return write_outbounds(drafts)

    def release(self) -> None:
        self._released.set()


@pytest.fixture
def tickets(factories, database_kind):
    company = factories.company()
    connection = factories.connection(company)
    return [factories.ticket(company, connection=connection, contact=factories.contact(company, phone=f"+551198765432{n}"))
            for n in range(3)]


def run_in_threads(group: GroupCommit, held: HeldWrites, drafts: list[OutboundDraft]) -> list:
    """The first draft leads and is held; the others queue behind it, then all are let go."""
    def run(draft):
        request_id_var.set(draft.request_id)  # the thread serves the request the draft was made in
        with database.connection_context():
            try:
                return group.run(draft)
            except Exception as error:
                return error

    with ThreadPoolExecutor(len(drafts)) as pool:
        first = pool.submit(run, drafts[0])
        assert held.first_started.wait(10)
        rest = [pool.submit(run, draft) for draft in drafts[1:]]
        while len(group._waiting) < len(rest):  # all handed in, behind the held leader
            threading.Event().wait(0.01)
        held.release()
        return [first.result(10)] + [future.result(10) for future in rest]


def test_requests_that_arrive_while_one_writes_are_written_together_and_each_gets_its_own_message(
        tickets, redis_client):
    held = HeldWrites()
    group = GroupCommit(held, dispatch_outbounds)
    drafts = [OutboundDraft(tickets[n % 3], f"message {n}") for n in range(9)]

    outbounds = run_in_threads(group, held, drafts)

    assert held.batches == [1, 8]
    assert [outbound.message.body for outbound in outbounds] == [f"message {n}" for n in range(9)]
    assert len({outbound.message.id for outbound in outbounds}) == 9
    for outbound in outbounds:
        stored = Message.get_by_id(outbound.message.id)
        assert (stored.body, stored.ticket_id, stored.status) == (outbound.message.body, outbound.ticket.id, "queued")
        assert Job.get_by_id(outbound.job_id).message["args"] == [stored.id]
        assert redis_client.exists(enqueued_marker(outbound.job_id))
    assert Message.select().count() == 9
    for ticket in tickets:  # each ticket shows its newest message (the threads handed theirs in in any order)
        newest = Message.select().where(Message.ticket == ticket.id).order_by(Message.id.desc()).get()
        assert Ticket.get_by_id(ticket.id).last_message == newest.body


def test_each_send_job_carries_the_id_of_the_request_that_drafted_it_not_the_leaders(tickets):
    held = HeldWrites()
    group = GroupCommit(held, dispatch_outbounds)
    drafts = []
    for n in range(3):
        drafted_in = request_id_var.set(f"request-{n}")
        drafts.append(OutboundDraft(tickets[n], f"message {n}"))
        request_id_var.reset(drafted_in)

    outbounds = run_in_threads(group, held, drafts)

    assert held.batches == [1, 2]  # request-0 led and wrote the other two
    assert [Job.get_by_id(outbound.job_id).message["options"][REQUEST_ID_OPTION] for outbound in outbounds] == [
        "request-0", "request-1", "request-2"]


def test_a_bad_item_fails_alone_and_the_rest_of_its_batch_is_written(tickets):
    held = HeldWrites()
    group = GroupCommit(held, dispatch_outbounds)
    gone = Ticket(id=tickets[0].id + 1000, company=tickets[0].company_id, connection=tickets[0].connection_id,
                  contact=tickets[0].contact_id)  # no such row: its message breaks the foreign key
    drafts = [OutboundDraft(tickets[0], "first"), OutboundDraft(tickets[1], "fine"), OutboundDraft(gone, "bad"),
              OutboundDraft(tickets[2], "fine too")]

    results = run_in_threads(group, held, drafts)

    assert held.batches == [1, 3, 1, 1, 1]  # the batch of three failed, then each went alone
    assert "FOREIGN KEY" in str(results[2]).upper()  # its own request's error
    assert [result.message.body for n, result in enumerate(results) if n != 2] == ["first", "fine", "fine too"]
    assert sorted(Message.select(Message.body).tuples()) == [("fine",), ("fine too",), ("first",)]


def test_an_error_after_the_commit_is_every_request_of_the_batch_and_the_rows_stay(tickets):
    def broker_down(outbounds):
        raise ConnectionError("Redis is gone")

    group = GroupCommit(write_outbounds, broker_down)

    with pytest.raises(ConnectionError):
        group.run(OutboundDraft(tickets[0], "written, not sent"))

    # requeue_lost_jobs sends the Job, which has no enqueued marker (tests/scheduler/test_lost_jobs.py)
    assert Message.get().body == "written, not sent" and Job.select().count() == 1


def test_it_refuses_to_run_inside_a_transaction(tickets):
    group = GroupCommit(write_outbounds, dispatch_outbounds)

    with database.atomic(), pytest.raises(RuntimeError, match="inside a transaction"):
        group.run(OutboundDraft(tickets[0], "hello"))
