"""Rows and logged-in clients for tests, built through the real models and the real API."""

from __future__ import annotations

import itertools

from api.security import hash_password, issue_tokens
from db.companies import Company, Plan
from db.users import User

_sequence = itertools.count(1)
PASSWORD = "correct horse battery"
_PASSWORD_HASH = hash_password(PASSWORD)


class Factories:
    def plan(self, **fields) -> Plan:
        n = next(_sequence)
        return Plan.create(**{"name": f"Plan {n}", "max_users": 10, **fields})

    def company(self, **fields) -> Company:
        n = next(_sequence)
        return Company.create(**{"name": f"Company {n}", **fields})

    def user(self, company: Company | None = None, role: str = "admin", **fields) -> User:
        n = next(_sequence)
        return User.create(
            **{
                "company": company or self.company(),
                "name": f"User {n}",
                "email": f"user{n}@example.com",
                "password_hash": _PASSWORD_HASH,
                "role": role,
                **fields,
            }
        )

    def auth_headers(self, app, user: User) -> dict[str, str]:
        with app.app_context():
            token = issue_tokens(user)["accessToken"]
        return {"Authorization": f"Bearer {token}"}

    def queue(self, company: Company, **fields):
        from db.queues import Queue

        n = next(_sequence)
        return Queue.create(**{"company": company, "name": f"Queue {n}", **fields})

    def connection(self, company: Company, **fields):
        from db.connections import Connection

        n = next(_sequence)
        return Connection.create(**{"company": company, "name": f"Phone {n}", "transport": "simulator", **fields})

    def contact(self, company: Company, **fields):
        from db.contacts import Contact

        n = next(_sequence)
        return Contact.create(**{"company": company, "name": f"Contact {n}", "phone": f"+551199{n:07d}", **fields})

    def ticket(self, company: Company, **fields):
        from db.tickets import Ticket

        contact = fields.pop("contact", None) or self.contact(company)
        return Ticket.create(**{"company": company, "contact": contact, **fields})

    def webhook(self, company: Company, **fields):
        """A webhook row, and this process's subscription cache told, as the API does."""
        from db.webhooks import Webhook
        from workers.webhooks import subscriptions

        webhook = Webhook.create(**{
            "company": company, "url": "https://93.184.215.14/hooks", "events": ["*"],
            "secret": "test-secret-0123456789", **fields,
        })
        subscriptions.invalidate()
        return webhook

    def lead(self, company: Company, **fields):
        from db.leads import Lead

        n = next(_sequence)
        return Lead.create(**{"company": company, "name": f"Lead {n}", **fields})

    def api_key(self, company: Company, scopes: list[str], **fields) -> str:
        """A stored API key with these scopes; returns the key a program sends."""
        from api.security import api_key_hash, new_api_key
        from db.api_keys import ApiKey

        key, prefix = new_api_key()
        ApiKey.create(**{"company": company, "name": f"Key {next(_sequence)}", "prefix": prefix,
                         "key_hash": api_key_hash(key), "scopes": scopes, **fields})
        return key

    def tag(self, company: Company, **fields):
        from db.contacts import Tag

        n = next(_sequence)
        return Tag.create(**{"company": company, "name": f"Tag {n}", **fields})

    def contact_list(self, company: Company, **fields):
        from db.contact_lists import ContactList

        n = next(_sequence)
        return ContactList.create(**{"company": company, "name": f"List {n}", **fields})

    def contact_field(self, company: Company, key: str, type: str = "text", **fields):
        from db.contacts import ContactField

        return ContactField.create(**{"company": company, "key": key, "label": key.replace("_", " ").title(),
                                      "type": type, **fields})

    def campaign(self, company: Company, **fields):
        from db.campaigns import Campaign

        n = next(_sequence)
        return Campaign.create(**{"company": company, "name": f"Campaign {n}", "messages": ["Hi {{firstName}}!"],
                                  **fields})

    def message(self, ticket, **fields):
        """A message of the ticket (inbound unless `direction` says otherwise)."""
        from db.messages import Message

        n = next(_sequence)
        defaults = {"company": ticket.company_id, "ticket": ticket, "connection": ticket.connection_id}
        defaults.update(contact=ticket.contact_id, direction="in", body=f"Message {n}", wa_id=f"WA{n}")
        return Message.create(**{**defaults, **fields})

    def shipping(self, campaign, message=None, **fields):
        """A ledger row of the campaign, for a new contact; `sent` and linked when a message is given."""
        from db.campaigns import CampaignShipping

        contact = fields.pop("contact", None) or self.contact(campaign.company)
        status = "sent" if message else "queued"
        return CampaignShipping.create(
            **{"campaign": campaign, "contact": contact, "message": message, "status": status, **fields}
        )
