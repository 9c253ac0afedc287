"""A ticket's conversation as plain text (Chatwoot's "send transcript"): to download, or e-mailed to anyone, the
customer included. Who said what and when, in the company's timezone; files by their names, shared places and cards
in words, a message deleted for everyone as such. Private notes are never in it.

The e-mail is sent once per job: a job run again after its e-mail went (a worker that died before it was acked)
finds the mark it left and sends nothing more.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dramatiq
from dramatiq.middleware import CurrentMessage

from db.companies import Company
from db.contacts import Contact
from db.messages import Message
from db.tickets import Ticket
from db.users import User
from wharf.redis_client import redis_client
from workers.emails import deliver_email
from workers.jobs import ASKED_SECONDS

# What a file's line says, by message type
FILE_WORDS = {"image": "image", "video": "video", "audio": "audio", "document": "file", "sticker": "sticker"}


def transcript(ticket: Ticket) -> str:
    """The ticket's messages, oldest first, one line each (a text's own lines indented under it)."""
    company = Company.get_by_id(ticket.company_id)
    contact = Contact.get_by_id(ticket.contact_id)
    zone = ZoneInfo(company.timezone)
    agents = dict(User.select(User.id, User.name).where(User.company == company.id).tuples())
    named = f"{contact.name} ({contact.phone})" if contact.name and contact.name != contact.phone else contact.phone
    lines = [f"Conversation #{ticket.id} with {named}, {company.name}",
             f"Times in {company.timezone}", ""]
    messages = Message.select().where(Message.ticket == ticket.id, Message.private == False).order_by(  # noqa: E712
        Message.created_at, Message.id)
    for message in messages:
        when = message.created_at.replace(tzinfo=dt.UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M")
        said = said_by(message, contact, agents, company.name)
        lines.append(f"[{when}] {said}: " + "\n    ".join(words_of(message).splitlines() or [""]))
    return "\n".join(lines) + "\n"


def said_by(message: Message, contact: Contact, agents: dict[int, str], company: str) -> str:
    """The contact (in a group, the member), the agent, or the company for what no agent wrote (a bot, a greeting, a
    program, the phone itself)."""
    if message.direction == "in":
        return message.sender_name or message.sender_phone or contact.name or contact.phone
    return agents.get(message.user_id, company)


def words_of(message: Message) -> str:
    if message.deleted_at is not None:
        return "(deleted)"
    if message.media_path or message.type in FILE_WORDS:
        kind = FILE_WORDS.get(message.type, "file")
        named = f"[{kind}: {message.media_name}]" if message.media_name else f"[{kind}]"
        return f"{named} {message.body}".strip()
    return message.body


@dramatiq.actor(queue_name="emails", max_retries=5)
def email_transcript(ticket_id: int, to: str) -> dict:
    """E-mail the ticket's transcript to `to`, once."""
    ticket = Ticket.get_or_none(Ticket.id == ticket_id)
    if ticket is None:
        return {"skipped": "ticket deleted"}
    mark = f"wharf:transcript-sent:{CurrentMessage.get_current_message().message_id}"
    if redis_client().exists(mark):
        return {"ticketId": ticket_id, "to": to, "sent": "before"}
    deliver_email(to, f"Your conversation #{ticket.id}", transcript(ticket))
    redis_client().set(mark, 1, ex=ASKED_SECONDS)
    return {"ticketId": ticket_id, "to": to, "sent": True}
