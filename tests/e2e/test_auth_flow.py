"""Over real HTTP against the supervisord stack: signup → login → refresh → logout → protected call."""

import pytest

pytestmark = pytest.mark.e2e


def test_a_new_company_signs_up_logs_in_rotates_and_logs_out(stack):
    status, signup = stack.call(
        "POST", "/api/auth/signup",
        {"companyName": "E2E Co", "name": "Eve", "email": "eve@example.com", "password": "long-enough-pw"},
    )
    assert status == 201

    status, session = stack.call("POST", "/api/auth/login", {"email": "eve@example.com", "password": "long-enough-pw"})
    assert status == 200 and session["user"]["role"] == "admin"

    status, rotated = stack.call("POST", "/api/auth/refresh", token=session["refreshToken"])
    assert status == 200
    assert stack.call("POST", "/api/auth/refresh", token=session["refreshToken"])[0] == 401

    status, company = stack.call("GET", "/api/company", token=rotated["accessToken"])
    assert status == 200 and company["name"] == "E2E Co"

    status, _ = stack.call(
        "POST", "/api/auth/logout", {"refreshToken": rotated["refreshToken"]}, token=rotated["accessToken"]
    )
    assert status == 204
    status, error = stack.call("GET", "/api/company", token=rotated["accessToken"])
    assert status == 401 and error["error"] == "token_revoked"
