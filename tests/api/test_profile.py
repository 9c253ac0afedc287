"""The caller's profile: name and e-mail, preferences merged over defaults, and a password change that
needs the current password and ends the other sessions."""

from __future__ import annotations

from api.security import verify_password
from db.audit import AuditLog
from db.users import User
from tests.factories import PASSWORD


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_profile_answers_every_preference_with_its_default(client, factories, app):
    user = factories.user(role="agent")

    body = client.get("/api/profile", headers=factories.auth_headers(app, user)).get_json()

    assert body["id"] == user.id and body["email"] == user.email
    assert body["preferences"]["notifications"]["newLeads"] is True
    assert body["preferences"]["notifications"]["dailySummary"] is False
    assert body["preferences"]["security"] == {"twoFactor": False, "loginNotifications": True,
                                               "sessionTimeoutMinutes": 60}
    assert body["preferences"]["app"]["itemsPerPage"] == 25 and body["preferences"]["app"]["exportFormat"] == "csv"


def test_patch_changes_the_name_and_is_audited(client, factories, app):
    user = factories.user(name="Old Name")

    response = client.patch("/api/profile", headers=factories.auth_headers(app, user), json={"name": "New Name"})

    assert response.status_code == 200 and response.get_json()["name"] == "New Name"
    log = AuditLog.get(AuditLog.entity == "user")
    assert (log.before, log.after, log.user_id) == ({"name": "Old Name"}, {"name": "New Name"}, user.id)


def test_preferences_merge_group_by_group_and_only_overrides_are_stored(client, factories, app):
    user = factories.user()
    headers = factories.auth_headers(app, user)

    client.patch("/api/profile", headers=headers, json={"preferences": {"notifications": {"dailySummary": True}}})
    client.patch("/api/profile", headers=headers, json={"preferences": {"app": {"itemsPerPage": 100}}})
    response = client.patch("/api/profile", headers=headers,
                            json={"preferences": {"notifications": {"daily_summary": False, "hotLeads": False}}})

    assert response.status_code == 200
    preferences = response.get_json()["preferences"]
    assert preferences["notifications"]["dailySummary"] is False and preferences["notifications"]["hotLeads"] is False
    assert preferences["app"]["itemsPerPage"] == 100 and preferences["app"]["defaultView"] == "list"
    assert User.get_by_id(user.id).preferences == {
        "app": {"itemsPerPage": 100}, "notifications": {"dailySummary": False, "hotLeads": False}}


def test_bad_preferences_are_a_400_naming_the_preference_and_change_nothing(client, factories, app):
    user = factories.user()
    headers = factories.auth_headers(app, user)

    cases = [({"app": {"itemsPerPage": 1}}, "preferences.app.itemsPerPage"),
             ({"app": {"defaultView": "grid"}}, "preferences.app.defaultView"),
             ({"security": {"twoFactor": "yes"}}, "preferences.security.twoFactor"),
             ({"colors": {"dark": True}}, "preferences.colors"),
             ({"notifications": {"carrierPigeon": True}}, "preferences.notifications.carrierPigeon")]
    for preferences, field in cases:
        response = client.patch("/api/profile", headers=headers, json={"preferences": preferences})
        assert response.status_code == 400, preferences
        assert field in response.get_json()["details"], response.get_json()

    assert User.get_by_id(user.id).preferences == {}


def test_a_new_e_mail_needs_the_current_password_and_a_free_address(client, factories, app):
    user = factories.user(email="me@example.com")
    factories.user(email="taken@example.com")
    headers = factories.auth_headers(app, user)

    without = client.patch("/api/profile", headers=headers, json={"email": "new@example.com"})
    wrong = client.patch("/api/profile", headers=headers, json={"email": "new@example.com", "currentPassword": "nope"})
    taken = client.patch("/api/profile", headers=headers,
                         json={"email": "taken@example.com", "currentPassword": PASSWORD})
    right = client.patch("/api/profile", headers=headers, json={"email": "New@Example.com", "currentPassword": PASSWORD})

    assert without.status_code == wrong.status_code == 400
    assert wrong.get_json()["details"] == {"currentPassword": "does not match"}
    assert taken.status_code == 409
    assert right.status_code == 200 and User.get_by_id(user.id).email == "new@example.com"
    assert client.patch("/api/profile", headers=headers, json={"email": "new@example.com"}).status_code == 200


def test_changing_the_password_needs_the_current_one_and_ends_the_other_sessions(client, factories, app):
    user = factories.user(email="pw@example.com")
    other_session = client.post("/api/auth/login", json={"email": "pw@example.com", "password": PASSWORD}).get_json()
    headers = factories.auth_headers(app, user)

    wrong = client.post("/api/profile/password", headers=headers,
                        json={"currentPassword": "not it", "newPassword": "brand-new-password"})
    assert wrong.status_code == 400 and wrong.get_json()["error"] == "invalid_password"
    assert client.get("/api/profile", headers=bearer(other_session["accessToken"])).status_code == 200

    response = client.post("/api/profile/password", headers=headers,
                           json={"currentPassword": PASSWORD, "newPassword": "brand-new-password"})

    assert response.status_code == 200
    fresh = response.get_json()
    assert client.get("/api/profile", headers=bearer(fresh["accessToken"])).status_code == 200
    assert client.get("/api/profile", headers=bearer(other_session["accessToken"])).status_code == 401
    assert client.post("/api/auth/refresh", headers=bearer(other_session["refreshToken"])).status_code == 401
    assert client.get("/api/profile", headers=headers).status_code == 401
    assert verify_password(User.get_by_id(user.id).password_hash, "brand-new-password")
    log = AuditLog.get(AuditLog.entity == "user", AuditLog.entity_id == user.id)
    assert (log.before, log.after) == ({"password": "(previous)"}, {"password": "(changed)"})


def test_the_new_password_must_differ_and_be_long_enough(client, factories, app):
    user = factories.user()
    headers = factories.auth_headers(app, user)

    same = client.post("/api/profile/password", headers=headers,
                       json={"currentPassword": PASSWORD, "newPassword": PASSWORD})
    short = client.post("/api/profile/password", headers=headers, json={"currentPassword": PASSWORD, "newPassword": "x"})

    assert same.status_code == 400 and "newPassword" in same.get_json()["details"]
    assert short.status_code == 400 and "newPassword" in short.get_json()["details"]


def test_guessing_the_current_password_is_rate_limited(client, factories, app):
    user = factories.user()
    headers = factories.auth_headers(app, user)
    guess = {"currentPassword": "guess", "newPassword": "brand-new-password"}

    answers = [client.post("/api/profile/password", headers=headers, json=guess).status_code for _ in range(11)]

    assert answers == [400] * 10 + [429]
    right = client.post("/api/profile/password", headers=headers,
                        json={"currentPassword": PASSWORD, "newPassword": "brand-new-password"})
    assert right.status_code == 429 and "Retry-After" in right.headers
