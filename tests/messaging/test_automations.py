"""Automation rules at work: a contact's message that opens a ticket or comes in on one runs the company's rules whose
conditions hold, before the greeting and menu answer it, and a missed SLA target its `sla_missed` rules; each rule
once per message or miss, even when it is handled again after a crash; an action that cannot be done stops its rule
there, and the run says why."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from db.automations import AutomationRule, AutomationRun
from db.company_settings import save_company_settings
from db.contacts import Contact, ContactTag
from db.jobs import Job
from db.messages import Message, PendingFollowUp
from db.notifications import Notification
from db.sla import SlaPolicy
from db.tickets import SlaMiss, Ticket, TicketEvent, TicketField, TicketNote, TicketTag, priority_name
from tests.waiting import wait_for
from tests.webhook_receiver import allow_loopback, serving
from workers.automations import run_closing_rules
from workers.inbound import handle_inbound
from workers.maintenance import close_inactive_tickets
from workers.sla import record_sla_misses
from workers.transports.base import InboundMessage

ALWAYS_CLOSED = {"mon": [["00:00", "00:01"]]}


def inbound(connection, body: str, wa_id: str, phone: str = "5511987654321", **fields) -> dict:
    event = InboundMessage(connection.id, wa_id=wa_id, chat=phone, sender=phone, sender_name="Ana Lima", body=body,
                           **fields)
    return handle_inbound.fn(event.to_dict())


def rule(company, event: str, actions: list[dict], conditions: list[dict] = (), **fields) -> AutomationRule:
    return AutomationRule.create(company=company, name=fields.pop("name", "rule"), event=event,
                                 conditions=list(conditions), actions=actions, **fields)


def replies() -> list[str]:
    return [m.body for m in Message.select().where(Message.direction == "out").order_by(Message.id)]


def tags_of(ticket_id: int) -> set[int]:
    return {link.tag_id for link in TicketTag.select().where(TicketTag.ticket == ticket_id)}


@pytest.fixture
def reception(factories, company):
    sales = factories.queue(company, name="Vendas")
    return factories.queue(company, name="Recepção", greeting="Olá! Escolha:",
                           menu_options=[{"option": "1", "label": "Vendas", "queueId": sales.id}])


@pytest.fixture
def connection(factories, company, reception):
    return factories.connection(company, default_queue=reception)


def test_a_new_ticket_from_abroad_goes_to_the_english_queue_and_is_greeted_there(factories, company, connection,
                                                                                broker):
    english = factories.queue(company, name="English", greeting="Hi! An agent will be with you shortly.")
    rule(company, "ticket_created", [{"type": "transfer", "queueId": english.id}],
         [{"attribute": "phone", "operator": "starts_with", "values": ["+1"]}])

    inbound(connection, "hello", "3EB0A", phone="14155550100")
    inbound(connection, "oi", "3EB0B", phone="5511987654321")

    abroad, home = Ticket.select().order_by(Ticket.id)
    assert (abroad.queue_id, home.queue_id) == (english.id, connection.default_queue_id)
    assert replies() == ["Hi! An agent will be with you shortly.", "Olá! Escolha:\n\n1 - Vendas"]
    assert [(run.ticket_id, run.status) for run in AutomationRun.select()] == [(abroad.id, "done")]


def test_a_message_that_asks_to_cancel_makes_the_ticket_urgent_tags_it_and_tells_the_supervisor(factories, company,
                                                                                                  connection, broker):
    supervisor = factories.user(company, role="supervisor")
    churn = factories.tag(company, name="churn")
    cancel = rule(company, "message_received", [
        {"type": "priority", "priority": "urgent"},
        {"type": "add_tags", "tagIds": [churn.id]},
        {"type": "note", "body": "Cliente quer cancelar", "mentionedUserIds": [supervisor.id]},
    ], [{"attribute": "body", "operator": "contains", "values": ["cancelar", "desistir"]}])

    inbound(connection, "oi", "3EB0A")
    assert AutomationRun.select().count() == 0
    inbound(connection, "Quero CANCELÁR meu plano", "3EB0B")  # without case or accents

    ticket = Ticket.get()
    assert (priority_name(ticket.priority), tags_of(ticket.id)) == ("urgent", {churn.id})
    assert TicketEvent.get(TicketEvent.kind == "prioritised").data == {"from": None, "to": "urgent"}
    assert [(n.body, n.user_id) for n in TicketNote.select()] == [("Cliente quer cancelar", None)]
    assert [(n.user_id, n.kind) for n in Notification.select()] == [(supervisor.id, "mention")]
    run = AutomationRun.get()
    assert (run.rule_id, run.ticket_id, run.message_id, run.status) == (
        cancel.id, ticket.id, Message.get(Message.wa_id == "3EB0B").id, "done")


def test_a_rule_runs_once_for_a_message_handled_again_after_a_crash(factories, company, connection, broker):
    rule(company, "message_received", [{"type": "send_message", "body": "Recebemos, {{firstName}}!"}])
    inbound(connection, "oi", "3EB0A")
    message = Message.get(Message.wa_id == "3EB0A")
    PendingFollowUp.create(message=message, announced=True)  # the worker died before the follow-up was marked done

    result = inbound(connection, "oi", "3EB0A")

    assert result["messageId"] == message.id
    assert replies() == ["Recebemos, Ana!", "Olá! Escolha:\n\n1 - Vendas"]
    assert AutomationRun.select().count() == 1


def test_an_action_that_cannot_be_done_stops_the_rule_there_and_the_run_says_why(factories, company, connection,
                                                                                  broker):
    vip, gone = factories.tag(company, name="vip"), factories.tag(company, name="gone")
    rule(company, "ticket_created", [
        {"type": "add_tags", "tagIds": [vip.id]},
        {"type": "add_tags", "tagIds": [gone.id]},
        {"type": "priority", "priority": "high"},
    ])
    gone.delete_instance()

    inbound(connection, "oi", "3EB0A")

    ticket = Ticket.get()
    assert (tags_of(ticket.id), priority_name(ticket.priority)) == ({vip.id}, None)
    run = AutomationRun.get()
    assert (run.status, run.failed_action, run.error) == ("failed", 1, f"the tags [{gone.id}] were deleted")
    assert replies() == ["Olá! Escolha:\n\n1 - Vendas"]  # the greeting still goes


def test_assign_gives_the_new_ticket_to_the_agent_who_is_greeted_without_the_menu(factories, company, connection,
                                                                                   broker):
    agent = factories.user(company, role="agent", name="Bia")
    vip = factories.tag(company, name="vip")
    rule(company, "ticket_created", [{"type": "assign", "userId": agent.id}],
         [{"attribute": "contact_tag", "operator": "in", "values": [vip.id]}])
    contact = factories.contact(company, phone="+5511987654321")
    ContactTag.create(contact=contact, tag=vip)
    connection.greeting_message = "Olá! Já vamos te atender."
    connection.save()

    inbound(connection, "oi", "3EB0A")

    ticket = Ticket.get()
    assert (ticket.status, ticket.user_id) == ("open", agent.id)
    assert TicketEvent.get(TicketEvent.kind == "assigned").data["reason"] == "automation"
    assert Notification.get().data == {"reason": "automation"}
    assert replies() == ["Olá! Já vamos te atender."]  # the connection's greeting: no menu to route it


def test_a_rule_that_closes_the_ticket_leaves_nothing_to_greet(factories, company, connection, broker):
    rule(company, "ticket_created", [{"type": "close", "sendFarewell": False}],
         [{"attribute": "body", "operator": "matches", "values": [r"\bganhe\b.*\bgr[aá]tis\b"]}])

    inbound(connection, "Ganhe um iPhone grátis", "3EB0A")

    assert Ticket.get().status == "closed"
    assert replies() == []


def test_a_pattern_that_would_backtrack_for_ever_gives_up_as_no_match(factories, company, connection, broker):
    rule(company, "message_received", [{"type": "close", "sendFarewell": False}],
         [{"attribute": "body", "operator": "matches", "values": [r"(a|aa)+$"]}])
    started = time.monotonic()

    inbound(connection, "a" * 5000 + "!", "3EB0A")  # `re` would take longer than the universe has left

    assert time.monotonic() - started < 10
    assert Ticket.get().status == "pending"  # no match: the rule did nothing
    inbound(connection, "aaa", "3EB0B")
    assert Ticket.get().status == "closed"  # the same pattern still matches what it should


def test_any_of_the_conditions_may_hold_and_an_audio_gets_its_own_reply(factories, company, connection, broker):
    rule(company, "message_received", [{"type": "send_message", "body": "Não ouvimos áudios: escreva, por favor."}],
         [{"attribute": "message_type", "operator": "in", "values": ["audio"]},
          {"attribute": "body", "operator": "equals", "values": ["audio"]}], match="any")
    inbound(connection, "oi", "3EB0A")
    inbound(connection, "", "3EB0B", type="audio")

    assert replies() == ["Olá! Escolha:\n\n1 - Vendas", "Não ouvimos áudios: escreva, por favor."]


def test_out_of_hours_and_unassigned_conditions_read_the_ticket_as_it_is(factories, company, connection, reception,
                                                                         broker):
    reception.business_hours = ALWAYS_CLOSED
    reception.save()
    rule(company, "message_received", [{"type": "priority", "priority": "low"}],
         [{"attribute": "open_now", "operator": "is", "values": [False]},
          {"attribute": "assigned", "operator": "is", "values": [False]},
          {"attribute": "connection_id", "operator": "in", "values": [connection.id]}])

    inbound(connection, "oi", "3EB0A")

    assert priority_name(Ticket.get().priority) == "low"
    assert AutomationRun.get().status == "done"


def test_inactive_rules_and_other_companies_rules_do_nothing(factories, company, connection, broker):
    other = factories.company()
    rule(company, "ticket_created", [{"type": "priority", "priority": "high"}], active=False)
    rule(other, "ticket_created", [{"type": "priority", "priority": "high"}])

    inbound(connection, "oi", "3EB0A")

    assert (priority_name(Ticket.get().priority), AutomationRun.select().count()) == (None, 0)
    assert Contact.select().count() == 1


def test_a_rule_gives_the_queue_s_new_tickets_an_sla_policy(factories, company, connection, reception, broker):
    gold = SlaPolicy.create(company=company, name="Ouro", first_response_minutes=15)
    rule(company, "ticket_created", [{"type": "apply_sla", "slaPolicyId": gold.id}],
         [{"attribute": "queue_id", "operator": "in", "values": [reception.id]}])

    inbound(connection, "oi", "3EB0A")

    ticket = Ticket.get()
    assert (ticket.sla_policy_id, ticket.first_response_due_at) == (
        gold.id, ticket.created_at + dt.timedelta(minutes=15))


def test_a_missed_first_answer_escalates_the_ticket_once_even_when_the_misses_are_handled_again(
        factories, company, connection, broker):
    supervisors = factories.queue(company, name="Supervisão")
    late = factories.tag(company, name="atrasado")
    gold = SlaPolicy.create(company=company, name="Ouro", first_response_minutes=30, resolution_minutes=120)
    rule(company, "sla_missed", [{"type": "priority", "priority": "urgent"},
                                 {"type": "transfer", "queueId": supervisors.id, "note": "Sem resposta em 30 min"}],
         [{"attribute": "sla_target", "operator": "in", "values": ["first_response"]}], name="escalate")
    rule(company, "sla_missed", [{"type": "add_tags", "tagIds": [late.id]}], name="tag")
    rule(company, "message_received", [{"type": "add_tags", "tagIds": [late.id]}], name="not on a miss")
    opened = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=45)
    ticket = factories.ticket(company, connection=connection, queue=connection.default_queue, created_at=opened)
    factories.message(ticket, created_at=opened)
    ticket.apply_sla(None, gold)
    other_company = factories.company()
    quiet = factories.ticket(other_company, created_at=opened)
    factories.message(quiet, created_at=opened)
    quiet.apply_sla(None, SlaPolicy.create(company=other_company, name="Ouro", first_response_minutes=30))

    first = record_sla_misses.fn()
    SlaMiss.update(rules_pending=True).execute()  # as if the job died before noting the rules ran
    again = record_sla_misses.fn()

    assert (first["first_response"], first["automated"], again["automated"]) == (2, 1, 2)
    escalated = Ticket.get_by_id(ticket.id)
    assert (priority_name(escalated.priority), escalated.queue_id, tags_of(ticket.id)) == (
        "urgent", supervisors.id, {late.id})
    assert [note.body for note in TicketNote.select()] == ["Sem resposta em 30 min"]
    assert sorted((run.rule.name, run.sla_miss.kind) for run in AutomationRun.select()) == [
        ("escalate", "first_response"), ("tag", "first_response")]
    assert not SlaMiss.select().where(SlaMiss.rules_pending == True).exists()  # noqa: E712


def test_a_closed_ticket_of_the_queue_is_sent_its_rule_s_reply_once_however_it_was_closed(
        app, client, factories, company, connection, reception, worker):
    vip = factories.tag(company, name="vip")
    rule(company, "ticket_closed", [{"type": "send_message", "body": "Obrigado, {{firstName}}! Nosso catálogo: ..."},
                                    {"type": "add_tags", "tagIds": [vip.id]}],
         [{"attribute": "queue_id", "operator": "in", "values": [reception.id]}])
    inbound(connection, "oi", "3EB0A")
    ticket = Ticket.get()
    elsewhere = factories.ticket(company, connection=connection, queue=factories.queue(company), status="open",
                                 contact=factories.contact(company, name="Bruno"))
    as_admin = factories.auth_headers(app, factories.user(company, role="admin"))

    for closed in (ticket, elsewhere):
        assert client.post(f"/api/tickets/{closed.id}/close", json={"sendFarewell": False},
                           headers=as_admin).status_code == 200
    assert wait_for(lambda: AutomationRun.select().count() == 1)
    closing = TicketEvent.get(TicketEvent.ticket == ticket.id, TicketEvent.kind == "closed")
    again = run_closing_rules.fn(closing.id)  # the job delivered again

    [run] = AutomationRun.select()
    assert (run.ticket_id, run.closing_id, run.status, again) == (ticket.id, closing.id, "done", {"rules": 1})
    assert replies()[-1] == "Obrigado, Ana! Nosso catálogo: ..." and Ticket.get_by_id(ticket.id).status == "closed"
    assert tags_of(ticket.id) == {vip.id} and tags_of(elsewhere.id) == set()


def test_an_idle_ticket_closed_by_the_sweep_runs_the_closing_rules_and_without_rules_no_job_is_written(
        factories, company, connection, worker):
    quiet_company = factories.company()
    for owner in (company, quiet_company):
        save_company_settings(owner.id, {"auto_close_after_hours": 1})
        factories.ticket(owner, status="open")
    Ticket.update(updated_at=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=3)).execute()
    rule(company, "ticket_closed", [{"type": "priority", "priority": "low"}])

    for owner in (company, quiet_company):
        close_inactive_tickets.fn(owner.id)

    assert wait_for(lambda: AutomationRun.select().count() == 1)
    assert [job.kind for job in Job.select()] == ["run_closing_rules"]
    assert priority_name(Ticket.get(Ticket.company == company).priority) == "low"


def test_a_yes_on_a_proposal_moves_the_ticket_to_won_and_makes_the_contact_a_customer(factories, company, connection,
                                                                                      broker):
    proposal = factories.tag(company, name="Proposal", board_position=1)
    won = factories.tag(company, name="Won", board_position=2)
    customer = factories.tag(company, name="customer")
    rule(company, "message_received",
         [{"type": "remove_tags", "tagIds": [proposal.id]}, {"type": "add_tags", "tagIds": [won.id]},
          {"type": "add_contact_tags", "tagIds": [customer.id]}],
         [{"attribute": "ticket_tag", "operator": "in", "values": [proposal.id]},
          {"attribute": "body", "operator": "contains", "values": ["aceito"]}])
    inbound(connection, "Aceito!", "3EB0A")  # a new ticket: in no lane yet
    ticket = Ticket.get()
    TicketTag.create(ticket=ticket, tag=proposal)

    inbound(connection, "aceito sim", "3EB0B")

    contact = Contact.get()
    assert tags_of(ticket.id) == {won.id}
    assert {link.tag_id for link in ContactTag.select().where(ContactTag.contact == contact.id)} == {customer.id}
    assert AutomationRun.select().count() == 1


def test_a_rule_s_webhook_gets_the_rule_the_message_and_the_ticket_as_the_rule_left_it_signed_and_once(
        factories, company, connection, worker, monkeypatch):
    allow_loopback(monkeypatch)
    with serving() as receiver:
        hook = factories.webhook(company, url=receiver.url, events=["lead:new"], secret="s3cret")
        off = factories.webhook(company, url=receiver.url, events=["*"], enabled=False)
        urgent = rule(company, "message_received", [{"type": "priority", "priority": "urgent"},
                                                   {"type": "webhook", "webhookId": hook.id}],
                      [{"attribute": "body", "operator": "contains", "values": ["cancelar"]}], name="Cancelamentos")
        rule(company, "message_received", [{"type": "webhook", "webhookId": off.id}], name="to a disabled one")

        inbound(connection, "quero cancelar", "3EB0A")
        inbound(connection, "quero cancelar", "3EB0A")  # delivered again by WhatsApp

        assert wait_for(lambda: len(receiver.received) >= 1)
        worker.join()
    [received] = receiver.received
    body = json.loads(received.body)
    assert received.signature_is_valid("s3cret") and body["event"] == "automation:rule"
    assert body["data"]["rule"] == {"id": urgent.id, "name": "Cancelamentos", "event": "message_received"}
    assert (body["data"]["message"]["body"], body["data"]["ticket"]["priority"]) == ("quero cancelar", "urgent")
    refused = AutomationRun.get(AutomationRun.rule != urgent.id)
    assert (refused.status, refused.error) == ("failed", f"the webhook {off.id} is disabled")


def test_a_gold_plan_contact_s_new_ticket_goes_to_the_vip_queue(factories, company, connection, broker):
    vip = factories.queue(company, name="VIP")
    factories.contact_field(company, "plan")
    rule(company, "ticket_created", [{"type": "transfer", "queueId": vip.id}],
         [{"attribute": "contact_field", "key": "plan", "operator": "equals", "values": ["ouro"]}])
    factories.contact(company, phone="+5511987654321", custom_fields={"plan": "Ouro"})
    factories.contact(company, phone="+5511912345678", custom_fields={"plan": "Prata"})

    inbound(connection, "oi", "3EB0A", phone="5511987654321")
    inbound(connection, "oi", "3EB0B", phone="5511912345678")
    inbound(connection, "oi", "3EB0C", phone="5511955550000")  # a new contact: no plan

    assert [ticket.queue_id for ticket in Ticket.select().order_by(Ticket.id)] == [
        vip.id, connection.default_queue_id, connection.default_queue_id]


def test_a_contact_field_is_compared_as_a_number_or_a_date(factories, company, connection, broker):
    vip, renewals = factories.queue(company, name="VIP"), factories.queue(company, name="Renewals")
    factories.contact_field(company, "score", "number")
    factories.contact_field(company, "renewal", "date")
    rule(company, "ticket_created", [{"type": "transfer", "queueId": vip.id}],
         [{"attribute": "contact_field", "key": "score", "operator": "greater_than", "values": ["8,5"]}])
    rule(company, "ticket_created", [{"type": "transfer", "queueId": renewals.id}],
         [{"attribute": "contact_field", "key": "renewal", "operator": "less_than", "values": ["2027-01-01"]}])
    for phone, fields in (("5511900000001", {"score": 9}), ("5511900000002", {"score": 8.5}),
                          ("5511900000003", {"renewal": "2026-12-31"}), ("5511900000004", {"renewal": "2027-03-01"})):
        factories.contact(company, phone=f"+{phone}", custom_fields=fields)
        inbound(connection, "oi", f"3EB0{phone[-1]}", phone=phone)

    assert [ticket.queue_id for ticket in Ticket.select().order_by(Ticket.id)] == [
        vip.id, connection.default_queue_id, renewals.id, connection.default_queue_id]


def test_a_ticket_field_is_read_as_the_ticket_has_it(factories, company, connection, broker):
    refunds = factories.queue(company, name="Refunds")
    TicketField.create(company=company, key="reason", label="Reason")
    rule(company, "message_received", [{"type": "transfer", "queueId": refunds.id}],
         [{"attribute": "ticket_field", "key": "reason", "operator": "equals", "values": ["reembolso"]}])
    inbound(connection, "oi", "3EB0A")
    ticket = Ticket.get()
    assert ticket.queue_id != refunds.id
    Ticket.update(custom_fields={"reason": "Reembolso"}).where(Ticket.id == ticket.id).execute()

    inbound(connection, "e aí?", "3EB0B")

    assert Ticket.get_by_id(ticket.id).queue_id == refunds.id


def test_a_rule_sets_the_ticket_s_own_fields_and_one_deleted_since_fails_its_run(factories, company, connection,
                                                                                  broker):
    reason = TicketField.create(company=company, key="reason", label="Reason")
    TicketField.create(company=company, key="refund", label="Refund", type="boolean")
    refund = rule(company, "message_received", [{"type": "custom_fields",
                                                 "customFields": {"reason": "Reembolso", "refund": True}}],
                  [{"attribute": "body", "operator": "contains", "values": ["reembolso"]}])

    inbound(connection, "quero reembolso", "3EB0A")
    reason.delete_instance()
    inbound(connection, "reembolso já!", "3EB0B")

    assert Ticket.get().custom_fields == {"reason": "Reembolso", "refund": True}
    runs = AutomationRun.select().where(AutomationRun.rule == refund.id).order_by(AutomationRun.id)
    assert [(run.status, run.error) for run in runs] == [("done", None), ("failed", "reason: no such custom field")]


def test_a_message_on_an_urgent_ticket_still_waiting_is_tagged(factories, company, connection, broker):
    waiting = factories.tag(company, name="urgent-waiting")
    rule(company, "message_received", [{"type": "add_tags", "tagIds": [waiting.id]}],
         [{"attribute": "priority", "operator": "in", "values": ["urgent"]},
          {"attribute": "status", "operator": "in", "values": ["pending"]}])
    inbound(connection, "oi", "3EB0A", phone="5511987654321")
    inbound(connection, "oi", "3EB0B", phone="5511912345678")
    urgent, calm = Ticket.select().order_by(Ticket.id)
    Ticket.update(priority=4).execute()  # both urgent now
    Ticket.update(status="open").where(Ticket.id == calm.id).execute()

    inbound(connection, "e aí?", "3EB0C", phone="5511987654321")
    inbound(connection, "e aí?", "3EB0D", phone="5511912345678")

    assert (tags_of(urgent.id), tags_of(calm.id)) == ({waiting.id}, set())
