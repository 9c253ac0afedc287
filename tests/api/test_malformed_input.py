"""Malformed input gets a 4xx in the error format, never a 500: every documented route, each field of its
body (and of a valid body) given values of the wrong type, shape or size, each query parameter odd strings."""

from __future__ import annotations

import json
import re

import pytest

ODD_VALUES = [None, "x", "", 0, -1, 10**12, 1.5, True, [], {}, ["x"], {"a": 1}, "1", "a" * 5000, "2026-13-45",
              "+5511987654321"]
ODD_QUERY_VALUES = ["x", "", "-1", "0", "99999999999999999999", "1.5", "2026-13-45", "%", "[]", "true"]
NOT_FUZZED = ("auth", "password", "revoke")  # they end the caller's session

FLOW = {
    "name": "Menu", "trigger": {"type": "keyword", "value": "menu"},
    "nodes": [{"id": "start", "type": "message", "text": "Hi {{firstName}}! 1 - Sales, 2 - Support"},
              {"id": "ask", "type": "menu", "options": {"1": "sales", "2": "support"}},
              {"id": "sales", "type": "transfer", "queueId": 1},
              {"id": "support", "type": "message", "text": "Support will call you."}],
    "edges": [{"from": "start", "to": "ask"}, {"from": "ask", "to": "sales", "when": "1"},
              {"from": "ask", "to": "support", "when": "2"}],
}
# Valid bodies, so that an odd value meets the checks past "this field is required"
VALID_BODIES = {
    ("post", "/api/flows"): FLOW,
    ("post", "/api/campaigns"): {"name": "c", "connectionId": 1, "contactIds": [1], "messages": ["Hi {{firstName}}"],
                                 "throttle": {"perMinute": 20, "jitterSeconds": 1, "pauseEvery": 5, "pauseSeconds": 3}},
    ("post", "/api/schedules"): {"connectionId": 1, "contactId": 1, "body": "hi", "sendAt": "2030-01-01T00:00:00Z"},
    ("post", "/api/messages"): {"to": "+5511987654321", "body": "hi"},
    ("post", "/api/simulator/{connection_id}/vote"): {"from": "+5511987654321", "waId": "3EB0P", "options": ["a"]},
    ("post", "/api/webhooks"): {"url": "https://93.184.215.14/h", "events": ["*"]},
    ("post", "/api/queues"): {"name": "q", "businessHours": {"mon": [["08:00", "18:00"]]}},
    ("post", "/api/users"): {"name": "u", "email": "u@example.com", "password": "password123", "role": "agent"},
    ("post", "/api/contacts"): {"name": "c", "phone": "+5511911112222", "customFields": {}},
    ("post", "/api/leads"): {"name": "l", "phone": "+5511911113333"},
    ("post", "/api/quick-messages"): {"shortcut": "oi", "body": "Olá {{firstName}}"},
    ("post", "/api/tickets/{ticket_id}/transfer"): {"queueId": 1, "note": "n"},
    ("post", "/api/tickets/bulk"): {"ticketIds": [1], "action": "transfer", "queueId": 1, "note": "n"},
    ("post", "/api/macros"): {"name": "m", "actions": [{"type": "send_message", "body": "Oi {{firstName}}"},
                                                      {"type": "transfer", "queueId": 1}, {"type": "close"}]},
    ("post", "/api/macros/{macro_id}/run"): {"ticketIds": [1]},
    ("post", "/api/flows/{flow_id}/dry-run"): {"answers": ["1"], "variables": {}},
}


def with_one_odd_value(body: dict) -> list[dict]:
    """`body` with each of its fields, and each field of its objects and lists of objects, set to each odd value."""
    variants = []
    for name, value in body.items():
        variants += [{**body, name: odd} for odd in ODD_VALUES]
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            for key in item:
                for odd in ODD_VALUES:
                    changed = {**item, key: odd}
                    variants.append({**body, name: items[:i] + [changed] + items[i + 1:] if isinstance(value, list)
                                     else changed})
    return variants


def request_bodies(spec: dict, method: str, path: str, operation: dict) -> list:
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    fields = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]].get("properties", {}) if "$ref" in schema else {}
    valid = VALID_BODIES.get((method, path), {})
    return [None, {}, [], "text"] + with_one_odd_value(dict.fromkeys(fields)) + with_one_odd_value(valid)


@pytest.fixture
def super_admin(factories):
    """A super admin of a company with a connection, a contact, a ticket with a message and a queue: id 1 of each."""
    company = factories.company(default_country="BR")
    connection = factories.connection(company, enabled=True, is_default=True)
    ticket = factories.ticket(company, connection=connection, contact=factories.contact(company, phone="+5511987654321"))
    factories.message(ticket, status="delivered")
    factories.queue(company)
    return factories.user(company, role="super")


def test_no_route_answers_malformed_input_with_a_500(app, client, factories, super_admin):
    spec = client.get("/api/openapi.json").get_json()
    failures = []
    for path, operations in spec["paths"].items():
        if any(word in path for word in NOT_FUZZED):
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method, operation in operations.items():
            if method == "get":
                names = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
                calls = [dict(query_string={name: odd}) for name in names for odd in ODD_QUERY_VALUES]
            elif method in ("post", "put", "patch"):
                calls = [dict(data=json.dumps(body), content_type="application/json") if body is not None else {}
                         for body in request_bodies(spec, method, path, operation)]
            else:
                continue  # a DELETE takes no input but its id
            for call in calls:
                # A fresh token each time: a call may have changed the caller (its sessions, its role)
                answer = client.open(url, method=method.upper(), headers=factories.auth_headers(app, super_admin), **call)
                text = answer.get_data(as_text=True)
                if answer.status_code >= 500 or (answer.status_code >= 400 and not answer.is_json):
                    failures.append(f"{method.upper()} {url} {call} → {answer.status_code} {text[:200]}")

    assert failures == []


@pytest.mark.parametrize(("method", "path", "body", "status", "field"), [
    ("patch", "/api/settings", {"timezone": "a" * 5000}, 400, "timezone"),
    ("post", "/api/companies", {"name": "c", "timezone": "+5511987654321"}, 400, "timezone"),
    ("patch", "/api/simulator/1", {"readAfterMs": None}, 400, "readAfterMs"),
    ("post", "/api/messages", {"to": "+5511987654321", "body": "hi", "connectionId": 10**12}, 404, None),
    ("post", "/api/flows", {**FLOW, "nodes": [{**FLOW["nodes"][0], "type": ["message"]}, *FLOW["nodes"][1:]]},
     400, "nodes.start.type"),
    ("post", "/api/flows", {**FLOW, "edges": [{"from": ["start"], "to": "ask"}, *FLOW["edges"][1:]]},
     400, "edges.0.from"),
])
def test_what_gave_a_500_is_a_clear_answer(app, client, factories, super_admin, method, path, body, status, field):
    answer = client.open(path, method=method.upper(), json=body, headers=factories.auth_headers(app, super_admin))

    assert answer.status_code == status, answer.get_json()
    if field:
        assert field in answer.get_json()["details"], answer.get_json()
