"""Each company's AI provider for flows' AI replies: an OpenAI-compatible endpoint, a default model, a key.

The key is kept encrypted (`wharf.encryption`) with its last four characters beside it in clear,
so the API can show which key is set without ever decrypting it; only `provider_key` decrypts,
for the call to the provider. A company that never saved anything reads the defaults and no key.
"""

from __future__ import annotations

import peewee

from db.base import TimestampedModel
from db.companies import Company
from wharf.encryption import decrypt, encrypt

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"


class AiSettings(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="ai_settings", on_delete="CASCADE", unique=True)
    base_url = peewee.CharField(max_length=2048, default=DEFAULT_BASE_URL)
    default_model = peewee.CharField(max_length=100, default=DEFAULT_MODEL)
    api_key_encrypted = peewee.TextField(null=True)  # a Fernet token, never sent back by the API
    api_key_hint = peewee.CharField(max_length=4, null=True)  # the key's last four characters

    class Meta:
        table_name = "ai_settings"

    @property
    def has_api_key(self) -> bool:
        return self.api_key_encrypted is not None

    def set_api_key(self, key: str) -> None:
        """Keep `key` encrypted; an empty key clears it. Saved with the row."""
        self.api_key_encrypted = encrypt(key) if key else None
        self.api_key_hint = key[-4:] if key else None

    def provider_key(self) -> str | None:
        """The key in clear, for the provider only; `UndecryptableSecret` when ENCRYPTION_SECRET changed."""
        return None if self.api_key_encrypted is None else decrypt(self.api_key_encrypted)


def ai_settings_of(company_id: int) -> AiSettings:
    """The company's row, or an unsaved one holding the defaults."""
    return AiSettings.get_or_none(AiSettings.company == company_id) or AiSettings(company=company_id)
