"""API keys: admins create (shown once, stored hashed), list and revoke them; a program calls with X-API-Key
and reaches only the endpoints that declare a scope it holds."""

from __future__ import annotations

import datetime as dt

import pytest

from api.security import api_key_hash
from db.api_keys import ApiKey
from db.audit import AuditLog
from db.base import utcnow


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
    assert body["key"].startswith(body["prefix"]) and len(body["key"]) > 40
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
    send = spec["paths"]["/api/messages"]["post"]
    assert send["security"] == [{"bearerAuth": []}, {"apiKey": ["messages:send"]}]
    assert "security" not in spec["paths"]["/api/users"]["get"]


def test_an_endpoint_naming_an_unknown_scope_fails_at_import():
    from api.endpoint import endpoint

    with pytest.raises(ValueError, match="unknown API key scopes"):
        endpoint(summary="x", tags=["x"], scope="everything:write")
