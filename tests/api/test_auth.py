"""Sign-up, login, refresh rotation, logout and password reset, over the real API."""

from __future__ import annotations

import re

from db.users import PasswordReset
from tests.factories import PASSWORD
from tests.waiting import wait_for


def signup(client, email="ana@example.com", password="s3cret-pass", company="Acme"):
    return client.post(
        "/api/auth/signup", json={"companyName": company, "name": "Ana", "email": email, "password": password}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_signup_creates_company_and_admin_and_returns_tokens(client):
    response = signup(client)

    assert response.status_code == 201
    body = response.get_json()
    assert body["user"]["role"] == "admin"
    assert body["user"]["email"] == "ana@example.com"
    assert body["company"]["name"] == "Acme"
    assert body["user"]["companyId"] == body["company"]["id"]
    assert client.get("/api/company", headers=bearer(body["accessToken"])).get_json()["name"] == "Acme"


def test_signup_with_a_taken_email_is_409_and_writes_nothing(client, factories):
    from db.companies import Company

    signup(client, email="taken@example.com")
    before = Company.select().count()

    response = signup(client, email="TAKEN@example.com", company="Other")

    assert response.status_code == 409
    assert response.get_json()["details"] == {"email": "already registered"}
    assert Company.select().count() == before


def test_login_returns_tokens_that_open_protected_routes(client, factories):
    user = factories.user(email="bob@example.com")

    response = client.post("/api/auth/login", json={"email": "Bob@Example.com", "password": PASSWORD})

    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["id"] == user.id
    assert client.get(f"/api/users/{user.id}", headers=bearer(body["accessToken"])).status_code == 200


def test_login_with_a_wrong_password_or_unknown_email_is_the_same_401(client, factories):
    factories.user(email="bob@example.com")

    wrong_password = client.post("/api/auth/login", json={"email": "bob@example.com", "password": "nope"})
    unknown = client.post("/api/auth/login", json={"email": "nobody@example.com", "password": "nope"})

    assert wrong_password.status_code == unknown.status_code == 401
    assert wrong_password.get_json()["error"] == unknown.get_json()["error"] == "invalid_credentials"


def test_login_is_rate_limited_per_email_with_retry_after(client, factories):
    factories.user(email="bob@example.com")
    attempts = [
        client.post("/api/auth/login", json={"email": "bob@example.com", "password": "wrong"}) for _ in range(11)
    ]

    assert [a.status_code for a in attempts[:10]] == [401] * 10
    assert attempts[10].status_code == 429
    assert int(attempts[10].headers["Retry-After"]) > 0
    assert attempts[10].get_json()["error"] == "too_many_requests"


def test_refresh_rotates_and_the_used_refresh_token_stops_working(client):
    tokens = signup(client).get_json()

    rotated = client.post("/api/auth/refresh", headers=bearer(tokens["refreshToken"]))
    replayed = client.post("/api/auth/refresh", headers=bearer(tokens["refreshToken"]))

    assert rotated.status_code == 200
    assert set(rotated.get_json()) == {"accessToken", "refreshToken"}
    assert replayed.status_code == 401
    assert replayed.get_json()["error"] == "token_revoked"
    again = client.post("/api/auth/refresh", headers=bearer(rotated.get_json()["refreshToken"]))
    assert again.status_code == 200


def test_an_access_token_cannot_refresh_and_a_refresh_token_cannot_call_the_api(client):
    tokens = signup(client).get_json()

    assert client.post("/api/auth/refresh", headers=bearer(tokens["accessToken"])).status_code == 401
    assert client.get("/api/company", headers=bearer(tokens["refreshToken"])).status_code == 401


def test_logout_revokes_the_access_and_refresh_tokens(client):
    tokens = signup(client).get_json()

    response = client.post(
        "/api/auth/logout", headers=bearer(tokens["accessToken"]), json={"refreshToken": tokens["refreshToken"]}
    )

    assert response.status_code == 204
    after = client.get("/api/company", headers=bearer(tokens["accessToken"]))
    assert after.status_code == 401 and after.get_json()["error"] == "token_revoked"
    assert client.post("/api/auth/refresh", headers=bearer(tokens["refreshToken"])).status_code == 401


def test_logout_without_a_body_revokes_the_access_token(client):
    tokens = signup(client).get_json()

    assert client.post("/api/auth/logout", headers=bearer(tokens["accessToken"])).status_code == 204
    assert client.get("/api/company", headers=bearer(tokens["accessToken"])).status_code == 401


def test_missing_malformed_and_expired_tokens_are_401_in_the_error_format(client, app, factories):
    import datetime as dt

    from flask_jwt_extended import create_access_token

    user = factories.user()
    with app.app_context():
        expired = create_access_token(identity=str(user.id), expires_delta=dt.timedelta(seconds=-1))

    missing = client.get("/api/company")
    malformed = client.get("/api/company", headers=bearer("not-a-jwt"))
    old = client.get("/api/company", headers=bearer(expired))

    for response, code in ((missing, "unauthorized"), (malformed, "invalid_token"), (old, "token_expired")):
        assert response.status_code == 401
        assert response.get_json()["error"] == code
        assert response.get_json()["statusCode"] == 401


def e_mailed_code(smtp_server, index=-1) -> str:
    assert wait_for(lambda: len(smtp_server.messages) >= (index + 1 if index >= 0 else 1))
    return re.search(rb"code is (\d{6})", smtp_server.messages[index].content).group(1).decode()


def test_password_reset_by_e_mailed_code_sets_the_password_and_ends_sessions(client, factories, worker, smtp_server):
    user = factories.user(email="carla@example.com")
    old_session = client.post("/api/auth/login", json={"email": "carla@example.com", "password": PASSWORD}).get_json()

    assert client.post("/api/auth/forgot-password", json={"email": "carla@example.com"}).status_code == 202
    code = e_mailed_code(smtp_server)
    assert smtp_server.messages[0].rcpt_tos == ["carla@example.com"]
    verified = client.post("/api/auth/verify-otp", json={"email": "carla@example.com", "otp": code})
    assert verified.status_code == 200
    reset = client.post(
        "/api/auth/reset-password", json={"resetToken": verified.get_json()["resetToken"], "password": "brand-new-pass"}
    )

    assert reset.status_code == 204
    assert client.get(f"/api/users/{user.id}", headers=bearer(old_session["accessToken"])).status_code == 401
    assert client.post("/api/auth/login", json={"email": "carla@example.com", "password": PASSWORD}).status_code == 401
    assert client.post("/api/auth/login", json={"email": "carla@example.com", "password": "brand-new-pass"}).status_code == 200
    again = client.post(
        "/api/auth/reset-password", json={"resetToken": verified.get_json()["resetToken"], "password": "other-pass-1"}
    )
    assert again.status_code == 400


def test_forgot_password_for_an_unknown_address_answers_the_same_and_sends_nothing(client, worker, smtp_server, broker):
    response = client.post("/api/auth/forgot-password", json={"email": "ghost@example.com"})

    assert response.status_code == 202
    broker.join("emails", timeout=5000)
    worker.join()
    assert smtp_server.messages == []


def test_without_e_mail_a_reset_is_refused_and_no_code_is_made(client, factories, email_off):
    factories.user(factories.company(), email="carla@example.com")

    response = client.post("/api/auth/forgot-password", json={"email": "carla@example.com"})

    assert (response.status_code, response.get_json()["error"]) == (503, "email_not_configured")
    assert "an admin can set you a new password" in response.get_json()["message"]
    assert PasswordReset.select().count() == 0


def test_the_code_allows_five_attempts_then_even_the_right_code_fails(client, factories, worker, smtp_server):
    factories.user(email="dan@example.com")
    client.post("/api/auth/forgot-password", json={"email": "dan@example.com"})
    code = e_mailed_code(smtp_server)
    wrong = "000000" if code != "000000" else "111111"

    failures = [client.post("/api/auth/verify-otp", json={"email": "dan@example.com", "otp": wrong}) for _ in range(5)]
    last = client.post("/api/auth/verify-otp", json={"email": "dan@example.com", "otp": code})

    assert all(f.status_code == 400 and f.get_json()["error"] == "invalid_otp" for f in failures)
    assert last.status_code == 400


def test_an_expired_code_is_refused(client, factories, worker, smtp_server):
    from db.base import utcnow
    from db.users import PasswordReset

    factories.user(email="eve@example.com")
    client.post("/api/auth/forgot-password", json={"email": "eve@example.com"})
    code = e_mailed_code(smtp_server)
    PasswordReset.update(expires_at=utcnow()).execute()

    response = client.post("/api/auth/verify-otp", json={"email": "eve@example.com", "otp": code})

    assert response.status_code == 400


def test_a_new_code_replaces_the_previous_one(client, factories, worker, smtp_server):
    factories.user(email="fay@example.com")
    client.post("/api/auth/forgot-password", json={"email": "fay@example.com"})
    first = e_mailed_code(smtp_server, 0)
    client.post("/api/auth/forgot-password", json={"email": "fay@example.com"})
    second = e_mailed_code(smtp_server, 1)

    if first != second:
        assert client.post("/api/auth/verify-otp", json={"email": "fay@example.com", "otp": first}).status_code == 400
    assert client.post("/api/auth/verify-otp", json={"email": "fay@example.com", "otp": second}).status_code == 200


def test_each_refused_token_gets_its_code_and_message(client):
    """The one-decode check of api.security.verified_token answers as flask-jwt-extended's own check did."""
    import jwt

    tokens = signup(client).get_json()
    forged = jwt.encode(jwt.decode(tokens["accessToken"], options={"verify_signature": False}), "not-our-secret-" * 3)
    revoked = signup(client, email="bob@example.com", company="Bobs").get_json()["accessToken"]
    assert client.post("/api/auth/logout", headers=bearer(revoked)).status_code == 204
    expected_by_headers = {
        "missing": (None, "unauthorized", "missing or malformed token: Missing Authorization Header"),
        "another scheme": ({"Authorization": "Token abc"}, "unauthorized",
                           "missing or malformed token: Missing 'Bearer' type in 'Authorization' header. "
                           "Expected 'Authorization: Bearer <JWT>'"),
        "two words": ({"Authorization": "Bearer abc def"}, "invalid_token",
                      "invalid token: Bad Authorization header. Expected 'Authorization: Bearer <JWT>'"),
        "not a JWT": (bearer("abc"), "invalid_token", "invalid token: Not enough segments"),
        "forged": (bearer(forged), "invalid_token", "invalid token: Signature verification failed"),
        "refresh token": (bearer(tokens["refreshToken"]), "invalid_token",
                          "invalid token: Only non-refresh tokens are allowed"),
        "revoked": (bearer(revoked), "token_revoked", "the token has been revoked"),
    }

    for case, (headers, code, message) in expected_by_headers.items():
        body = client.get("/api/company", headers=headers).get_json()
        assert (body["statusCode"], body["error"], body["message"]) == (401, code, message), case
    on_refresh = client.post("/api/auth/refresh", headers=bearer(tokens["accessToken"])).get_json()
    assert (on_refresh["error"], on_refresh["message"]) == ("invalid_token", "invalid token: Only refresh tokens are allowed")
    assert client.get("/api/company", headers=bearer(tokens["accessToken"])).status_code == 200
