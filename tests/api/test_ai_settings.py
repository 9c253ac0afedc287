"""The company's AI provider: admins set it, the API key is write-only and encrypted in the database."""

from __future__ import annotations

import json

import pytest

from db.ai_settings import DEFAULT_BASE_URL, DEFAULT_MODEL, AiSettings
from db.audit import AuditLog
from db.base import database
from tests.openai_server import allow_loopback, serving_openai
from wharf.encryption import decrypt
from workers.flows.ai_reply import generate_ai_reply

KEY = "sk-proj-Secret0123456789wxyz"


def stored_key_column() -> list[str | None]:
    """The raw column, as a dump of the database would show it."""
    return [row[0] for row in database.execute_sql("SELECT api_key_encrypted FROM ai_settings").fetchall()]


def test_a_company_that_set_nothing_reads_the_defaults_and_no_key(client, headers):
    response = client.get("/api/settings/ai", headers=headers)

    assert response.status_code == 200
    assert response.get_json() == {
        "baseUrl": DEFAULT_BASE_URL,
        "defaultModel": DEFAULT_MODEL,
        "hasApiKey": False,
        "apiKeyHint": None,
        "updatedAt": None,
    }


def test_the_key_is_never_answered_and_is_encrypted_in_the_database(client, headers, monkeypatch):
    allow_loopback(monkeypatch)

    response = client.put(
        "/api/settings/ai",
        headers=headers,
        json={"baseUrl": "http://127.0.0.1:11434/v1/", "defaultModel": "llama3.1:8b", "apiKey": KEY},
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["baseUrl"] == "http://127.0.0.1:11434/v1" and body["defaultModel"] == "llama3.1:8b"
    assert body["hasApiKey"] is True and body["apiKeyHint"] == "…wxyz" and body["updatedAt"].endswith("Z")
    shown = client.get("/api/settings/ai", headers=headers)
    assert shown.get_json() == body
    for answer in (response, shown):
        assert "Secret0123" not in answer.get_data(as_text=True)
    [column] = stored_key_column()
    assert column and "Secret0123" not in column and KEY not in column
    assert decrypt(column) == KEY


def test_the_same_key_saved_twice_is_stored_differently(client, headers):
    client.put("/api/settings/ai", headers=headers, json={"apiKey": KEY})
    [first] = stored_key_column()

    client.put("/api/settings/ai", headers=headers, json={"apiKey": KEY})

    [second] = stored_key_column()
    assert first != second and decrypt(first) == decrypt(second) == KEY


def test_a_put_without_the_key_keeps_it_and_an_empty_key_clears_it(client, headers):
    client.put("/api/settings/ai", headers=headers, json={"apiKey": KEY, "defaultModel": "gpt-4.1"})

    kept = client.put("/api/settings/ai", headers=headers, json={"defaultModel": "gpt-4.1-mini"}).get_json()
    cleared = client.put("/api/settings/ai", headers=headers, json={"apiKey": ""}).get_json()

    assert (
        kept["hasApiKey"] is True and kept["apiKeyHint"] == "…wxyz" and kept["defaultModel"] == "gpt-4.1-mini"
    )
    assert cleared["hasApiKey"] is False and cleared["apiKeyHint"] is None
    assert cleared["defaultModel"] == "gpt-4.1-mini"
    assert stored_key_column() == [None]
    assert AiSettings.get().api_key_hint is None


def test_null_puts_the_url_and_model_back_to_their_defaults(client, headers):
    client.put(
        "/api/settings/ai", headers=headers, json={"baseUrl": "https://8.8.8.8/v1", "defaultModel": "x"}
    )

    body = client.put(
        "/api/settings/ai", headers=headers, json={"baseUrl": None, "defaultModel": None}
    ).get_json()

    assert body["baseUrl"] == DEFAULT_BASE_URL and body["defaultModel"] == DEFAULT_MODEL


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"baseUrl": "ftp://example.com/v1"}, "baseUrl"),
        ({"baseUrl": "http://127.0.0.1:11434/v1"}, "baseUrl"),
        ({"baseUrl": "http://169.254.169.254/latest"}, "baseUrl"),
        ({"baseUrl": "https://user:pw@8.8.8.8/v1"}, "baseUrl"),
        ({"baseUrl": ""}, "baseUrl"),
        ({"defaultModel": ""}, "defaultModel"),
        ({"defaultModel": "gpt 4"}, "defaultModel"),
        ({"defaultModel": "m" * 101}, "defaultModel"),
        ({"apiKey": "sk-abc\r\nX-Evil: 1"}, "apiKey"),
        ({"apiKey": "sk abc"}, "apiKey"),
        ({"apiKey": "k" * 501}, "apiKey"),
        ({"apiKey": 1234}, "apiKey"),
        ({"hasApiKey": True}, "hasApiKey"),
    ],
)
def test_bad_values_are_400s_naming_the_field_and_change_nothing(client, headers, payload, field):
    response = client.put("/api/settings/ai", headers=headers, json=payload)

    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "validation_error" and field in body["details"], body
    assert AiSettings.select().count() == 0 and AuditLog.select().count() == 0


@pytest.mark.parametrize(
    "role, allowed", [("super", True), ("admin", True), ("supervisor", False), ("agent", False)]
)
def test_only_admins_read_and_change_the_ai_settings(client, factories, app, role, allowed):
    headers = factories.auth_headers(app, factories.user(role=role))

    read = client.get("/api/settings/ai", headers=headers)
    written = client.put("/api/settings/ai", headers=headers, json={"apiKey": KEY})

    assert (read.status_code, written.status_code) == ((200, 200) if allowed else (403, 403))
    assert AiSettings.select().count() == (1 if allowed else 0)


def test_api_keys_cannot_reach_the_ai_settings(client, factories, admin):
    key = factories.api_key(admin.company, scopes=["messages:write"])

    response = client.get("/api/settings/ai", headers={"X-API-Key": key})

    assert response.status_code == 403 and response.get_json()["error"] == "api_key_not_accepted"


def test_the_settings_belong_to_one_company(client, factories, app, headers):
    neighbour = factories.auth_headers(app, factories.user())

    client.put("/api/settings/ai", headers=headers, json={"apiKey": KEY, "defaultModel": "mine"})

    assert client.get("/api/settings/ai", headers=neighbour).get_json()["hasApiKey"] is False
    assert client.get("/api/settings/ai", headers=neighbour).get_json()["defaultModel"] == DEFAULT_MODEL


def test_key_changes_are_audited_as_hints_never_as_the_key(client, headers, admin):
    client.put("/api/settings/ai", headers=headers, json={"apiKey": KEY})
    client.put("/api/settings/ai", headers=headers, json={"defaultModel": "gpt-4.1"})
    client.put("/api/settings/ai", headers=headers, json={"apiKey": ""})

    logs = list(AuditLog.select().where(AuditLog.entity == "ai_settings").order_by(AuditLog.id))
    assert [(log.before, log.after) for log in logs] == [
        ({"api_key": None}, {"api_key": "…wxyz (new)"}),
        ({"default_model": DEFAULT_MODEL}, {"default_model": "gpt-4.1"}),
        ({"api_key": "…wxyz"}, {"api_key": None}),
    ]
    assert all(log.company_id == admin.company_id and log.user_id == admin.id for log in logs)
    assert "Secret0123" not in json.dumps([[log.before, log.after] for log in logs])


def test_the_company_settings_routes_are_still_served_beside_it(client, headers):
    assert client.get("/api/settings", headers=headers).status_code == 200
    assert client.get("/api/settings/registry", headers=headers).status_code == 200
    assert client.patch("/api/settings/ai", headers=headers, json={}).status_code == 405


def test_an_ai_reply_uses_the_key_and_provider_set_through_the_api(client, headers, admin, monkeypatch):
    allow_loopback(monkeypatch)
    with serving_openai(api_key=KEY) as provider:
        client.put(
            "/api/settings/ai",
            headers=headers,
            json={"baseUrl": provider.base_url, "defaultModel": "house-model", "apiKey": KEY},
        )

        outcome = generate_ai_reply(
            admin.company_id, {"systemPrompt": "Be brief."}, [{"role": "user", "content": "hello"}], {}
        )

    assert outcome.ok and outcome.text == "echo: hello"
    [sent] = provider.requests
    assert sent.headers["authorization"] == f"Bearer {KEY}" and sent.body["model"] == "house-model"
