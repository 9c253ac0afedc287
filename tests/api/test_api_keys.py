"""API keys: admins create (shown once, stored hashed), list, change and revoke them; a program calls with
X-API-Key or a Bearer key, reaches only the endpoints that declare a scope it holds, so many times a minute,
and admins see each key's usage."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from api import key_usage
from api.security import api_key_hash
from db.api_keys import SCOPES, ApiKey
from db.audit import AuditLog
from db.base import utcnow
from wharf.settings import settings


def key_headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


@pytest.mark.parametrize("role, allowed", [("super", True), ("admin", True), ("supervisor", False), ("agent", False)])
def test_only_admins_manage_api_keys(client, factories, app, role, allowed):
    user = factories.user(role=role)
    headers = factories.auth_headers(app, user)

    created = client.post("/api/api-keys", headers=headers, json={"name": "CRM sync", "scopes": ["contacts:read"]})
    listed = client.get("/api/api-keys", headers=headers)

    assert created.status_code == (201 if allowed else 403)
    assert listed.status_code == (200 if allowed else 403)
    assert ApiKey.select().count() == (1 if allowed else 0)


def test_the_key_is_answered_once_and_only_its_hash_is_stored(client, factories, app):
    admin = factories.user()
    headers = factories.auth_headers(app, admin)

    response = client.post("/api/api-keys", headers=headers,
                           json={"name": "Shop", "scopes": ["messages:send", "messages:read", "messages:send"]})

    assert response.status_code == 201
    body = response.get_json()
    assert body["key"].startswith(body["prefix"]) and body["prefix"].startswith("wk_live_") and len(body["key"]) > 40
    assert body["scopes"] == ["messages:send", "messages:read"]
    row = ApiKey.get_by_id(body["id"])
    assert row.key_hash == api_key_hash(body["key"]) and body["key"] not in row.key_hash
    assert row.company_id == admin.company_id and row.created_by_id == admin.id
    listed = client.get("/api/api-keys", headers=headers).get_json()["items"]
    assert [item["prefix"] for item in listed] == [body["prefix"]] and "key" not in listed[0]
    assert "key" not in client.get(f"/api/api-keys/{body['id']}", headers=headers).get_json()
    log = AuditLog.get(AuditLog.entity == "api_key")
    assert log.action == "created" and "key_hash" not in log.after and log.after["name"] == "Shop"


@pytest.mark.parametrize("payload, field", [
    ({"name": "x", "scopes": []}, "scopes"),
    ({"name": "x", "scopes": ["everything"]}, "scopes.0"),
    ({"name": "", "scopes": ["tickets:read"]}, "name"),
    ({"name": "x", "scopes": ["tickets:read"], "expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
])
def test_bad_key_requests_are_400_naming_the_field(client, factories, app, payload, field):
    admin = factories.user()

    response = client.post("/api/api-keys", headers=factories.auth_headers(app, admin), json=payload)

    assert response.status_code == 400
    assert field in response.get_json()["details"]
    assert ApiKey.select().count() == 0


def test_a_key_reads_tickets_of_its_company_with_the_scope_and_nothing_else(client, factories, app):
    company = factories.company()
    mine = factories.ticket(company)
    factories.ticket(factories.company())
    key = factories.api_key(company, ["tickets:read"])

    tickets = client.get("/api/tickets", headers=key_headers(key))
    no_scope = client.post("/api/messages", headers=key_headers(key), json={"to": "+5511999990000", "body": "hi"})
    no_keys_here = client.get("/api/users", headers=key_headers(key))

    assert tickets.status_code == 200
    assert [t["id"] for t in tickets.get_json()["items"]] == [mine.id]
    assert no_scope.status_code == 403 and no_scope.get_json()["error"] == "insufficient_scope"
    assert no_scope.get_json()["details"] == {"required": ["messages:send"]}
    assert no_keys_here.status_code == 403 and no_keys_here.get_json()["error"] == "api_key_not_accepted"


def test_a_key_sends_a_message_and_follows_its_job(client, factories, app, broker):
    company = factories.company()
    factories.connection(company)
    key = factories.api_key(company, ["messages:send", "messages:read"])

    sent = client.post("/api/messages", headers=key_headers(key), json={"to": "+5511999990000", "body": "hi"})

    assert sent.status_code == 202, sent.get_json()
    body = sent.get_json()
    assert client.get(f"/api/messages/{body['id']}", headers=key_headers(key)).get_json()["body"] == "hi"
    assert client.get(f"/api/jobs/{body['jobId']}", headers=key_headers(key)).status_code == 200


def test_unknown_revoked_and_expired_keys_are_401(client, factories, app):
    admin = factories.user()
    expired = factories.api_key(admin.company, ["tickets:read"], expires_at=utcnow() - dt.timedelta(seconds=1))
    created = client.post("/api/api-keys", headers=factories.auth_headers(app, admin),
                          json={"name": "old", "scopes": ["tickets:read"]}).get_json()
    assert client.get("/api/tickets", headers=key_headers(created["key"])).status_code == 200

    revoked = client.delete(f"/api/api-keys/{created['id']}", headers=factories.auth_headers(app, admin))

    assert revoked.status_code == 204
    after_revoke = client.get("/api/tickets", headers=key_headers(created["key"]))
    assert after_revoke.status_code == 401 and after_revoke.get_json()["error"] == "invalid_api_key"
    assert client.get("/api/tickets", headers=key_headers("wharf_made-up")).status_code == 401
    assert client.get("/api/tickets", headers=key_headers(expired)).get_json()["error"] == "api_key_expired"
    assert AuditLog.get(AuditLog.entity == "api_key", AuditLog.action == "deleted").before["name"] == "old"


def test_a_key_records_when_it_was_last_used(client, factories, app):
    company = factories.company()
    key = factories.api_key(company, ["tickets:read"])

    client.get("/api/tickets", headers=key_headers(key))

    assert ApiKey.get(ApiKey.key_hash == api_key_hash(key)).last_used_at is not None


def test_another_company_s_key_is_404_to_show_and_revoke(client, factories, app):
    admin = factories.user()
    other = factories.company()
    factories.api_key(other, ["tickets:read"])
    foreign = ApiKey.get(ApiKey.company == other)
    headers = factories.auth_headers(app, admin)

    assert client.get(f"/api/api-keys/{foreign.id}", headers=headers).status_code == 404
    assert client.delete(f"/api/api-keys/{foreign.id}", headers=headers).status_code == 404
    assert ApiKey.select().count() == 1


def test_jwt_users_are_unaffected_by_scopes(client, factories, app):
    agent = factories.user(role="agent")

    assert client.get("/api/tickets", headers=factories.auth_headers(app, agent)).status_code == 200
    assert client.get("/api/profile", headers=factories.auth_headers(app, agent)).status_code == 200


def test_the_spec_documents_the_api_key_scheme_and_each_operation_s_scope(client):
    spec = client.get("/api/openapi.json").get_json()

    scheme = spec["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")
    bearer = spec["components"]["securitySchemes"]["apiKeyBearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    send = spec["paths"]["/api/messages"]["post"]
    assert send["security"] == [{"bearerAuth": []}, {"apiKey": ["messages:send"]}, {"apiKeyBearer": ["messages:send"]}]
    assert set(send["responses"]["202"]["headers"]) == {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
    assert "Retry-After" in send["responses"]["429"]["headers"]
    assert "security" not in spec["paths"]["/api/users"]["get"]
    assert "429" not in spec["paths"]["/api/users"]["get"]["responses"]


def test_an_endpoint_naming_an_unknown_scope_fails_at_import():
    from api.endpoint import endpoint

    with pytest.raises(ValueError, match="unknown API key scopes"):
        endpoint(summary="x", tags=["x"], scope="everything:write")


def test_a_bearer_key_works_like_x_api_key_and_a_jwt_still_works_beside_it(client, factories, app):
    admin = factories.user()
    mine = factories.ticket(admin.company)
    key = factories.api_key(admin.company, ["tickets:read"])

    with_key = client.get("/api/tickets", headers={"Authorization": f"Bearer {key}"})
    with_token = client.get("/api/tickets", headers=factories.auth_headers(app, admin))
    made_up = client.get("/api/tickets", headers={"Authorization": "Bearer wk_live_made-up"})

    assert with_key.status_code == 200 and [t["id"] for t in with_key.get_json()["items"]] == [mine.id]
    assert with_key.headers["X-RateLimit-Limit"] == str(settings.api_key_rate_limit_per_minute)
    assert with_token.status_code == 200 and "X-RateLimit-Limit" not in with_token.headers
    assert made_up.status_code == 401 and made_up.get_json()["error"] == "invalid_api_key"


def test_keys_never_reach_user_or_key_management(client, factories, app):
    admin = factories.user()
    key = factories.api_key(admin.company, list(SCOPES))
    other = factories.api_key(admin.company, ["tickets:read"])
    other_id = ApiKey.get(ApiKey.key_hash == api_key_hash(other)).id

    calls = [
        client.get("/api/users", headers=key_headers(key)),
        client.post("/api/users", headers=key_headers(key), json={"name": "x", "email": "x@example.com"}),
        client.patch(f"/api/users/{admin.id}", headers=key_headers(key), json={"role": "agent"}),
        client.get("/api/api-keys", headers={"Authorization": f"Bearer {key}"}),
        client.post("/api/api-keys", headers=key_headers(key), json={"name": "more", "scopes": ["tickets:read"]}),
        client.patch(f"/api/api-keys/{other_id}", headers=key_headers(key), json={"rateLimitPerMinute": 100000}),
        client.get(f"/api/api-keys/{other_id}/usage", headers=key_headers(key)),
        client.delete(f"/api/api-keys/{other_id}", headers=key_headers(key)),
    ]

    assert [call.status_code for call in calls] == [403] * len(calls)
    assert {call.get_json()["error"] for call in calls} == {"api_key_not_accepted"}
    assert ApiKey.select().count() == 2 and ApiKey.get_by_id(other_id).rate_limit_per_minute == settings.api_key_rate_limit_per_minute
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(("/api/users", "/api/api-keys"))]
    assert rules and all(not app.view_functions[rule.endpoint].endpoint_spec.scopes for rule in rules)


def test_a_key_cannot_read_another_company_s_messages_or_jobs(client, factories, app, broker):
    company, other = factories.company(), factories.company()
    factories.connection(other)
    theirs = factories.api_key(other, ["messages:send"])
    sent = client.post("/api/messages", headers=key_headers(theirs), json={"to": "+5511999990000", "body": "hi"})
    mine = factories.api_key(company, ["messages:send", "messages:read"])

    message = client.get(f"/api/messages/{sent.get_json()['id']}", headers=key_headers(mine))
    job = client.get(f"/api/jobs/{sent.get_json()['jobId']}", headers=key_headers(mine))

    assert sent.status_code == 202
    assert message.status_code == 404 and message.get_json()["error"] == "not_found"
    assert job.status_code == 404
    assert "X-RateLimit-Remaining" in message.headers  # a refused answer still tells the key where it stands


def test_past_its_limit_a_key_gets_429_with_retry_after_and_other_keys_do_not(client, factories, app):
    company = factories.company()
    key = factories.api_key(company, ["tickets:read"], rate_limit_per_minute=2)
    other = factories.api_key(company, ["tickets:read"], rate_limit_per_minute=2)

    answers = [client.get("/api/tickets", headers=key_headers(key)) for _ in range(3)]
    others = client.get("/api/tickets", headers=key_headers(other))

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"2"}
    refused = answers[2]
    body = refused.get_json()
    assert (body["error"], body["statusCode"]) == ("too_many_requests", 429) and "2 requests a minute" in body["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60 and body["details"]["retryAfter"] == int(refused.headers["Retry-After"])
    assert 0 < int(refused.headers["X-RateLimit-Reset"]) - time.time() <= 61
    assert others.status_code == 200 and others.headers["X-RateLimit-Remaining"] == "1"


def test_a_limited_key_recovers_when_its_window_closes(client, factories, app, monkeypatch):
    monkeypatch.setattr(key_usage, "WINDOW_SECONDS", 2)  # a short window, so the test waits for a real one
    key = factories.api_key(factories.company(), ["tickets:read"], rate_limit_per_minute=1)
    assert client.get("/api/tickets", headers=key_headers(key)).status_code == 200
    refused = client.get("/api/tickets", headers=key_headers(key))
    assert refused.status_code == 429

    time.sleep(int(refused.headers["Retry-After"]))
    again = client.get("/api/tickets", headers=key_headers(key))

    assert again.status_code == 200 and again.headers["X-RateLimit-Remaining"] == "0"


def test_rate_limits_are_set_per_key_on_create_and_patch_and_apply_at_once(client, factories, app):
    admin = factories.user()
    headers = factories.auth_headers(app, admin)
    default = client.post("/api/api-keys", headers=headers, json={"name": "a", "scopes": ["tickets:read"]}).get_json()
    own = client.post("/api/api-keys", headers=headers,
                      json={"name": "b", "scopes": ["tickets:read"], "rateLimitPerMinute": 1}).get_json()
    assert default["rateLimitPerMinute"] == settings.api_key_rate_limit_per_minute
    assert own["rateLimitPerMinute"] == 1
    client.get("/api/tickets", headers=key_headers(own["key"]))
    assert client.get("/api/tickets", headers=key_headers(own["key"])).status_code == 429

    raised = client.patch(f"/api/api-keys/{own['id']}", headers=headers, json={"rateLimitPerMinute": 5, "name": "B"})
    after = client.get("/api/tickets", headers=key_headers(own["key"]))
    nulled = client.patch(f"/api/api-keys/{own['id']}", headers=headers, json={"rateLimitPerMinute": None})
    zero = client.patch(f"/api/api-keys/{own['id']}", headers=headers, json={"rateLimitPerMinute": 0})

    assert raised.status_code == 200 and (raised.get_json()["rateLimitPerMinute"], raised.get_json()["name"]) == (5, "B")
    assert after.status_code == 200 and after.headers["X-RateLimit-Remaining"] == "2"
    assert nulled.status_code == 400 and "rateLimitPerMinute" in nulled.get_json()["details"]
    assert zero.status_code == 400 and "rateLimitPerMinute" in zero.get_json()["details"]
    log = AuditLog.get(AuditLog.entity == "api_key", AuditLog.action == "updated")
    assert log.before == {"name": "b", "rate_limit_per_minute": 1} and log.after == {"name": "B", "rate_limit_per_minute": 5}


def test_a_patch_narrows_scopes_and_expiry_for_the_next_request(client, factories, app):
    admin = factories.user()
    headers = factories.auth_headers(app, admin)
    created = client.post("/api/api-keys", headers=headers,
                          json={"name": "a", "scopes": ["tickets:read", "messages:read"]}).get_json()

    narrowed = client.patch(f"/api/api-keys/{created['id']}", headers=headers, json={"scopes": ["messages:read"]})
    refused = client.get("/api/tickets", headers=key_headers(created["key"]))
    soon = (utcnow() + dt.timedelta(hours=1)).isoformat() + "Z"
    expiring = client.patch(f"/api/api-keys/{created['id']}", headers=headers, json={"expiresAt": soon})
    forever = client.patch(f"/api/api-keys/{created['id']}", headers=headers, json={"expiresAt": None})

    assert narrowed.get_json()["scopes"] == ["messages:read"]
    assert refused.status_code == 403 and refused.get_json()["details"] == {"required": ["tickets:read"]}
    assert expiring.get_json()["expiresAt"] is not None and forever.get_json()["expiresAt"] is None


def test_usage_counts_requests_enqueued_jobs_last_use_and_ip_for_admins(client, factories, app, broker):
    admin = factories.user()
    factories.connection(admin.company)
    key = factories.api_key(admin.company, ["messages:send", "messages:read"])
    row = ApiKey.get(ApiKey.key_hash == api_key_hash(key))
    send = {"to": "+5511999990000", "body": "hi"}

    first = client.post("/api/messages", headers={**key_headers(key), "Idempotency-Key": "a"}, json=send)
    replayed = client.post("/api/messages", headers={**key_headers(key), "Idempotency-Key": "a"}, json=send)
    client.post("/api/messages", headers=key_headers(key), json=send)
    client.get(f"/api/messages/{first.get_json()['id']}", headers=key_headers(key))
    client.post("/api/messages", headers=key_headers(key), json={"body": "no recipient"})  # 400: no job

    usage = client.get(f"/api/api-keys/{row.id}/usage", headers=factories.auth_headers(app, admin))
    listed = client.get("/api/api-keys", headers=factories.auth_headers(app, admin)).get_json()["items"][0]

    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert usage.status_code == 200
    body = usage.get_json()
    assert (body["requests"], body["enqueuedJobs"], body["lastIp"]) == (5, 2, "127.0.0.1")
    assert body["rateLimitPerMinute"] == settings.api_key_rate_limit_per_minute
    assert dt.datetime.fromisoformat(body["lastUsedAt"]) > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    assert {name: listed[name] for name in ("requests", "enqueuedJobs", "lastIp")} == {
        "requests": 5, "enqueuedJobs": 2, "lastIp": "127.0.0.1"}


def test_usage_reaches_the_row_at_most_once_per_flush_interval(client, factories, app, monkeypatch):
    monkeypatch.setattr(key_usage, "FLUSH_SECONDS", 1)  # a minute in production; the test waits for a real one
    key = factories.api_key(factories.company(), ["tickets:read"])
    row_of = lambda: ApiKey.get(ApiKey.key_hash == api_key_hash(key))  # noqa: E731

    client.get("/api/tickets", headers=key_headers(key))
    after_first = row_of()
    for _ in range(3):
        client.get("/api/tickets", headers=key_headers(key))
    within_the_interval = row_of()
    time.sleep(1.1)
    client.get("/api/tickets", headers=key_headers(key))

    assert (after_first.request_count, after_first.last_ip) == (1, "127.0.0.1")
    assert after_first.last_used_at is not None
    assert within_the_interval.request_count == 1  # the next three are counted in Redis only
    assert row_of().request_count == 5


def test_another_company_s_key_usage_is_404(client, factories, app):
    admin = factories.user()
    factories.api_key(factories.company(), ["tickets:read"])
    foreign = ApiKey.get()

    answer = client.get(f"/api/api-keys/{foreign.id}/usage", headers=factories.auth_headers(app, admin))
    patched = client.patch(f"/api/api-keys/{foreign.id}", headers=factories.auth_headers(app, admin),
                           json={"name": "mine now"})

    assert answer.status_code == 404 and patched.status_code == 404
    assert ApiKey.get_by_id(foreign.id).name != "mine now"


def test_a_key_with_webhooks_write_manages_its_company_s_webhooks(client, factories):
    company = factories.company()
    key = factories.api_key(company, ["webhooks:write"])
    reader = factories.api_key(company, ["tickets:read"])

    created = client.post("/api/webhooks", headers=key_headers(key), json={"url": "https://93.184.215.14/hooks", "events": ["*"]})
    webhook_id = created.get_json()["id"]
    listed = client.get("/api/webhooks", headers=key_headers(key))
    refused = client.get("/api/webhooks", headers=key_headers(reader))
    deleted = client.delete(f"/api/webhooks/{webhook_id}", headers=key_headers(key))

    assert created.status_code == 201, created.get_json()
    assert [hook["id"] for hook in listed.get_json()["items"]] == [webhook_id]
    assert refused.status_code == 403 and refused.get_json()["details"] == {"required": ["webhooks:write"]}
    assert deleted.status_code == 204
    assert AuditLog.select().where(AuditLog.entity == "webhook").count() == 2


def test_a_key_with_tickets_write_gives_a_ticket_to_an_agent_transfers_notes_and_closes_it(client, factories):
    company = factories.company()
    agent, other_agent = factories.user(company, role="agent"), factories.user(company, role="agent")
    queue = factories.queue(company)
    ticket = factories.ticket(company)
    key = factories.api_key(company, ["tickets:write", "tickets:read"])
    base = f"/api/tickets/{ticket.id}"

    nobody = client.post(f"{base}/accept", headers=key_headers(key))
    stranger = client.post(f"{base}/accept", headers=key_headers(key),
                           json={"userId": factories.user(factories.company()).id})
    accepted = client.post(f"{base}/accept", headers=key_headers(key), json={"userId": agent.id})
    transferred = client.post(f"{base}/transfer", headers=key_headers(key),
                              json={"queueId": queue.id, "userId": other_agent.id, "note": "sales lead"})
    noted = client.post(f"{base}/notes", headers=key_headers(key), json={"body": "called back"})
    closed = client.post(f"{base}/close", headers=key_headers(key), json={"sendFarewell": False})
    history = client.get(f"{base}/history", headers=key_headers(key))

    assert nobody.status_code == 400 and nobody.get_json()["details"] == {"userId": "required"}
    assert stranger.status_code == 404
    assert accepted.status_code == 200 and accepted.get_json()["userId"] == agent.id
    assert transferred.get_json()["userId"] == other_agent.id and transferred.get_json()["queueId"] == queue.id
    assert noted.status_code == 200
    assert closed.get_json()["status"] == "closed"
    notes = client.get(f"{base}/notes", headers=key_headers(key)).get_json()["items"]
    assert [(note["body"], note["userId"]) for note in notes] == [("sales lead", None), ("called back", None)]
    assert [event["kind"] for event in history.get_json()["events"]][-3:] == ["accepted", "transferred", "closed"]


def test_a_user_takes_a_ticket_for_themselves_only(client, factories, app):
    company = factories.company()
    agent, colleague = factories.user(company, role="agent"), factories.user(company, role="agent")
    ticket = factories.ticket(company)

    answer = client.post(f"/api/tickets/{ticket.id}/accept", headers=factories.auth_headers(app, agent),
                         json={"userId": colleague.id})

    assert answer.status_code == 400 and answer.get_json()["details"] == {"userId": "not yours"}
    assert client.post(f"/api/tickets/{ticket.id}/accept", headers=factories.auth_headers(app, agent),
                       json={"userId": agent.id}).get_json()["userId"] == agent.id
