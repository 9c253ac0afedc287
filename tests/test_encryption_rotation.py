"""Rotating ENCRYPTION_SECRET: stored keys (AI keys, users' authenticator secrets) decrypt under the previous secret until `wharf rotate-encryption`
encrypts them under the new one; a key that no given secret opens is named, not lost silently."""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

import wharf.settings
from db.ai_settings import AiSettings
from db.users import User
from wharf.cli import main
from wharf.encryption import UndecryptableSecret, decrypt, encrypt


def use_secrets(monkeypatch, current: str, *previous: str) -> None:
    monkeypatch.setattr(wharf.settings, "settings", dataclasses.replace(
        wharf.settings.settings, encryption_secret=current, encryption_secret_previous=previous))


def stored_key(company, key: str) -> AiSettings:
    settings = AiSettings(company=company)
    settings.set_api_key(key)
    settings.save()
    return settings


def test_a_rotation_keeps_every_key_readable_and_ends_with_the_new_secret_alone(factories, monkeypatch):
    use_secrets(monkeypatch, "old-secret")
    first, second = factories.company(), factories.company()
    stored_key(first, "sk-first-1234")
    stored_key(second, "sk-second-5678")
    with_app = factories.user(first, mfa_secret_encrypted=encrypt("JBSWY3DPEHPK3PXP"))  # an authenticator's secret

    use_secrets(monkeypatch, "new-secret", "old-secret")
    assert AiSettings.get(AiSettings.company == first).provider_key() == "sk-first-1234"  # still readable
    result = CliRunner().invoke(main, ["rotate-encryption"])

    assert result.exit_code == 0 and "3 stored secret(s)" in result.output
    use_secrets(monkeypatch, "new-secret")
    assert [AiSettings.get(AiSettings.company == c).provider_key() for c in (first, second)] == [
        "sk-first-1234", "sk-second-5678"]
    assert decrypt(User.get_by_id(with_app.id).mfa_secret_encrypted) == "JBSWY3DPEHPK3PXP"


def test_a_key_under_a_secret_not_given_is_named_and_left_as_it_is(factories, monkeypatch):
    use_secrets(monkeypatch, "forgotten-secret")
    lost = stored_key(factories.company(), "sk-lost-0000")
    token = lost.api_key_encrypted

    use_secrets(monkeypatch, "new-secret", "old-secret")
    result = CliRunner().invoke(main, ["rotate-encryption"])

    assert result.exit_code == 1 and f"companies {lost.company_id}" in result.output
    assert "users" not in result.output  # no authenticator secret is lost
    assert AiSettings.get_by_id(lost.id).api_key_encrypted == token
    with pytest.raises(UndecryptableSecret):
        decrypt(token)
