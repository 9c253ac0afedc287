"""Company settings: typed values with defaults, strict types, null restores the default, admins change them."""

from __future__ import annotations

import pytest

from db.audit import AuditLog
from db.companies import Company, Setting
from db.company_settings import company_setting


def test_a_new_company_reads_every_default(client, factories, app):
    user = factories.user(role="agent")

    body = client.get("/api/settings", headers=factories.auth_headers(app, user)).get_json()

    assert body["timezone"] == "UTC" and body["defaultCountry"] == "BR"
    assert body["autoCloseAfterHours"] == 0 and body["greetingEnabled"] is True
    assert body["campaignThrottle"] == {"perMinute": 20, "jitterSeconds": 10, "pauseEvery": 50, "pauseSeconds": 60}
    assert "stop" in body["optOutKeywords"]


def test_an_admin_changes_some_settings_and_the_rest_keep_their_values(client, factories, app):
    admin = factories.user()
    headers = factories.auth_headers(app, admin)

    response = client.patch("/api/settings", headers=headers, json={
        "timezone": "America/Sao_Paulo", "autoCloseAfterHours": 48, "greetingEnabled": False,
        "campaignThrottle": {"perMinute": 5}, "optOutKeywords": [" STOP ", "Sair", "stop"],
    })

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["timezone"] == "America/Sao_Paulo" and body["autoCloseAfterHours"] == 48
    assert body["greetingEnabled"] is False and body["signMessages"] is False
    assert body["campaignThrottle"]["perMinute"] == 5 and body["campaignThrottle"]["pauseEvery"] == 50
    assert body["optOutKeywords"] == ["stop", "sair"]
    assert Company.get_by_id(admin.company_id).timezone == "America/Sao_Paulo"  # a company column
    assert company_setting(admin.company_id, "auto_close_after_hours") == 48  # what the workers read
    assert client.get("/api/settings", headers=headers).get_json() == body


@pytest.mark.parametrize("payload, field", [
    ({"autoCloseAfterHours": "5"}, "autoCloseAfterHours"),
    ({"autoCloseAfterHours": -1}, "autoCloseAfterHours"),
    ({"greetingEnabled": 1}, "greetingEnabled"),
    ({"greetingEnabled": "true"}, "greetingEnabled"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"defaultCountry": "brazil"}, "defaultCountry"),
    ({"campaignThrottle": {"perMinute": 0}}, "campaignThrottle.perMinute"),
    ({"campaignThrottle": {"speed": 3}}, "campaignThrottle.speed"),
    ({"optOutKeywords": "stop"}, "optOutKeywords"),
    ({"noSuchSetting": True}, "noSuchSetting"),
])
def test_a_value_of_the_wrong_type_is_a_400_naming_it_and_changes_nothing(client, factories, app, payload, field):
    admin = factories.user()

    response = client.patch("/api/settings", headers=factories.auth_headers(app, admin), json=payload)

    assert response.status_code == 400
    assert field in response.get_json()["details"], response.get_json()
    assert Setting.select().count() == 0 and Company.get_by_id(admin.company_id).timezone == "UTC"


def test_null_puts_a_setting_back_to_its_default(client, factories, app):
    admin = factories.user()
    headers = factories.auth_headers(app, admin)
    client.patch("/api/settings", headers=headers, json={"autoCloseAfterHours": 12, "timezone": "Europe/Lisbon"})

    body = client.patch("/api/settings", headers=headers, json={"autoCloseAfterHours": None, "timezone": None}).get_json()

    assert body["autoCloseAfterHours"] == 0 and body["timezone"] == "UTC"
    assert Setting.select().count() == 0


def test_changes_are_audited_with_before_and_after(client, factories, app):
    admin = factories.user()

    client.patch("/api/settings", headers=factories.auth_headers(app, admin),
                 json={"signMessages": True, "greetingEnabled": True})

    log = AuditLog.get(AuditLog.entity == "settings")
    assert (log.before, log.after) == ({"sign_messages": False}, {"sign_messages": True})  # only what changed
    assert log.company_id == admin.company_id and log.user_id == admin.id


@pytest.mark.parametrize("role, allowed", [("super", True), ("admin", True), ("supervisor", False), ("agent", False)])
def test_only_admins_change_settings_but_everyone_reads_them(client, factories, app, role, allowed):
    user = factories.user(role=role)
    headers = factories.auth_headers(app, user)

    response = client.patch("/api/settings", headers=headers, json={"ratingEnabled": True})

    assert response.status_code == (200 if allowed else 403)
    assert client.get("/api/settings", headers=headers).get_json()["ratingEnabled"] is allowed


def test_settings_belong_to_one_company(client, factories, app):
    admin = factories.user()
    neighbour = factories.user()

    client.patch("/api/settings", headers=factories.auth_headers(app, admin), json={"rejectCalls": True})

    assert client.get("/api/settings", headers=factories.auth_headers(app, neighbour)).get_json()["rejectCalls"] is False


def test_the_registry_describes_each_setting(client, factories, app):
    user = factories.user(role="agent")

    items = client.get("/api/settings/registry", headers=factories.auth_headers(app, user)).get_json()["items"]

    by_key = {item["key"]: item for item in items}
    assert by_key["autoCloseAfterHours"]["default"] == 0
    assert by_key["autoCloseAfterHours"]["jsonSchema"]["type"] == "integer"
    assert by_key["greetingEnabled"]["description"]
