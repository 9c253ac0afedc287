"""Internal chat between a company's users (db/chats.py), as Whaticket's "Chat Interno": an agent asks a supervisor
about a customer without leaving Wharf, and nothing of it reaches WhatsApp.

A direct chat is one per pair of users (asking for it again gives the same one); a group chat has a title, its
creator (or an admin or supervisor) renames it and adds or removes people, and anyone leaves it. Only members see a chat
(another's is a 404). Each message is pushed to every member's realtime clients as `chat:message`; a member's unread
count is what others wrote since they last read the chat (`POST /:id/read`; writing reads it too). Users only: API keys
have no chats.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import peewee
from flask import Blueprint
from peewee import fn
from pydantic import Field, model_validator

from api.endpoint import endpoint
from api.errors import Conflict, Forbidden, NotFound, ValidationFailed
from api.pagination import paginate
from api.resources.queues import owned_ids
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, page_of
from api.security import current_principal
from db.base import database, utcnow
from db.chats import Chat, ChatMember, ChatMessage
from db.users import User
from wharf.realtime import emit_event, emitted_together

blueprint = Blueprint("chats", __name__, url_prefix="/api/chats")
MOST_MEMBERS = 50
EDITORS = ("super", "admin", "supervisor")  # besides a group chat's creator


class ChatCreate(Schema):
    user_ids: list[int] = Field(min_length=1, max_length=MOST_MEMBERS - 1, description="the others in it")
    title: str | None = Field(None, min_length=1, max_length=100, description="a group chat's; without it, one "
                              "other user makes the direct chat with them (the same one each time)")

    @model_validator(mode="after")
    def titled_when_several(self) -> ChatCreate:
        if self.title is None and len(set(self.user_ids)) > 1:
            raise ValueError("a chat of several people has a title")
        return self


class ChatChange(Schema):
    title: str | None = Field(None, min_length=1, max_length=100)
    add_user_ids: list[int] = Field([], max_length=MOST_MEMBERS)
    remove_user_ids: list[int] = Field([], max_length=MOST_MEMBERS)


class ChatMessageIn(Schema):
    body: str = Field(min_length=1, max_length=4096)


class ChatMemberOut(OutSchema):
    id: int
    name: str
    online_status: str


class ChatMessageOut(OutSchema):
    id: int
    chat_id: int
    user_id: int | None = Field(description="its author; null once they were deleted")
    body: str
    created_at: UtcDateTime


class ChatOut(OutSchema):
    id: int
    title: str | None = Field(description="a group chat's; null for a direct chat (named by the other person)")
    direct: bool
    created_by_id: int | None
    members: list[ChatMemberOut]
    last_message: ChatMessageOut | None
    unread: int = Field(description="messages others wrote since you last read it")
    created_at: UtcDateTime
    last_message_at: UtcDateTime | None


def my_chats() -> peewee.ModelSelect:
    principal = current_principal()
    return (Chat.select().join(ChatMember).where(ChatMember.user == principal.user.id,
                                                  Chat.company == principal.company_id))


def my_chat(chat_id: int) -> Chat:
    chat = my_chats().where(Chat.id == chat_id).first()
    if chat is None:
        raise NotFound("chat")
    return chat


class ChatJson:
    """A chat as the caller sees it; a page of them at once (`api.pagination.paginate`), their members, last messages
    and unread counts read in one query each."""

    def __call__(self, chat: Chat) -> dict:
        return self.page([chat])[0]

    def page(self, chats: list[Chat]) -> list[dict]:
        ids, me = [chat.id for chat in chats], current_principal().user.id
        members = defaultdict(list)
        for link in (ChatMember.select(ChatMember.chat, User).join(User).where(ChatMember.chat.in_(ids))
                     .order_by(User.name)):
            members[link.chat_id].append(link.user)
        newest = ChatMessage.select(fn.MAX(ChatMessage.id)).where(ChatMessage.chat.in_(ids)).group_by(ChatMessage.chat)
        last = {message.chat_id: message for message in ChatMessage.select().where(ChatMessage.id.in_(newest))}
        unread = dict(ChatMessage.select(ChatMessage.chat, fn.COUNT(ChatMessage.id))
                      .join(ChatMember, on=(ChatMember.chat == ChatMessage.chat))
                      .where(ChatMember.user == me, ChatMessage.chat.in_(ids),
                             ChatMessage.created_at > ChatMember.last_read_at,
                             ChatMessage.user.is_null() | (ChatMessage.user != me))
                      .group_by(ChatMessage.chat).tuples())
        return [ChatOut(id=chat.id, title=chat.title, direct=chat.direct_key is not None,
                        created_by_id=chat.created_by_id,
                        members=[ChatMemberOut.model_validate(user) for user in members[chat.id]],
                        last_message=ChatMessageOut.model_validate(last[chat.id]) if chat.id in last else None,
                        unread=unread.get(chat.id, 0), created_at=chat.created_at,
                        last_message_at=chat.last_message_at).to_json() for chat in chats]


chat_json = ChatJson()


def colleagues(user_ids: list[int], field: str) -> list[int]:
    """The active users of the caller's company named (a 400 naming the others), the caller left out."""
    ids = owned_ids(User, user_ids, field)
    inactive = [user.id for user in User.select(User.id).where(User.id.in_(ids), User.active == False)]  # noqa: E712
    if inactive:
        raise ValidationFailed("some users are deactivated", {field: f"deactivated: {inactive}"})
    return [user_id for user_id in ids if user_id != current_principal().user.id]


@blueprint.get("")
@endpoint(summary="Your chats with colleagues, the latest active first", tags=["chats"], query=PageQuery,
          response=page_of(ChatOut))
def list_chats(query: PageQuery):
    chats = my_chats().order_by(fn.COALESCE(Chat.last_message_at, Chat.created_at).desc(), Chat.id.desc())
    return paginate(chats, query, chat_json)


@blueprint.post("")
@endpoint(summary="Start a chat: with one colleague, your direct chat with them (the same one each time); with a "
                  "title, a group chat", tags=["chats"], body=ChatCreate, response=ChatOut, status=201)
def create_chat(body: ChatCreate):
    principal = current_principal()
    others = colleagues(body.user_ids, "userIds")
    if not others:
        raise ValidationFailed("a chat needs someone besides you", {"userIds": "only you"})
    direct_key = ":".join(map(str, sorted((principal.user.id, others[0])))) if body.title is None else None
    if direct_key is not None:
        existing = Chat.get_or_none(Chat.company == principal.company_id, Chat.direct_key == direct_key)
        if existing is not None:
            return chat_json(existing), 200
    try:
        with database.atomic():
            chat = Chat.create(company=principal.company_id, title=body.title, direct_key=direct_key,
                               created_by=principal.user.id)
            ChatMember.insert_many([{"chat": chat.id, "user": user_id} for user_id in [principal.user.id, *others]]
                                   ).execute()
    except peewee.IntegrityError:  # the same direct chat, started by the other person meanwhile
        return chat_json(Chat.get(Chat.company == principal.company_id, Chat.direct_key == direct_key)), 200
    return chat_json(chat)


@blueprint.get("/<int:chat_id>")
@endpoint(summary="One of your chats", tags=["chats"], response=ChatOut, errors=[404])
def show_chat(chat_id: int):
    return chat_json(my_chat(chat_id))


@blueprint.patch("/<int:chat_id>")
@endpoint(summary="Rename a group chat, add or remove people (its creator, admins and supervisors)", tags=["chats"],
          body=ChatChange, response=ChatOut, errors=[403, 404, 409])
def change_chat(chat_id: int, body: ChatChange):
    chat, principal = my_chat(chat_id), current_principal()
    if chat.direct_key is not None:
        raise Conflict("a direct chat stays between its two people: start a group chat")
    if chat.created_by_id != principal.user.id and principal.role not in EDITORS:
        raise Forbidden("only the chat's creator, admins and supervisors change it")
    added = colleagues(body.add_user_ids, "addUserIds")
    removed = [user_id for user_id in owned_ids(User, body.remove_user_ids, "removeUserIds")
               if user_id != principal.user.id]  # to leave: POST /:id/leave
    with database.atomic():
        if body.title is not None:
            chat.title = body.title
            chat.save()
        if added:
            ChatMember.insert_many([{"chat": chat.id, "user": user_id} for user_id in added]).on_conflict_ignore().execute()
        if removed:
            ChatMember.delete().where(ChatMember.chat == chat.id, ChatMember.user.in_(removed)).execute()
    return chat_json(chat)


@blueprint.post("/<int:chat_id>/leave")
@endpoint(summary="Leave a group chat", tags=["chats"], status=204, errors=[404, 409])
def leave_chat(chat_id: int):
    chat = my_chat(chat_id)
    if chat.direct_key is not None:
        raise Conflict("a direct chat cannot be left")
    ChatMember.delete().where(ChatMember.chat == chat.id, ChatMember.user == current_principal().user.id).execute()
    return "", 204


@blueprint.get("/<int:chat_id>/messages")
@endpoint(summary="A chat's messages, oldest first", tags=["chats"], query=PageQuery,
          response=page_of(ChatMessageOut), errors=[404])
def chat_messages(chat_id: int, query: PageQuery):
    chat = my_chat(chat_id)
    messages = ChatMessage.select().where(ChatMessage.chat == chat.id).order_by(ChatMessage.id)
    return paginate(messages, query, lambda message: ChatMessageOut.model_validate(message).to_json())


@blueprint.post("/<int:chat_id>/messages")
@endpoint(summary="Write in a chat: pushed to its members as `chat:message`", tags=["chats"], body=ChatMessageIn,
          response=ChatMessageOut, status=201, errors=[404])
def write_in_chat(chat_id: int, body: ChatMessageIn):
    chat, principal = my_chat(chat_id), current_principal()
    with database.atomic():
        message = ChatMessage.create(chat=chat.id, user=principal.user.id, body=body.body)
        Chat.update(last_message_at=message.created_at, updated_at=utcnow()).where(Chat.id == chat.id).execute()
        read_up_to(chat, message.created_at)
    shown = ChatMessageOut.model_validate(message).to_json()
    members = [row.user_id for row in ChatMember.select(ChatMember.user).where(ChatMember.chat == chat.id)]
    with emitted_together():
        for user_id in members:
            emit_event("chat:message", shown, company_id=principal.company_id, user_id=user_id)
    return shown


@blueprint.post("/<int:chat_id>/read")
@endpoint(summary="Mark the chat read (your unread count goes to 0)", tags=["chats"], response=ChatOut, errors=[404])
def read_chat(chat_id: int):
    chat = my_chat(chat_id)
    read_up_to(chat, utcnow())
    return chat_json(chat)


def read_up_to(chat: Chat, at: dt.datetime) -> None:
    ChatMember.update(last_read_at=at).where(ChatMember.chat == chat.id,
                                             ChatMember.user == current_principal().user.id).execute()
