"""Opt-out by message: a contact who sends one of the company's opt-out keywords is put on its list.

The whole message must be the keyword (case and surrounding punctuation aside), so "don't stop
sending me the menu" opts nobody out. The company's `opt_out_reply` is sent once, when the number
is put on the list; a second STOP changes nothing and answers nothing.
"""

from __future__ import annotations

import string

from db.base import database
from db.company_settings import company_setting
from db.contacts import Contact
from db.messages import Message
from db.opt_outs import opt_out
from db.tickets import Ticket
from workers.messages import auto_reply_key, dispatch_outbound, write_outbound


def opt_out_keyword(body: str, keywords: list[str]) -> str | None:
    word = body.strip().strip(string.punctuation + " ").casefold()
    return word if word and word in keywords else None


def handle_opt_out_message(ticket: Ticket, contact: Contact, message: Message,
                           keywords: list[str] | None = None) -> bool:
    """True when the message was an opt-out keyword (routing and flows then leave it alone).
    `keywords`: the company's opt-out keywords, when the caller read them already (for many messages)."""
    if keywords is None:
        keywords = company_setting(ticket.company_id, "opt_out_keywords")
    keyword = opt_out_keyword(message.body, keywords)
    if keyword is None:
        return False
    reply = company_setting(ticket.company_id, "opt_out_reply")
    with database.atomic():  # the reply commits with the opt-out: a redelivery finds both or neither
        added = opt_out(contact, source="keyword", keyword=keyword)
        answer = write_outbound(ticket, reply, idempotency_key=auto_reply_key(message)) if added and reply else None
    if answer is not None:
        dispatch_outbound(answer)
    return True
