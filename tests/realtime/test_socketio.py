"""Socket.IO: real python-socketio clients against `wharf realtime` (gunicorn, one threaded worker) on loopback.

Events are emitted with `wharf.realtime.emit_event` from this test process, the same Redis path the
workers and the gateway take. To prove that a client did NOT get an event, a later event is sent to
it and awaited: one server delivers one channel's messages to a client in order.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import socketio

from api.security import issue_tokens, revoke_token
from db.base import utcnow
from db.company_settings import save_company_settings
from db.connections import Connection
from db.queues import UserQueue
from db.users import User
from tests.conftest import ROOT, free_port
from tests.waiting import wait_for
from wharf.realtime import channel_for, emit_event
from workers.events import emit
from workers.transports import simulator


@pytest.fixture(scope="module")
def realtime_url(database, tmp_path_factory) -> Iterator[str]:
    """`wharf realtime` as supervisord runs it, on a free port, against this run's database and Redis."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("realtime") / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [ROOT / ".venv" / "bin" / "wharf", "realtime"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "REALTIME_PORT": str(port), "REALTIME_THREADS": "16"},
        )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/socket.io/?EIO=4&transport=polling", timeout=1) as response:
                return response.status == 200
        except OSError:
            return process.poll() is not None

    try:
        assert wait_for(answers, timeout=30) and process.poll() is None, log_path.read_text()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


class Listener:
    """A real Socket.IO client that records every event it receives."""

    def __init__(self) -> None:
        self.client = socketio.Client(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.connect_errors: list[Any] = []
        self.client.on("*", lambda event, data=None: self.events.append((event, data)))
        self.client.on("connect_error", self.connect_errors.append)

    def received(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    def wait(self, event: str, count: int = 1) -> list[Any]:
        assert wait_for(lambda: len(self.received(event)) >= count), f"no {event!r} in {self.events}"
        return self.received(event)

    def call(self, event: str, data: Any) -> Any:
        return self.client.call(event, data, timeout=5)


def token_for(app, user: User, kind: str = "accessToken") -> str:
    with app.app_context():
        return issue_tokens(user)[kind]


def gone_offline(user: User) -> bool:
    return User.get_by_id(user.id).online_status == "offline"


@contextmanager
def connected(url: str, app, user: User, *, last: bool = True) -> Iterator[Listener]:
    """A connected client of `user`; at the end, when it is the user's `last`, wait until the server saw it go.

    Ids restart in every test (TRUNCATE ... RESTART IDENTITY): the next test's user of the same id
    must not find this connection still counted by the server's presence.
    """
    listener = Listener()
    listener.client.connect(url, auth={"token": token_for(app, user)}, transports=["websocket"], wait_timeout=10)
    try:
        yield listener
    finally:
        listener.client.disconnect()
        if last:
            assert wait_for(lambda: gone_offline(user))


def sync(listener: Listener, company_id: int, marker: str) -> None:
    """Wait until `listener` has everything emitted before this call (a company event comes after it)."""
    emit_event("test:sync", {"marker": marker}, company_id=company_id)
    assert wait_for(lambda: {"marker": marker} in listener.received("test:sync"))


def refused(url: str, **connect_args: Any) -> Listener:
    listener = Listener()
    with pytest.raises(socketio.exceptions.ConnectionError):
        listener.client.connect(url, transports=["websocket"], wait_timeout=10, **connect_args)
    return listener


def test_a_bad_token_is_refused_with_a_connect_error(realtime_url, factories, app):
    user = factories.user()
    revoked = token_for(app, user)
    with app.app_context():
        from flask_jwt_extended import decode_token

        revoke_token(decode_token(revoked))
    disabled = factories.user(company=user.company, active=False)

    cases = {
        "unauthorized": {},
        "invalid_token": {"auth": {"token": "not-a-jwt"}},
        "token_revoked": {"auth": {"token": revoked}},
    }
    for code, connect_args in cases.items():
        listener = refused(realtime_url, **connect_args)
        assert [error["data"]["error"] for error in listener.connect_errors] == [code], connect_args
    refresh = refused(realtime_url, auth={"token": token_for(app, user, "refreshToken")})
    gone = refused(realtime_url, auth={"token": token_for(app, disabled)})
    assert refresh.connect_errors[0]["data"]["error"] == gone.connect_errors[0]["data"]["error"] == "invalid_token"
    assert "message" in gone.connect_errors[0]


def test_a_user_whose_company_requires_two_step_login_connects_once_it_is_on(realtime_url, factories, app):
    user = factories.user()
    save_company_settings(user.company_id, {"mfa_required": True})

    refusal = refused(realtime_url, auth={"token": token_for(app, user)})
    user.mfa_enabled_at = utcnow()
    user.save()
    listener = Listener()
    listener.client.connect(realtime_url, transports=["websocket"], auth={"token": token_for(app, user)},
                            wait_timeout=10)
    listener.client.disconnect()

    assert [error["data"]["error"] for error in refusal.connect_errors] == ["mfa_setup_required"]


def test_the_token_may_come_in_the_query_string_and_long_polling_works(realtime_url, factories, app):
    user = factories.user()
    listener = Listener()
    listener.client.connect(f"{realtime_url}?token={token_for(app, user)}", transports=["polling"], wait_timeout=10)
    try:
        emit_event("whatsapp:ready", {"connectionId": 7}, company_id=user.company_id)

        assert listener.wait("whatsapp:ready") == [{"connectionId": 7}]
    finally:
        listener.client.disconnect()
        assert wait_for(lambda: gone_offline(user))


def test_a_company_event_reaches_every_user_of_that_company_only(realtime_url, factories, app):
    admin = factories.user()
    agent = factories.user(company=admin.company, role="agent")
    stranger = factories.user()
    at = dt.datetime(2025, 1, 2, 3, 4, 5)
    with (connected(realtime_url, app, admin) as admins, connected(realtime_url, app, agent) as agents,
          connected(realtime_url, app, stranger) as strangers):
        emit_event("whatsapp:qr", {"connectionId": 1, "qr": "2@abc", "at": at}, company_id=admin.company_id)

        expected = {"connectionId": 1, "qr": "2@abc", "at": "2025-01-02T03:04:05Z"}
        assert admins.wait("whatsapp:qr") == [expected]
        assert agents.wait("whatsapp:qr") == [expected]
        sync(strangers, stranger.company_id, "after-qr")
        assert strangers.received("whatsapp:qr") == []


def test_a_personal_event_reaches_only_that_user(realtime_url, factories, app):
    admin = factories.user()
    agent = factories.user(company=admin.company, role="agent")
    with connected(realtime_url, app, admin) as admins, connected(realtime_url, app, agent) as agents:
        emit_event("job:done", {"jobId": "j1"}, company_id=admin.company_id, user_id=agent.id)

        assert agents.wait("job:done") == [{"jobId": "j1"}]
        sync(admins, admin.company_id, "after-job")
        assert admins.received("job:done") == []


def test_a_ticket_event_reaches_supervisors_its_queue_its_agent_and_its_room_but_not_other_agents(
    realtime_url, factories, app
):
    company = factories.company()
    supervisor = factories.user(company=company, role="supervisor")
    sales, support = factories.queue(company), factories.queue(company)
    seller = factories.user(company=company, role="agent")
    helper = factories.user(company=company, role="agent")
    assignee = factories.user(company=company, role="agent")
    UserQueue.create(user=seller, queue=sales)
    UserQueue.create(user=helper, queue=support)
    ticket = factories.ticket(company, queue=sales, user=assignee)
    stranger = factories.user()
    with (connected(realtime_url, app, supervisor) as supervisors, connected(realtime_url, app, seller) as sellers,
          connected(realtime_url, app, helper) as helpers, connected(realtime_url, app, assignee) as assignees,
          connected(realtime_url, app, stranger) as strangers):
        emit_event("ticket:update", {"id": ticket.id, "status": "open"}, company_id=company.id,
                   ticket_id=ticket.id, queue_id=sales.id, user_id=assignee.id)

        for listener in (supervisors, sellers, assignees):
            assert listener.wait("ticket:update") == [{"id": ticket.id, "status": "open"}]
        sync(helpers, company.id, "after-ticket")
        sync(strangers, stranger.company_id, "after-ticket")
        assert helpers.received("ticket:update") == strangers.received("ticket:update") == []


def test_an_unrouted_pending_ticket_s_events_reach_the_agents_who_see_those(realtime_url, factories, app):
    seeing, hiding = factories.company(), factories.company()
    save_company_settings(hiding.id, {"agents_see_unqueued_tickets": False})
    agent, other = factories.user(company=seeing, role="agent"), factories.user(company=hiding, role="agent")
    tickets = {company.id: factories.ticket(company) for company in (seeing, hiding)}
    with connected(realtime_url, app, agent) as agents, connected(realtime_url, app, other) as others:
        for company_id, ticket in tickets.items():
            emit("ticket:new", company_id, {"id": ticket.id}, ticket, None)

        assert agents.wait("ticket:new") == [{"id": tickets[seeing.id].id}]
        sync(others, hiding.id, "after-ticket")
        assert others.received("ticket:new") == []


def test_ticket_join_is_scoped_to_what_the_caller_may_see(realtime_url, factories, app):
    company = factories.company()
    admin = factories.user(company=company)
    sales, support = factories.queue(company), factories.queue(company)
    agent = factories.user(company=company, role="agent")
    UserQueue.create(user=agent, queue=sales)
    in_my_queue = factories.ticket(company, queue=sales)
    other_queue = factories.ticket(company, queue=support)
    mine_elsewhere = factories.ticket(company, queue=support, user=agent)
    unrouted = factories.ticket(company)
    someone_elses_unrouted = factories.ticket(company, status="open", user=admin)
    foreign = factories.ticket(factories.company())
    with connected(realtime_url, app, agent) as agents, connected(realtime_url, app, admin) as admins:
        assert agents.call("ticket:join", {"ticketId": in_my_queue.id}) == {"ok": True, "ticketId": in_my_queue.id}
        assert agents.call("ticket:join", {"ticketId": mine_elsewhere.id})["ok"] is True
        assert agents.call("ticket:join", {"ticketId": unrouted.id})["ok"] is True
        assert agents.call("ticket:join", {"ticketId": other_queue.id})["error"] == "forbidden"
        assert agents.call("ticket:join", {"ticketId": someone_elses_unrouted.id})["error"] == "forbidden"
        assert agents.call("ticket:join", {"ticketId": foreign.id})["error"] == "not_found"
        assert agents.call("ticket:join", {"ticketId": 10**9})["error"] == "not_found"
        assert agents.call("ticket:join", {"ticketId": "1"})["error"] == "validation_error"
        assert admins.call("ticket:join", {"ticketId": other_queue.id})["ok"] is True
        assert admins.call("ticket:join", {"ticketId": foreign.id})["error"] == "not_found"

        # Only the joined room carries a ticket event that names no queue and no user to the agent.
        for ticket in (in_my_queue, other_queue):
            emit_event("message:new", {"ticketId": ticket.id}, company_id=company.id, ticket_id=ticket.id)
        assert agents.wait("message:new") == [{"ticketId": in_my_queue.id}]
        sync(admins, company.id, "after-messages")  # in the supervisors' room and in ticket:other_queue, yet once
        assert admins.received("message:new") == [{"ticketId": in_my_queue.id}, {"ticketId": other_queue.id}]

        assert agents.call("ticket:leave", {"ticketId": in_my_queue.id}) == {"ok": True, "ticketId": in_my_queue.id}
        emit_event("message:new", {"ticketId": in_my_queue.id, "n": 2}, company_id=company.id, ticket_id=in_my_queue.id)
        sync(agents, company.id, "after-leave")
        assert agents.received("message:new") == [{"ticketId": in_my_queue.id}]


def test_typing_is_relayed_to_the_others_in_the_ticket_room(realtime_url, factories, app):
    company = factories.company()
    admin = factories.user(company=company)
    agent = factories.user(company=company, role="agent", name="Ana")
    bystander = factories.user(company=company)
    ticket = factories.ticket(company, user=agent)
    with (connected(realtime_url, app, admin) as admins, connected(realtime_url, app, agent) as agents,
          connected(realtime_url, app, bystander) as bystanders):
        assert agents.call("typing", {"ticketId": ticket.id, "typing": True})["error"] == "not_joined"
        assert admins.call("ticket:join", {"ticketId": ticket.id})["ok"] is True
        assert agents.call("ticket:join", {"ticketId": ticket.id})["ok"] is True

        assert agents.call("typing", {"ticketId": ticket.id, "typing": True}) == {"ok": True}
        assert agents.call("typing", {"ticketId": ticket.id})["error"] == "validation_error"
        assert agents.call("typing", {"ticketId": ticket.id, "typing": True, "recording": 1})["error"] == "validation_error"

        assert admins.wait("typing") == [{"ticketId": ticket.id, "userId": agent.id, "name": "Ana", "typing": True,
                                          "recording": False}]
        sync(agents, company.id, "after-typing")
        sync(bystanders, company.id, "after-typing")
        assert agents.received("typing") == bystanders.received("typing") == []


def an_agents_open_chat(factories):
    """(agent, connection, contact, ticket): an agent's open ticket with a contact, on a simulated number once it
    is connected (the test's gateway runs it)."""
    company = factories.company()
    agent = factories.user(company=company, role="agent")
    connection = factories.connection(company, enabled=True, is_default=True)
    contact = factories.contact(company, phone="+5511987654321")
    ticket = factories.ticket(company, connection=connection, contact=contact, user=agent, status="open")
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    return agent, connection, contact, ticket


def test_an_agent_typing_shows_the_contact_typing_on_whatsapp(realtime_url, factories, app, redis_client, worker,
                                                               gateway):
    agent, connection, _, ticket = an_agents_open_chat(factories)
    with connected(realtime_url, app, agent) as agents:
        agents.call("ticket:join", {"ticketId": ticket.id})

        agents.call("typing", {"ticketId": ticket.id, "typing": True})
        assert wait_for(lambda: simulator.typing(redis_client, connection.id).get("5511987654321", {}).get("typing"))
        agents.call("typing", {"ticketId": ticket.id, "typing": True, "recording": True})
        assert wait_for(lambda: simulator.typing(redis_client, connection.id)["5511987654321"]["recording"])
        agents.call("typing", {"ticketId": ticket.id, "typing": False})

        assert wait_for(lambda: simulator.typing(redis_client, connection.id)["5511987654321"]["typing"] is False)
        assert simulator.typing(redis_client, connection.id)["5511987654321"]["recording"] is False


def test_an_agent_who_opens_a_ticket_sees_its_contact_typing_on_whatsapp(realtime_url, factories, app, redis_client,
                                                                          worker, gateway):
    agent, connection, contact, ticket = an_agents_open_chat(factories)
    unheard = simulator.inject_typing(redis_client, connection.id, "+5511987654321", True)  # nobody has it open
    with connected(realtime_url, app, agent) as agents:
        agents.call("ticket:join", {"ticketId": ticket.id})
        assert wait_for(lambda: simulator.watches(redis_client, connection.id, "+5511987654321"), timeout=20)

        simulator.inject_typing(redis_client, connection.id, "+5511987654321", True)
        simulator.inject_typing(redis_client, connection.id, "+5511987654321", True, recording=True)
        simulator.inject_typing(redis_client, connection.id, "+5511987654321", False)

        seen = agents.wait("contact:typing", count=3)
    assert not unheard
    assert [(event["typing"], event["recording"]) for event in seen] == [(True, False), (True, True), (False, False)], seen
    assert {(event["ticketId"], event["contactId"], event["from"]) for event in seen} == {
        (ticket.id, contact.id, "+5511987654321")}
    assert all(event["at"].endswith("Z") for event in seen)


def test_presence_goes_online_with_the_first_connection_and_offline_with_the_last(realtime_url, factories, app):
    admin = factories.user()
    agent = factories.user(company=admin.company, role="agent")
    with connected(realtime_url, app, admin) as admins:
        with connected(realtime_url, app, agent), connected(realtime_url, app, agent, last=False):
            online = admins.wait("user:online", count=2)
            assert [event["userId"] for event in online] == [admin.id, agent.id]  # its own first
            assert User.get_by_id(agent.id).online_status == "online"
            seen = User.get_by_id(agent.id).last_seen_at
            assert seen is not None and abs((dt.datetime.now(dt.UTC).replace(tzinfo=None) - seen).total_seconds()) < 60

        offline = admins.wait("user:offline")
        assert [(event["userId"], event["status"]) for event in offline] == [(agent.id, "offline")]
        assert User.get_by_id(agent.id).online_status == "offline"
        sync(admins, admin.company_id, "after-offline")
        assert len(admins.received("user:online")) == 2 and len(admins.received("user:offline")) == 1


def test_emit_event_logs_and_returns_when_redis_is_down():
    """The same call the workers make, in a process whose Redis does not answer."""
    code = "from wharf.realtime import emit_event; emit_event('x', {}, company_id=1); print('returned')"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"},
    )

    assert result.returncode == 0 and result.stdout.strip() == "returned", result.stderr
    assert "Cannot publish to redis" in result.stderr
    assert time.monotonic() - started < 30


def test_each_redis_db_has_its_own_channel_because_pub_sub_ignores_the_db():
    assert channel_for("redis://127.0.0.1:6379/14") != channel_for("redis://127.0.0.1:6379/13")
    assert channel_for("redis://127.0.0.1:6379") == channel_for("redis://127.0.0.1:6379/0")
