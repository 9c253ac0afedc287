"""Internal chat between a company's users, as Whaticket's "Chat Interno": direct chats (two people, one chat between
them) and group chats with a title; never sent to WhatsApp. Each member's `last_read_at` gives their unread count."""

from __future__ import annotations

import peewee

from db.base import BaseModel, TimestampedModel, utcnow
from db.companies import Company
from db.users import User


class Chat(TimestampedModel):
    company = peewee.ForeignKeyField(Company, on_delete="CASCADE")
    title = peewee.CharField(max_length=100, null=True)  # None: a direct chat, named by the other person
    direct_key = peewee.CharField(max_length=40, null=True)  # "3:8", the two users' ids: one direct chat per pair
    created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    last_message_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "chat"
        indexes = ((("company", "direct_key"), True),)


class ChatMember(BaseModel):
    chat = peewee.ForeignKeyField(Chat, backref="members", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    last_read_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "chat_member"
        indexes = ((("chat", "user"), True), (("user",), False))


class ChatMessage(BaseModel):
    chat = peewee.ForeignKeyField(Chat, backref="messages", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")  # None: its author was deleted
    body = peewee.TextField()
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "chat_message"
        indexes = ((("chat", "created_at"), False),)
