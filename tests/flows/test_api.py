"""The flows API: validation naming the node, drafts and versions, starting with an API key, sessions, dry runs."""

from __future__ import annotations

import pytest

from db.flows import FlowSession
from db.messages import Message
from tests.flows.test_nodes import chain

MENU = {
    "name": "Menu",
    "trigger": {"type": "keyword", "value": "menu"},
    "nodes": [
        {"id": "start", "type": "message", "text": "Hi {{firstName}}! 1 - Sales, 2 - Support"},
        {"id": "ask", "type": "menu", "options": {"1": "sales", "2": "support"}},
        {
            "id": "sales",
            "type": "question",
            "text": "Your e-mail?",
            "variable": "email2",
            "validation": "email",
        },
        {"id": "support", "type": "message", "text": "Support will call you."},
        {"id": "thanks", "type": "end", "text": "Thanks, we'll write to {{email2}}."},
    ],
    "edges": [
        {"from": "start", "to": "ask"},
        {"from": "ask", "to": "sales", "when": "1"},
        {"from": "ask", "to": "support", "when": "2"},
        {"from": "sales", "to": "thanks"},
    ],
}


def with_changes(nodes=None, edges=None, trigger=None) -> dict:
    return {
        **MENU,
        **({"nodes": nodes} if nodes is not None else {}),
        **({"edges": edges} if edges is not None else {}),
        **({"trigger": trigger} if trigger else {}),
    }


@pytest.mark.parametrize(
    ("definition", "where", "says"),
    [
        (
            with_changes(nodes=MENU["nodes"] + [{"id": "x", "type": "teleport"}]),
            "nodes.x.type",
            "unknown node type",
        ),
        (
            with_changes(edges=MENU["edges"] + [{"from": "ask", "to": "nowhere", "when": "2"}]),
            "edges.4.to",
            "no node has the id",
        ),
        (
            with_changes(nodes=MENU["nodes"] + [{"id": "lost", "type": "message", "text": "?"}]),
            "nodes.lost",
            "unreachable",
        ),
        (
            with_changes(
                nodes=[
                    {**MENU["nodes"][0]},
                    {"id": "ask", "type": "menu", "options": {"1": "a", "2": "b"}},
                    {"id": "sales", "type": "question", "text": "?"},
                    *MENU["nodes"][3:],
                ]
            ),
            "nodes.sales.variable",
            "required for a question node",
        ),
        (
            with_changes(edges=MENU["edges"][:2] + MENU["edges"][3:]),
            "nodes.ask.options",
            "option '2' leads nowhere",
        ),
        (
            with_changes(edges=MENU["edges"] + [{"from": "start", "to": "support", "when": "7"}]),
            "edges.4.when",
            "has no branch",
        ),
        (
            with_changes(trigger={"type": "regex", "value": "("}),
            "trigger.value",
            "not a valid regular expression",
        ),
        (
            with_changes(nodes=MENU["nodes"][:4] + [{"id": "thanks", "type": "transfer"}]),
            "nodes.thanks.queueId",
            "needs a queueId or a userId",
        ),
        (
            with_changes(nodes=[{**MENU["nodes"][0], "voiceNote": True}, *MENU["nodes"][1:]]),
            "nodes.start.mediaUrl",
            "needs its audio's URL",
        ),
        (
            with_changes(nodes=[{**MENU["nodes"][0], "voiceNote": True, "mediaUrl": "https://example.com/hi.mp3"},
                                *MENU["nodes"][1:]]),
            "nodes.start.text",
            "without text",
        ),
        (
            with_changes(nodes=[*MENU["nodes"][:2], {**MENU["nodes"][2], "voiceNote": "yes"}, *MENU["nodes"][3:]]),
            "nodes.sales.voiceNote",
            "on a message node",
        ),
        (
            with_changes(nodes=[*MENU["nodes"][:3], {"id": "support", "type": "priority", "priority": "asap"},
                                MENU["nodes"][4]]),
            "nodes.support.priority",
            "one of low, medium, high, urgent",
        ),
        (
            with_changes(nodes=[*MENU["nodes"][:3], {"id": "support", "type": "priority"}, MENU["nodes"][4]]),
            "nodes.support.priority",
            "or null for none",
        ),
        (
            with_changes(nodes=[*MENU["nodes"][:3], {"id": "support", "type": "save_contact", "field": "E-mail",
                                                     "value": "{{email2}}"}, MENU["nodes"][4]]),
            "nodes.support.field",
            "name, email or a contact field's key",
        ),
        (
            with_changes(nodes=[*MENU["nodes"][:3], {"id": "support", "type": "note"}, MENU["nodes"][4]]),
            "nodes.support.text",
            "required for a note node",
        ),
        (
            with_changes(nodes=[{**MENU["nodes"][0], "typingMs": 25_000}, *MENU["nodes"][1:]]),
            "nodes.start.typingMs",
            "a number from 0 to 20000",
        ),
    ],
)
def test_an_invalid_flow_is_a_400_naming_the_node(client, headers, definition, where, says):
    answer = client.post("/api/flows", json=definition, headers=headers)

    body = answer.get_json()
    assert answer.status_code == 400
    assert body["error"] == "validation_error" and body["statusCode"] == 400
    assert says in body["details"][where]


def test_another_companys_queue_is_refused_by_name(client, headers, factories):
    foreign = factories.queue(factories.company())
    nodes = MENU["nodes"][:4] + [{"id": "thanks", "type": "transfer", "queueId": foreign.id}]

    answer = client.post("/api/flows", json=with_changes(nodes=nodes), headers=headers)

    assert answer.status_code == 400
    assert answer.get_json()["details"] == {"nodes.thanks.queueId": "not found"}


def test_crud_publish_and_versions(client, headers, factories):
    created = client.post("/api/flows", json=MENU, headers=headers).get_json()
    flow_id = created["id"]
    assert created["publishedVersion"] is None and created["nodes"][0]["id"] == "start"

    assert client.post(f"/api/flows/{flow_id}/publish", headers=headers).get_json()["version"] == 1
    renamed = client.patch(f"/api/flows/{flow_id}", json={"name": "Menu 2"}, headers=headers).get_json()
    assert client.post(f"/api/flows/{flow_id}/publish", headers=headers).get_json()["version"] == 2

    versions = client.get(f"/api/flows/{flow_id}/versions", headers=headers).get_json()
    assert [v["version"] for v in versions["items"]] == [2, 1] and versions["total"] == 2
    assert (
        client.get(f"/api/flows/{flow_id}/versions/1", headers=headers).get_json()["trigger"]
        == MENU["trigger"]
    )
    assert renamed["name"] == "Menu 2"
    assert client.get("/api/flows", headers=headers).get_json()["total"] == 1
    other = factories.auth_headers(client.application, factories.user(factories.company()))
    assert client.get(f"/api/flows/{flow_id}", headers=other).status_code == 404
    assert client.delete(f"/api/flows/{flow_id}", headers=headers).status_code == 204
    assert client.get(f"/api/flows/{flow_id}", headers=headers).status_code == 404


def test_a_keyword_another_published_flow_starts_on_is_refused_where_their_connections_meet(
        client, headers, connection, factories):
    first = client.post("/api/flows", json=MENU, headers=headers).get_json()["id"]
    assert client.post(f"/api/flows/{first}/publish", headers=headers).status_code == 201
    clash = {**MENU, "name": "Other", "trigger": {"type": "keyword", "value": "hello, MENU"}}
    second = client.post("/api/flows", json=clash, headers=headers).get_json()["id"]

    refused = client.post(f"/api/flows/{second}/publish", headers=headers)
    elsewhere = {"type": "keyword", "value": "menu", "connectionId": factories.connection(connection.company).id}
    client.patch(f"/api/flows/{second}", json={"trigger": elsewhere}, headers=headers)
    client.patch(f"/api/flows/{first}", json={"trigger": {**MENU["trigger"], "connectionId": connection.id}},
                 headers=headers)
    assert client.post(f"/api/flows/{first}/publish", headers=headers).status_code == 201
    on_another_number = client.post(f"/api/flows/{second}/publish", headers=headers)

    assert refused.status_code == 409
    assert refused.get_json()["details"] == {"trigger.value": f"taken by flow {first}"}
    assert "menu" in refused.get_json()["message"]
    assert on_another_number.status_code == 201


def test_an_inactive_flow_is_not_reactivated_over_another_s_keyword(client, headers):
    first = client.post("/api/flows", json=MENU, headers=headers).get_json()["id"]
    client.post(f"/api/flows/{first}/publish", headers=headers)
    client.patch(f"/api/flows/{first}", json={"active": False}, headers=headers)
    second = client.post("/api/flows", json={**MENU, "name": "New menu"}, headers=headers).get_json()["id"]
    assert client.post(f"/api/flows/{second}/publish", headers=headers).status_code == 201

    answer = client.patch(f"/api/flows/{first}", json={"active": True}, headers=headers)

    assert answer.status_code == 409
    assert client.get(f"/api/flows/{first}", headers=headers).get_json()["active"] is False


def test_an_agent_reads_flows_but_cannot_change_them(client, headers, company, factories):
    agent = factories.auth_headers(client.application, factories.user(company, role="agent"))
    flow_id = client.post("/api/flows", json=MENU, headers=headers).get_json()["id"]

    assert client.get(f"/api/flows/{flow_id}", headers=agent).status_code == 200
    assert client.patch(f"/api/flows/{flow_id}", json={"name": "x"}, headers=agent).status_code == 403


def test_a_program_starts_a_flow_with_a_flows_run_key_and_lists_and_stops_sessions(
    client, headers, company, factories, connection, worker, bot
):
    flow_id = bot.deploy({**MENU, "trigger": {"type": "api"}})
    key = {"X-API-Key": factories.api_key(company, ["flows:run"])}
    no_scope = {"X-API-Key": factories.api_key(company, ["messages:send"])}

    refused = client.post(f"/api/flows/{flow_id}/start", json={"to": "+5511987654321"}, headers=no_scope)
    started = client.post(
        f"/api/flows/{flow_id}/start", json={"to": "+5511987654321", "variables": {"order": 7}}, headers=key
    )

    assert refused.status_code == 403
    assert started.status_code == 202, started.get_json()
    session = started.get_json()
    assert session["jobId"] and session["trigger"] == "api" and session["variables"]["order"] == "7"
    bot.settle()
    assert [m.body for m in Message.select()] == ["Hi! 1 - Sales, 2 - Support"]
    again = client.post(f"/api/flows/{flow_id}/start", json={"to": "+5511987654321"}, headers=key)
    assert again.status_code == 409

    listed = client.get("/api/flows/sessions?status=live", headers=key).get_json()
    assert [s["id"] for s in listed["items"]] == [session["id"]] and listed["items"][0]["waiting"] == "input"
    shown = client.get(f"/api/flows/sessions/{session['id']}", headers=key).get_json()
    assert [s["node"] for s in shown["stepsLog"]] == ["start", "ask"]
    stopped = client.post(f"/api/flows/sessions/{session['id']}/stop", headers=key)
    assert stopped.status_code == 200 and stopped.get_json()["endReason"] == "stopped"
    assert client.post(f"/api/flows/sessions/{session['id']}/stop", headers=key).status_code == 409
    assert FlowSession.get().status == "ended"


def test_a_program_builds_and_publishes_a_flow_with_a_flows_write_key(client, company, factories):
    builder = {"X-API-Key": factories.api_key(company, ["flows:write"])}
    runner = {"X-API-Key": factories.api_key(company, ["flows:run"])}

    created = client.post("/api/flows", json=MENU, headers=builder)
    flow_id = created.get_json()["id"]
    dry_run = client.post(f"/api/flows/{flow_id}/dry-run", json={"answers": ["2"]}, headers=builder)
    published = client.post(f"/api/flows/{flow_id}/publish", headers=builder)
    runner_edit = client.patch(f"/api/flows/{flow_id}", json={"name": "x"}, headers=runner)

    assert created.status_code == 201 and dry_run.status_code == 200 and published.status_code == 201
    assert client.get(f"/api/flows/{flow_id}/versions", headers=runner).get_json()["items"][0]["version"] == 1
    assert runner_edit.status_code == 403 and runner_edit.get_json()["details"] == {"required": ["flows:write"]}


def test_an_unpublished_flow_cannot_start(client, headers, connection):
    flow_id = client.post("/api/flows", json=MENU, headers=headers).get_json()["id"]

    answer = client.post(f"/api/flows/{flow_id}/start", json={"to": "+5511987654321"}, headers=headers)

    assert answer.status_code == 409


def test_a_dry_run_walks_the_draft_with_scripted_answers_and_sends_nothing(
    client, headers, company, factories
):
    contact = factories.contact(company, name="Ana Lima")
    flow_id = client.post("/api/flows", json=MENU, headers=headers).get_json()["id"]

    answer = client.post(
        f"/api/flows/{flow_id}/dry-run",
        json={"answers": ["9", "1", "ana@example.com"], "contactId": contact.id},
        headers=headers,
    )

    result = answer.get_json()
    assert answer.status_code == 200, result
    assert [(line["from"], line.get("text")) for line in result["transcript"]] == [
        ("bot", "Hi Ana! 1 - Sales, 2 - Support"),
        ("contact", "9"),
        ("bot", "Please answer with one of the options:\n\n1 - sales\n2 - support"),
        ("contact", "1"),
        ("bot", "Your e-mail?"),
        ("contact", "ana@example.com"),
        ("bot", "Thanks, we'll write to ana@example.com."),
    ]
    assert (result["status"], result["endReason"]) == ("ended", "completed")
    assert Message.select().count() == 0 and FlowSession.select().count() == 0


def test_a_dry_run_takes_scripted_outcomes_for_http_nodes_and_stops_waiting(client, headers):
    flow_id = client.post(
        "/api/flows",
        json={
            "name": "Order",
            "trigger": {"type": "api"},
            "nodes": [
                {
                    "id": "ask",
                    "type": "question",
                    "text": "Order number?",
                    "variable": "order",
                    "validation": "number",
                },
                {
                    "id": "look",
                    "type": "http",
                    "method": "GET",
                    "url": "https://shop.example.com/orders/{{order}}",
                    "save": {"state": "status"},
                },
                {"id": "tell", "type": "message", "text": "Order {{order}}: {{state}}"},
                {"id": "sorry", "type": "message", "text": "Could not look it up"},
            ],
            "edges": chain("ask", "look", "tell") + [{"from": "look", "to": "sorry", "when": "error"}],
        },
        headers=headers,
    ).get_json()["id"]

    waiting = client.post(f"/api/flows/{flow_id}/dry-run", json={}, headers=headers).get_json()
    shipped = client.post(
        f"/api/flows/{flow_id}/dry-run",
        json={
            "answers": ["42"],
            "outcomes": {"look": {"ok": True, "status": 200, "saved": {"state": "shipped"}}},
        },
        headers=headers,
    ).get_json()
    failed = client.post(
        f"/api/flows/{flow_id}/dry-run",
        json={"answers": ["42"], "outcomes": {"look": {"ok": False, "error": "timeout"}}},
        headers=headers,
    ).get_json()

    assert (waiting["status"], waiting["node"]) == ("waiting", "ask")
    assert shipped["transcript"][-1]["text"] == "Order 42: shipped"
    assert failed["transcript"][-1]["text"] == "Could not look it up"


def test_a_queue_menu_becomes_a_flow_that_says_and_routes_what_the_built_in_menu_does(
    client, headers, company, factories, bot
):
    from db.tickets import Ticket
    from workers.routing import greeting_for

    sales = factories.queue(company, name="Vendas", greeting="Vendas: um momento, {{firstName}}.")
    reception = factories.queue(
        company,
        greeting="Olá {{firstName}}! Escolha:",
        menu_options=[{"option": "1", "label": "Vendas", "queueId": sales.id}],
    )
    bot.connection.default_queue = reception
    bot.connection.save()

    created = client.post(f"/api/flows/from-queue/{reception.id}", headers=headers)
    assert created.status_code == 201, created.get_json()
    flow_id = created.get_json()["id"]
    dry = client.post(
        f"/api/flows/{flow_id}/dry-run",
        json={"answers": ["1"], "variables": {"firstName": "Ana"}},
        headers=headers,
    ).get_json()
    bot.publish(flow_id)
    bot.say("oi")
    bot.say("1")

    said = [line["text"] for line in dry["transcript"] if line["from"] == "bot"]
    assert bot.replies() == said == ["Olá Ana! Escolha:\n\n1 - Vendas", "Vendas: um momento, Ana."]
    assert greeting_for(reception, bot.connection) == "Olá {{firstName}}! Escolha:\n\n1 - Vendas"
    assert Ticket.get().queue_id == sales.id
