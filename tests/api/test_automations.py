"""Automation rules over HTTP: saved by admins, supervisors and programs with `tickets:write`; what a rule names
checked when it is saved (a 400 naming the condition or action, nothing saved); every change audited; its runs
listed."""

from __future__ import annotations

import pytest

from db.audit import AuditLog
from db.automations import AutomationRule, AutomationRun
from db.tickets import SlaMiss


@pytest.fixture
def as_supervisor(app, factories, company):
    return factories.auth_headers(app, factories.user(company, role="supervisor"))


CANCEL = {"name": "Cancelamentos", "event": "message_received",
          "conditions": [{"attribute": "body", "operator": "contains", "values": ["cancelar"]},
                         {"attribute": "phone", "operator": "starts_with", "values": ["55"]}],
          "actions": [{"type": "priority", "priority": "urgent"}]}


def test_a_saved_rule_reads_back_as_kept_and_is_listed_by_event(client, as_supervisor):
    answer = client.post("/api/automations", json=CANCEL, headers=as_supervisor)

    assert answer.status_code == 201, answer.get_json()
    saved = answer.get_json()
    assert {key: saved[key] for key in ("name", "description", "event", "match", "active", "actions")} == {
        "name": "Cancelamentos", "description": "", "event": "message_received", "match": "all", "active": True,
        "actions": [{"type": "priority", "priority": "urgent"}]}
    assert saved["conditions"][1] == {"attribute": "phone", "operator": "starts_with", "values": ["+55"]}
    assert client.get(f"/api/automations/{saved['id']}", headers=as_supervisor).get_json() == saved
    listed = client.get("/api/automations?event=message_received", headers=as_supervisor).get_json()
    assert [rule["id"] for rule in listed["items"]] == [saved["id"]]
    assert client.get("/api/automations?event=ticket_created", headers=as_supervisor).get_json()["total"] == 0


def test_a_rule_is_paused_changed_and_deleted_with_its_runs_each_change_audited(client, factories, company,
                                                                                as_supervisor):
    rule = client.post("/api/automations", json=CANCEL, headers=as_supervisor).get_json()
    ticket = factories.ticket(company)
    AutomationRun.create(rule=rule["id"], ticket=ticket, message=factories.message(ticket), status="done")

    paused = client.patch(f"/api/automations/{rule['id']}", headers=as_supervisor,
                          json={"active": False, "conditions": [], "match": "any"}).get_json()
    assert (paused["active"], paused["conditions"], paused["match"], paused["actions"]) == (
        False, [], "any", rule["actions"])
    assert client.get("/api/automations?active=true", headers=as_supervisor).get_json()["total"] == 0
    assert client.patch(f"/api/automations/{rule['id']}", json={"actions": None},
                        headers=as_supervisor).status_code == 400

    assert client.delete(f"/api/automations/{rule['id']}", headers=as_supervisor).status_code == 204
    assert (AutomationRule.select().count(), AutomationRun.select().count()) == (0, 0)
    assert [log.action for log in AuditLog.select().where(AuditLog.entity == "automation_rule")
            .order_by(AuditLog.id)] == ["created", "updated", "deleted"]


@pytest.mark.parametrize(("change", "field"), [
    ({"conditions": [{"attribute": "body", "operator": "in", "values": ["x"]}]}, "conditions.0"),
    ({"conditions": [{"attribute": "queue_id", "operator": "in", "values": ["5"]}]}, "conditions.0"),
    ({"conditions": [{"attribute": "body", "operator": "matches", "values": ["(unclosed"]}]}, "conditions.0"),
    ({"conditions": [{"attribute": "assigned", "operator": "is", "values": [True, False]}]}, "conditions.0"),
    ({"conditions": [{"attribute": "phone", "operator": "equals", "values": ["ana"]}]}, "conditions.0"),
    ({"conditions": [{"attribute": "message_type", "operator": "in", "values": ["fax"]}]}, "conditions.0"),
    ({"conditions": [{"attribute": "body", "operator": "contains", "values": ["x" * 201]}]}, "conditions.0"),
    ({"conditions": [{"attribute": "queue_id", "operator": "in", "values": [999]}]}, "conditions[0].values"),
    ({"actions": [{"type": "add_tags", "tagIds": [999]}]}, "actions[0].tagIds"),
    ({"actions": [{"type": "priority", "priority": "low"}, {"type": "assign", "userId": 999}]}, "actions[1].userId"),
    ({"actions": [{"type": "read"}]}, "actions.0"),
    ({"actions": []}, "actions"),
    ({"event": "ticket_reopened"}, "event"),
    ({"event": "sla_missed"}, "conditions[0].attribute"),
    ({"conditions": [{"attribute": "sla_target", "operator": "in", "values": ["resolution"]}]},
     "conditions[0].attribute"),
    ({"event": "sla_missed", "conditions": [{"attribute": "sla_target", "operator": "in", "values": ["reply"]}]},
     "conditions.0"),
    ({"conditions": [{"attribute": "contact_field", "operator": "equals", "values": ["ouro"]}]}, "conditions.0"),
    ({"conditions": [{"attribute": "contact_field", "key": "plano", "operator": "equals", "values": ["ouro"]}]},
     "conditions[0].key"),
    ({"conditions": [{"attribute": "body", "key": "plan", "operator": "equals", "values": ["ouro"]}]}, "conditions.0"),
    ({"conditions": [{"attribute": "priority", "operator": "in", "values": ["critical"]}]}, "conditions.0"),
    ({"conditions": [{"attribute": "status", "operator": "is", "values": ["open"]}]}, "conditions.0"),
    ({"conditions": [{"attribute": "contact_field", "key": "plan", "operator": "greater_than", "values": ["ouro"]}]},
     "conditions.0"),
    ({"conditions": [{"attribute": "body", "operator": "less_than", "values": ["5"]}]}, "conditions.0"),
    ({"actions": [{"type": "custom_fields", "customFields": {"shoe": 42}}]}, "actions[0].customFields.shoe"),
], ids=["operator", "id as text", "regex", "two booleans", "phone", "type", "long text", "unknown queue", "unknown tag",
        "unknown agent", "read", "no actions", "event", "body on a miss", "target on a message", "unknown target",
        "field without key", "unknown field", "key elsewhere", "unknown priority", "status operator",
        "greater than a word", "a body less than", "unknown ticket field"])
def test_a_rule_that_could_not_work_is_a_400_naming_the_part_and_nothing_is_saved(client, factories, company,
                                                                                  as_supervisor, change, field):
    factories.contact_field(company, "plan")
    answer = client.post("/api/automations", json={**CANCEL, **change}, headers=as_supervisor)

    assert answer.status_code == 400, answer.get_json()
    assert any(key.startswith(field) for key in answer.get_json()["details"]), answer.get_json()["details"]
    assert AutomationRule.select().count() == 0


def test_a_rule_changed_to_another_event_keeps_only_conditions_that_event_has(client, as_supervisor):
    rule = client.post("/api/automations", json=CANCEL, headers=as_supervisor).get_json()

    refused = client.patch(f"/api/automations/{rule['id']}", json={"event": "sla_missed"}, headers=as_supervisor)
    moved = client.patch(f"/api/automations/{rule['id']}", headers=as_supervisor, json={
        "event": "sla_missed", "conditions": [{"attribute": "sla_target", "operator": "in", "values": ["resolution"]}]})

    assert (refused.status_code, refused.get_json()["details"]) == (
        400, {"conditions[0].attribute": "not on sla_missed"})
    assert AutomationRule.get_by_id(rule["id"]).event == "sla_missed" and moved.status_code == 200


def test_a_condition_s_400_says_what_is_wrong_in_our_words(client, as_supervisor):
    answer = client.post("/api/automations", headers=as_supervisor, json={
        **CANCEL, "conditions": [{"attribute": "assigned", "operator": "contains", "values": [True]}]})

    assert answer.get_json()["details"] == {"conditions.0": "assigned takes the operators is"}


def test_another_company_s_records_are_unknown_to_a_rule(client, factories, as_supervisor):
    foreign_tag = factories.tag(factories.company(), name="vip")

    answer = client.post("/api/automations", headers=as_supervisor, json={
        **CANCEL, "conditions": [{"attribute": "contact_tag", "operator": "in", "values": [foreign_tag.id]}]})

    assert answer.status_code == 400
    assert answer.get_json()["details"] == {"conditions[0].values": f"unknown ids: [{foreign_tag.id}]"}


def test_agents_cannot_see_rules_and_programs_need_tickets_write(client, app, factories, company):
    as_agent = factories.auth_headers(app, factories.user(company, role="agent"))
    writer = {"X-API-Key": factories.api_key(company, ["tickets:write"])}
    reader = {"X-API-Key": factories.api_key(company, ["tickets:read"])}

    assert client.get("/api/automations", headers=as_agent).status_code == 403
    assert client.post("/api/automations", json=CANCEL, headers=reader).status_code == 403
    assert client.post("/api/automations", json=CANCEL, headers=writer).status_code == 201


def test_the_runs_list_what_the_rule_did_newest_first(client, factories, company, as_supervisor):
    rule = client.post("/api/automations", json=CANCEL, headers=as_supervisor).get_json()
    first, second = factories.ticket(company), factories.ticket(company)
    AutomationRun.create(rule=rule["id"], ticket=first, message=factories.message(first), status="done")
    AutomationRun.create(rule=rule["id"], ticket=second, message=factories.message(second), status="failed",
                         failed_action=0, error="the ticket is closed")

    runs = client.get(f"/api/automations/{rule['id']}/runs", headers=as_supervisor).get_json()["items"]
    failed = client.get(f"/api/automations/{rule['id']}/runs?status=failed", headers=as_supervisor).get_json()

    assert [(run["ticketId"], run["status"]) for run in runs] == [(second.id, "failed"), (first.id, "done")]
    assert [(run["failedAction"], run["error"]) for run in failed["items"]] == [(0, "the ticket is closed")]
    assert client.get("/api/automations/999/runs", headers=as_supervisor).status_code == 404
    assert [(run["messageId"] is not None, run["slaTarget"], run["closingId"]) for run in runs] == [
        (True, None, None), (True, None, None)]
    [listed] = client.get("/api/automations", headers=as_supervisor).get_json()["items"]
    assert {**listed["runs"], "lastRunAt": None} == {"done": 1, "failed": 1, "lastRunAt": None}
    assert listed["runs"]["lastRunAt"] == runs[0]["createdAt"]
    fresh = client.post("/api/automations", json={**CANCEL, "name": "new"}, headers=as_supervisor).get_json()
    assert fresh["runs"] == {"done": 0, "failed": 0, "lastRunAt": None}


def test_a_run_on_an_sla_miss_names_the_target_missed(client, factories, company, as_supervisor):
    rule = client.post("/api/automations", headers=as_supervisor, json={
        **CANCEL, "event": "sla_missed", "conditions": []}).get_json()
    ticket = factories.ticket(company)
    miss = SlaMiss.create(ticket=ticket, kind="resolution", due_at=ticket.created_at)
    AutomationRun.create(rule=rule["id"], ticket=ticket, sla_miss=miss, status="done")

    [run] = client.get(f"/api/automations/{rule['id']}/runs", headers=as_supervisor).get_json()["items"]

    assert (run["ticketId"], run["messageId"], run["slaTarget"]) == (ticket.id, None, "resolution")


def test_a_rule_s_run_counts_read_alike_on_both_databases(database_kind, app, client, factories):
    company = factories.company()
    headers = factories.auth_headers(app, factories.user(company, role="supervisor"))
    rule = client.post("/api/automations", json=CANCEL, headers=headers).get_json()
    ticket = factories.ticket(company)
    run = AutomationRun.create(rule=rule["id"], ticket=ticket, message=factories.message(ticket), status="done")

    shown = client.get(f"/api/automations/{rule['id']}", headers=headers).get_json()

    assert shown["runs"] == {"done": 1, "failed": 0,
                             "lastRunAt": run.created_at.isoformat(timespec="milliseconds") + "Z"}
