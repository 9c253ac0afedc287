"""Checking numbers on WhatsApp before writing to them (Evolution API's `whatsappNumbers`).

`POST /api/contacts/check-whatsapp` answers 202 with a job; the connection's session asks WhatsApp
(workers/number_check.py) and the job's result says, per number, whether it is on WhatsApp. The company's
contacts with those numbers keep the answer (`onWhatsapp`, `whatsappCheckedAt`), and campaigns skip the
ones that are not. Up to 1,000 numbers a request: WhatsApp watches numbers that look up many others.
"""

from __future__ import annotations

import dramatiq
from flask import Blueprint
from pydantic import Field

from api.endpoint import endpoint
from api.errors import Conflict, ValidationFailed
from api.resources.messages import pick_connection
from api.schemas import JobAccepted, Schema
from api.security import current_principal
from db.companies import Company
from db.connections import Connection
from wharf.phones import InvalidPhone, to_e164
from workers.jobs import enqueue_job
from workers.messages import gateway_queue
from workers.number_check import check_numbers

blueprint = Blueprint("number_check", __name__)


class OnConnection(Schema):
    """A body naming the number whose session does the job."""

    connection_id: int | None = Field(None, description="the number that asks WhatsApp; default: the company's "
                                      "default connection")


class NumberCheckIn(OnConnection):
    phones: list[str] = Field(min_length=1, max_length=1000, description="in any form; a number without its "
                              "country code is read in the company's default country")


def connection_to_ask(connection_id: int | None) -> Connection:
    """The connection whose session asks WhatsApp: the one named, else the company's default; 409 if it is stopped."""
    connection = pick_connection(connection_id)
    if not connection.enabled:
        raise Conflict("the connection is stopped: start it to ask WhatsApp", {"connectionId": "stopped"})
    return connection


def e164_phones(raw_phones: list[str], company_id: int, field: str = "phones") -> list[str]:
    """The phones in E.164, each once, in the order given; 400 naming every one that is not a number (`field`[i])."""
    country = Company.get_by_id(company_id).default_country
    phones, invalid = {}, {}
    for index, raw in enumerate(raw_phones):
        try:
            phones[to_e164(raw, country)] = None
        except InvalidPhone as error:
            invalid[f"{field}[{index}]"] = str(error)
    if invalid:
        raise ValidationFailed("some phones are not valid numbers", invalid)
    return list(phones)


def connection_job(connection: Connection, actor: dramatiq.Actor, *args) -> JobAccepted:
    """Queue `actor(connection id, *args)` as the caller's job on the connection's session: 202."""
    principal = current_principal()
    job = enqueue_job(actor, connection.id, *args, company_id=principal.company_id,
                      user_id=principal.user.id if principal.user else None, queue_name=gateway_queue(connection.id))
    return JobAccepted(job_id=job.id)


def session_job(connection: Connection, actor: dramatiq.Actor, *args) -> JobAccepted:
    """`connection_job` of an actor that takes the company's id after the connection's."""
    return connection_job(connection, actor, current_principal().company_id, *args)


@blueprint.post("/api/contacts/check-whatsapp")
@endpoint(summary="Check which numbers are on WhatsApp: 202 with a job whose result lists "
          "{phone, onWhatsapp}; contacts with those numbers keep the answer", tags=["contacts"], body=NumberCheckIn,
          response=JobAccepted, status=202, errors=[404, 409, 422], enqueues=True, scope="contacts:write")
def check_whatsapp(body: NumberCheckIn):
    phones = e164_phones(body.phones, current_principal().company_id)
    return session_job(connection_to_ask(body.connection_id), check_numbers, phones)
