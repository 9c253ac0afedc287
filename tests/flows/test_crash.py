"""A worker dies mid-flow: the session goes on once, and no step with a visible effect runs twice.

The proof is what the simulated network received: each message of each session once.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading

import pytest

import scheduler.jobs
import workers.flows.engine
from db.flows import FlowSession, FlowStep, FlowVersion
from db.tickets import find_or_open_ticket
from db.webhooks import WebhookDelivery
from tests import processes
from tests.flows.test_nodes import chain
from tests.waiting import wait_for
from workers.events import Announcements
from workers.flows.engine import advance_flow_session, create_session
from workers.inbound import upsert_contact
from workers.transports import simulator
from workers.webhooks import resend_lost_deliveries

STEPS = 10


def numbered_flow(steps: int) -> dict:
    ids = [f"m{n}" for n in range(1, steps + 1)]
    return {
        "trigger": {"type": "api"},
        "nodes": [{"id": i, "type": "message", "text": f"{i} {{{{phone}}}}"} for i in ids],
        "edges": chain(*ids),
    }


def received_by_phone(redis_client, connection_id: int) -> dict[str, list[str]]:
    entries = simulator.outbox(redis_client, connection_id, limit=100_000)[0]
    by_phone: dict[str, list[str]] = collections.defaultdict(list)
    for entry in entries:
        by_phone[entry["to"]].append(entry["body"].split()[0])
    return by_phone


def resend_lost_sends(monkeypatch) -> None:
    """The scheduler's `requeue_lost_jobs`, without its two minutes of patience."""
    scheduler.jobs.requeue_lost_jobs(lost_after=dt.timedelta(0))


def test_a_crash_between_a_steps_commit_and_its_send_repeats_nothing(
    bot, gateway, connection, redis_client, monkeypatch
):
    simulator.configure(redis_client, connection.id, deliveredAfterMs=0, readAfterMs=-1)
    flow = numbered_flow(5)
    bot.deploy({**flow, "trigger": {"type": "keyword", "value": "oi"}})
    dispatch, calls = workers.flows.engine.dispatch_outbound, []

    def dies_after_the_second_commit(outbound) -> None:
        calls.append(outbound.message.body)
        if len(calls) == 2:
            raise SystemError("the worker died here")
        dispatch(outbound)

    monkeypatch.setattr(workers.flows.engine, "dispatch_outbound", dies_after_the_second_commit)

    bot.say("oi")
    resend_lost_sends(monkeypatch)

    phone = "+5511987654321"
    assert wait_for(lambda: len(received_by_phone(redis_client, connection.id)[phone]) == 5, timeout=20)
    assert sorted(received_by_phone(redis_client, connection.id)[phone]) == ["m1", "m2", "m3", "m4", "m5"]
    assert [s.node for s in FlowStep.select().order_by(FlowStep.seq)] == ["m1", "m2", "m3", "m4", "m5"]
    assert bot.session().end_reason == "completed"


@pytest.fixture
def platform(broker):
    programs = processes.workers(processes=1, threads=4).start(), processes.gateway().start()
    yield programs
    for program in programs:
        program.stop()


def test_kill_9_of_the_workers_mid_flow_finishes_every_session_once(
    factories, company, connection, redis_client, platform, monkeypatch
):
    workers_program, _ = platform
    simulator.configure(redis_client, connection.id, deliveredAfterMs=0, readAfterMs=-1)
    from db.flows import Flow

    flow = Flow.create(company=company, name="numbers", definition=numbered_flow(STEPS), published_version=1)
    version = FlowVersion.create(flow=flow, version=1, definition=flow.definition)
    sessions = 100
    for n in range(sessions):
        ticket, _ = find_or_open_ticket(upsert_contact(company.id, f"+55119{n:08d}", None, False), connection)
        advance_flow_session.send(create_session(version, ticket, ticket.contact, "api").id)

    assert wait_for(lambda: FlowStep.select().count() > sessions * STEPS // 5, timeout=60), (
        "no steps before the crash"
    )
    workers_program.kill_hard()
    done_at_crash = FlowStep.select().count()
    workers_program.start()

    def all_ended() -> bool:
        return FlowSession.select().where(FlowSession.status != "ended").count() == 0

    assert wait_for(all_ended, timeout=120, interval=0.5), f"{done_at_crash} steps at the crash"
    resend_lost_sends(monkeypatch)
    assert wait_for(
        lambda: sum(map(len, received_by_phone(redis_client, connection.id).values())) == sessions * STEPS,
        timeout=60,
        interval=0.5,
    )
    expected = [f"m{n}" for n in range(1, STEPS + 1)]
    assert all(
        sorted(bodies, key=lambda b: int(b[1:])) == expected
        for bodies in received_by_phone(redis_client, connection.id).values()
    )
    assert FlowStep.select().count() == sessions * STEPS
    assert done_at_crash < sessions * STEPS, "the crash came after the work: nothing was tested"


def test_a_session_that_ends_just_before_a_crash_still_reaches_the_webhooks(bot, factories, company, monkeypatch):
    factories.webhook(company, events=["flow:*"])
    bot.deploy({**numbered_flow(1), "trigger": {"type": "keyword", "value": "oi"}})
    send = Announcements.send
    died = threading.Event()

    def dies_announcing_the_end(announcements, pipeline=None):
        if any(event == "flow:session_ended" for event, *_ in announcements.realtime):
            died.set()
            raise SystemError("the worker died after the last step's commit, before its events went out")
        send(announcements, pipeline)

    monkeypatch.setattr(Announcements, "send", dies_announcing_the_end)
    bot.say("oi")
    assert died.wait(15)  # the session shows ended at the commit, a moment before the worker "dies"
    monkeypatch.setattr(Announcements, "send", send)

    assert bot.session().end_reason == "completed"
    assert resend_lost_deliveries(lost_after=dt.timedelta(0)) == 1
    [ended] = WebhookDelivery.select().where(WebhookDelivery.event == "flow:session_ended")
    assert (ended.payload["data"]["id"], ended.payload["data"]["status"]) == (bot.session().id, "ended")
