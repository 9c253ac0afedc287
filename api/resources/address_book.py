"""Importing the contacts saved on a number's phone (Whaticket's "import contacts", Evolution API's findContacts).

`POST /api/contacts/import-from-phone` answers 202 with a job: the connection's session reads its address book and
each number becomes a contact of the company, named as the phone saved it (workers/address_book.py); the job's
result counts them. Admins and supervisors, as the CSV import; API keys with `contacts:write`.
"""

from __future__ import annotations

from flask import Blueprint

from api.endpoint import endpoint
from api.resources.contacts import BULK_ROLES
from api.resources.number_check import OnConnection, connection_to_ask, session_job
from api.schemas import JobAccepted
from workers.address_book import import_address_book

blueprint = Blueprint("address_book", __name__)


@blueprint.post("/api/contacts/import-from-phone")
@endpoint(summary="Import the contacts saved on a number's phone: 202 with a job whose result counts those found, "
          "created, named (a contact without a name takes the phone's) and left out (numbers WhatsApp hides)",
          tags=["contacts"], body=OnConnection, optional_body=True, response=JobAccepted, status=202,
          roles=BULK_ROLES, errors=[404, 409], enqueues=True, scope="contacts:write")
def import_from_phone(body: OnConnection | None):
    return session_job(connection_to_ask(body.connection_id if body else None), import_address_book)
