"""Bad input gets a clear 4xx in the one error format, and nothing is written."""

from __future__ import annotations

import pytest

from db.companies import Company
from db.users import User


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error", "message", "statusCode", "details"}
    assert body["error"] == code and body["statusCode"] == status and body["message"]
    return body


def test_malformed_json_is_400_and_writes_nothing(client):
    response = client.post("/api/auth/signup", data="{not json", content_type="application/json")

    assert_error(response, 400, "invalid_json")
    assert Company.select().count() == 0


def test_wrong_types_and_missing_fields_name_each_field(client):
    response = client.post("/api/auth/signup", json={"companyName": 42, "email": "x@example.com", "password": "short"})

    body = assert_error(response, 400, "validation_error")
    assert set(body["details"]) == {"companyName", "name", "password"}
    assert User.select().count() == 0


@pytest.mark.parametrize("path, body, field", [
    ("/api/queues", {"name": "Q", "autoAssign": "yes"}, "autoAssign"),  # no boolean
    ("/api/messages", {"ticketId": True, "body": "hi"}, "ticketId"),  # no id
    ("/api/contacts", {"phone": 5511987654321}, "phone"),  # no text
    ("/api/schedules", {"connectionId": "1", "to": "+5511987654321", "body": "x", "sendAt": "2030-01-01T00:00:00Z"},
     "connectionId"),  # no number
])
def test_json_values_keep_their_types(client, factories, app, path, body, field):
    headers = factories.auth_headers(app, factories.user(role="admin"))

    response = client.post(path, json=body, headers=headers)

    assert assert_error(response, 400, "validation_error")["details"].keys() == {field}


def test_unknown_fields_are_refused(client):
    response = client.post(
        "/api/auth/signup",
        json={"companyName": "A", "name": "B", "email": "b@example.com", "password": "long-enough", "role": "super"},
    )

    body = assert_error(response, 400, "validation_error")
    assert body["details"] == {"role": "unknown field"}
    assert User.select().count() == 0


def test_an_empty_json_body_where_a_body_is_optional_is_none_and_where_required_is_invalid(client, factories, app):
    admin = factories.user(role="admin")
    ticket, headers = factories.ticket(admin.company), factories.auth_headers(app, admin)

    optional = client.post(f"/api/tickets/{ticket.id}/accept", data=b"", content_type="application/json",
                           headers=headers)
    required = client.post("/api/auth/signup", data=b"", content_type="application/json")

    assert optional.status_code == 200, optional.get_json()
    assert_error(required, 400, "invalid_json")


def test_a_body_that_is_not_json_is_415(client):
    response = client.post("/api/auth/login", data="email=a", content_type="application/x-www-form-urlencoded")

    assert_error(response, 415, "unsupported_media_type")


def test_an_oversize_body_is_413(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)

    response = client.post("/api/auth/login", data="x" * 5000, content_type="application/json")

    assert_error(response, 413, "payload_too_large")


def test_unknown_route_is_404_and_wrong_method_is_405(client):
    assert_error(client.get("/api/nothing-here"), 404, "not_found")
    assert_error(client.delete("/api/auth/login"), 405, "method_not_allowed")


@pytest.mark.parametrize("bad", ["page=0", "pageSize=501", "page=abc"])
def test_bad_paging_is_400(client, factories, app, bad):
    admin = factories.user(role="admin")

    response = client.get(f"/api/users?{bad}", headers=factories.auth_headers(app, admin))

    assert_error(response, 400, "validation_error")


def test_an_unexpected_error_is_a_500_without_a_stack_trace(database):
    from api.app import create_app
    from api.endpoint import endpoint

    app = create_app()

    @endpoint(summary="boom", tags=["test"], auth="public")
    def explode():
        raise RuntimeError("secret internals")

    app.add_url_rule("/test-only/explode", "test_explode", explode)
    response = app.test_client().get("/test-only/explode")

    body = assert_error(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in body["message"]
