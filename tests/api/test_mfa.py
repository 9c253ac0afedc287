"""Two-step login: a user turns it on with their authenticator app's first code (and gets ten recovery codes, shown
once); from then on a login wants the app's code after the password, each code good once, or a recovery code, each
good once; turning it off takes the password and a code; an admin turns it off for a user who lost their phone."""

from __future__ import annotations

import time

import pyotp
import pytest
from click.testing import CliRunner

from db.audit import AuditLog
from db.users import User
from tests.factories import PASSWORD
from wharf.cli import main


@pytest.fixture
def agent(factories, company):
    return factories.user(company, role="agent", email="bia@example.com")


@pytest.fixture
def as_agent(app, factories, agent):
    return factories.auth_headers(app, agent)


def login(client, code: str | None = None, password: str = PASSWORD):
    body = {"email": "bia@example.com", "password": password, **({"code": code} if code else {})}
    return client.post("/api/auth/login", json=body)


def next_code(secret: str) -> str:
    """The app's code a step (30 s) from now: taken once the current one was."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def turned_on(client, headers) -> tuple[str, list[str], str]:
    """Two-step login on: the secret, the recovery codes, and the app's code that confirmed it (taken)."""
    secret = client.post("/api/profile/mfa", headers=headers).get_json()["secret"]
    first = pyotp.TOTP(secret).now()
    answer = client.post("/api/profile/mfa/confirm", json={"code": first}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return secret, answer.get_json()["recoveryCodes"], first


def test_it_is_turned_on_with_the_app_s_first_code_and_shows_the_recovery_codes_once(client, agent, as_agent):
    setup = client.post("/api/profile/mfa", headers=as_agent).get_json()
    assert setup["otpauthUri"].startswith("otpauth://totp/Wharf:bia%40example.com?secret=" + setup["secret"])

    wrong = client.post("/api/profile/mfa/confirm", json={"code": "000000"}, headers=as_agent)
    assert (wrong.status_code, wrong.get_json()["error"]) == (400, "invalid_mfa_code")
    assert client.get("/api/profile", headers=as_agent).get_json()["mfaEnabled"] is False

    right = client.post("/api/profile/mfa/confirm", json={"code": pyotp.TOTP(setup["secret"]).now()}, headers=as_agent)

    codes = right.get_json()["recoveryCodes"]
    assert len(set(codes)) == 10 and all(len(code) == 11 and code[5] == "-" for code in codes)
    assert client.get("/api/profile", headers=as_agent).get_json()["mfaEnabled"] is True
    assert client.post("/api/profile/mfa", headers=as_agent).status_code == 409
    stored = User.get_by_id(agent.id)
    assert setup["secret"] not in stored.mfa_secret_encrypted and not set(codes) & set(stored.mfa_recovery_hashes)
    [log] = AuditLog.select().where(AuditLog.entity == "user", AuditLog.entity_id == agent.id)
    assert (log.before, log.after) == ({"mfa": "off"}, {"mfa": "on"})


def test_a_login_wants_a_code_after_the_password_and_no_code_works_twice(client, as_agent):
    secret, _, first = turned_on(client, as_agent)

    assert login(client).get_json()["error"] == "mfa_required"
    assert login(client, code="123456").get_json()["error"] == "invalid_mfa_code"
    assert login(client, code=first).status_code == 401  # taken by the confirmation (a step may have passed since)
    assert login(client, code=next_code(secret), password="wrong").get_json()["error"] == "invalid_credentials"
    code = next_code(secret)
    assert login(client, code=code).status_code == 200
    assert login(client, code=code).get_json()["error"] == "invalid_mfa_code"


def test_each_recovery_code_logs_in_once_however_it_is_typed(client, as_agent):
    _, codes, _ = turned_on(client, as_agent)

    assert login(client, code=codes[0]).status_code == 200
    assert login(client, code=codes[0]).status_code == 401
    assert login(client, code=codes[1].replace("-", "").upper()).status_code == 200
    renewed = client.post("/api/profile/mfa/recovery-codes", json={"code": codes[2]}, headers=as_agent).get_json()
    assert login(client, code=codes[3]).status_code == 401  # the old ones are dead
    assert login(client, code=renewed["recoveryCodes"][0]).status_code == 200


def test_turning_it_off_takes_the_password_and_a_code(client, as_agent):
    secret, _, _ = turned_on(client, as_agent)

    no_password = client.post("/api/profile/mfa/disable", json={"password": "wrong", "code": next_code(secret)},
                              headers=as_agent)
    no_code = client.post("/api/profile/mfa/disable", json={"password": PASSWORD, "code": "999999"},
                          headers=as_agent)
    done = client.post("/api/profile/mfa/disable", json={"password": PASSWORD, "code": next_code(secret)},
                       headers=as_agent)

    assert (no_password.get_json()["error"], no_code.get_json()["error"], done.status_code) == (
        "invalid_password", "invalid_mfa_code", 204)
    assert login(client).status_code == 200
    assert client.post("/api/profile/mfa/disable", json={"password": PASSWORD, "code": "123456"},
                       headers=as_agent).status_code == 409


def test_an_admin_turns_it_off_for_a_user_who_lost_their_phone(app, client, factories, company, agent, as_agent,
                                                                headers):
    turned_on(client, as_agent)
    colleague = factories.auth_headers(app, factories.user(company, role="agent"))

    assert client.delete(f"/api/users/{agent.id}/mfa", headers=colleague).status_code == 403
    assert client.delete(f"/api/users/{agent.id}/mfa", headers=headers).status_code == 204
    assert login(client).status_code == 200
    assert client.delete(f"/api/users/{agent.id}/mfa", headers=headers).status_code == 409
    assert client.get(f"/api/users/{agent.id}", headers=headers).get_json()["mfaEnabled"] is False


def test_programs_cannot_touch_anyone_s_two_step_login(client, factories, company):
    key = {"X-API-Key": factories.api_key(company, ["tickets:write", "contacts:write"])}

    assert client.post("/api/profile/mfa", headers=key).status_code == 403


def test_codes_are_tried_ten_times_in_a_quarter_of_an_hour_at_most(client, as_agent):
    secret, _, _ = turned_on(client, as_agent)  # one tried

    answers = [client.post("/api/profile/mfa/recovery-codes", json={"code": f"{n:06d}"}, headers=as_agent).status_code
               for n in range(10)]

    assert answers == [400] * 9 + [429]
    assert login(client, code=next_code(secret)).status_code == 429  # the right code too, for now


def test_where_the_company_requires_it_a_user_without_it_reaches_only_its_setup(client, factories, company, agent,
                                                                                as_agent, headers):
    key = {"X-API-Key": factories.api_key(company, ["tickets:read"])}
    refused = client.patch("/api/settings", json={"mfaRequired": True}, headers=headers)
    assert (refused.status_code, refused.get_json()["details"]) == (409, {"mfaRequired": "yours is off"})
    turned_on(client, headers)  # the admin's own first
    assert client.patch("/api/settings", json={"mfaRequired": True}, headers=headers).status_code == 200

    refused = client.get("/api/tickets", headers=as_agent)
    assert (refused.status_code, refused.get_json()["error"]) == (403, "mfa_setup_required")
    assert client.get("/api/profile", headers=as_agent).get_json()["mfaEnabled"] is False
    assert client.get("/api/tickets", headers=key).status_code == 200  # programs log in with no phone
    turned_on(client, as_agent)
    assert client.get("/api/tickets", headers=as_agent).status_code == 200


def test_the_server_s_shell_turns_it_off_for_a_company_s_only_admin(client, admin, headers):
    turned_on(client, headers)

    done = CliRunner().invoke(main, ["reset-mfa", admin.email.upper()])
    again = CliRunner().invoke(main, ["reset-mfa", admin.email])

    assert done.exit_code == 0 and "two-step login off" in done.output
    assert again.exit_code == 1 and "off already" in again.output
    assert User.get_by_id(admin.id).mfa_enabled is False
    logs = AuditLog.select().where(AuditLog.entity == "user", AuditLog.entity_id == admin.id).order_by(AuditLog.id)
    assert [(log.user_id, log.after) for log in logs][-1] == (None, {"mfa": "off"})
