"""Contacts' WhatsApp profile pictures on demand (Evolution API's `fetchProfilePictureUrl`).

`POST /api/contacts/:id/profile-picture` answers 202 with a job: the connection's session asks WhatsApp for the
contact's details now (workers/contact_details.py), which are otherwise checked when the contact writes, once a day
at most. The job's result says which picture WhatsApp shows (`pictureId`, null for none or hidden) and whether it
is new (`downloading`), and of a group its subject (`name`), its name from then on; the contact's `profilePicUrl`
opens the picture once downloaded.
"""

from __future__ import annotations

from flask import Blueprint

from api.endpoint import endpoint
from api.resources.number_check import OnConnection, connection_job, connection_to_ask
from api.schemas import JobAccepted
from api.scoping import get_owned
from db.contacts import Contact
from workers.contact_details import check_contact_details

blueprint = Blueprint("profile_pictures", __name__)


@blueprint.post("/api/contacts/<int:contact_id>/profile-picture")
@endpoint(summary="Fetch the contact's WhatsApp profile picture now: 202 with a job whose result says which picture "
          "WhatsApp shows (`pictureId`, null: none or hidden), and of a group its subject (`name`), its name from then "
          "on; the contact's `profilePicUrl` opens the picture",
          tags=["contacts"], body=OnConnection, optional_body=True, response=JobAccepted, status=202,
          errors=[404, 409, 422], enqueues=True, scope="contacts:write")
def fetch_profile_picture(contact_id: int, body: OnConnection | None):
    contact = get_owned(Contact, contact_id, "contact")
    return connection_job(connection_to_ask(body.connection_id if body else None), check_contact_details, contact.id)
