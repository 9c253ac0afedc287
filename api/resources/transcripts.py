"""A ticket's conversation as plain text (workers/transcripts.py): downloaded, or e-mailed (to the customer who asks
for it, or a colleague). Whoever sees the ticket; programs with `tickets:read` to download, `tickets:write` to send."""

from __future__ import annotations

from flask import Blueprint, Response
from pydantic import EmailStr

from api.endpoint import endpoint
from api.errors import EmailOff
from api.resources.tickets import READ_SCOPE, WRITE_SCOPE
from api.schemas import JobAccepted, Schema
from api.scoping import visible_ticket
from api.security import current_principal
from workers.emails import email_configured
from workers.jobs import enqueue_job
from workers.transcripts import email_transcript, transcript

blueprint = Blueprint("transcripts", __name__, url_prefix="/api/tickets")


class TranscriptEmailIn(Schema):
    email: EmailStr


@blueprint.get("/<int:ticket_id>/transcript")
@endpoint(summary="The ticket's conversation as plain text (a download): who said what and when, without the "
          "private notes", tags=["tickets"], errors=[404], scope=READ_SCOPE)
def download_transcript(ticket_id: int):
    ticket = visible_ticket(ticket_id)
    return Response(transcript(ticket), mimetype="text/plain",
                    headers={"Content-Disposition": f'attachment; filename="conversation-{ticket.id}.txt"'})


@blueprint.post("/<int:ticket_id>/transcript")
@endpoint(summary="E-mail the ticket's conversation as plain text: 202 with a job", tags=["tickets"],
          body=TranscriptEmailIn, response=JobAccepted, status=202, errors=[404, 503], enqueues=True, scope=WRITE_SCOPE)
def send_transcript(ticket_id: int, body: TranscriptEmailIn):
    ticket = visible_ticket(ticket_id)
    if not email_configured():
        raise EmailOff("the conversation cannot be e-mailed: download it instead")
    principal = current_principal()
    job = enqueue_job(email_transcript, ticket.id, str(body.email), company_id=principal.company_id,
                      user_id=principal.user.id if principal.user else None)
    return JobAccepted(job_id=job.id)
