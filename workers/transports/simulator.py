"""A simulated WhatsApp network, so everything runs and is tested without a phone.

The network lives in Redis, so the API (which never holds a session) can look at it and talk to
it, and a gateway crash loses nothing of it:

- `outbox`: what the network received from us, once per WhatsApp id (a resend of the same id is
  dropped, as WhatsApp does), with the edits (`edited`) and deletions (`revoked`) we made to it since.
  Tests count it to prove no loss and no duplicates.
- `reactions`: our reactions the contacts see, by message.
- `receipts`: delivered/read receipts due at a time (a sorted set), sent in batches by the
  session's pump thread when due.
- `commands`: what users and tests ask of the network (a contact sends, edits or reacts to a message, votes on a poll,
  the session drops, a QR login is needed, the number is banned), moved to `processing` while handled so a
  crash re-runs them (inbound handling is idempotent on the WhatsApp id). A backlog of inbound
  messages is taken up to `simulator_session.INBOUND_BATCH` at a time and emitted as one `InboundBatch`; they leave
  `processing` only once the handler (the gateway's dispatch) returned.
- `media`: the files contacts send (up to `wharf.media.MAX_BYTES`), by WhatsApp id, out of their commands: the
  commands stay small (a backlog is read and batched by a script that decodes each), and the session fetches a file
  as a phone downloads one, when it takes its message. A message with a file goes to the handler alone, its file
  inline in base64, as neonize's downloaded media do: one file per Dramatiq message, never a batch of them; the file
  leaves the network with its command.
- `typing`: whether each contact's phone shows us typing (our agents' typing, `set_typing`), until our next message
  reaches it; `watched`: the chats whose own typing the session asked for (`watch_presence`), until its next
  connect, as WhatsApp forgets them. A contact's typing (`inject_typing`) reaches the session only in a watched chat.
- `groups`: the groups the session is in (those whose members wrote to us, and those it created), with their subjects
  (names) as last given (`group_subject`); `group_members`: their members we know of, each with its role
  ("member", "admin", "superadmin"), by `member_field`; `group_details`: the rest of what the session set
  (description, owner, invite code...). The session's group calls are `workers/transports/simulator_groups.py`;
  what other members do to a group, `inject_group_change`.
- `calls`: the calls contacts made to the number, with when the session rejected each (`rejected_calls`).
- `blocklist`: the numbers the session blocked (`set_blocked`); `profile`: the number's own name, "about" text and
  picture as the session last set them.
- `config`: delays, failure rate, numbers not on WhatsApp, contacts' profile pictures, auto-reply; read on every
  send.

The session that sends into it and brings its events back is `workers/transports/simulator_session.py`.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

import redis

from wharf.media import MediaRejected, check_media, message_type_for
from workers.transports.base import ContactCard, Location, Poll, deterministic_wa_id, group_id, option_hash

DEFAULT_CONFIG: dict[str, Any] = {
    "deliveredAfterMs": 300,
    "readAfterMs": 1500,
    "failRate": 0.0,  # share of sends that fail with a transient network error
    "notOnWhatsapp": [],  # numbers whose sends fail for good
    "profilePictures": {},  # {number: its picture's URL, or None: it shows none}; the others show one drawn for them
    "requireQr": False,  # a new session must be "scanned" (a `scan` command) before it connects
    "autoReply": None,  # every contact answers each message with this text
    "banned": False,
    "refuseGroupAdds": [],
    "addressBook": {},  # {number: the name the phone saved them by}: what the session's address book holds  # numbers whose privacy settings let only an invitation add them to a group
}


def key(connection_id: int, name: str) -> str:
    return f"wharf:sim:{connection_id}:{name}"


def read_config(client: redis.Redis, connection_id: int) -> dict[str, Any]:
    stored = client.get(key(connection_id, "config"))
    return {**DEFAULT_CONFIG, **(json.loads(stored) if stored else {})}


def configure(client: redis.Redis, connection_id: int, **changes: Any) -> dict[str, Any]:
    """Change the network's behaviour for a connection (unknown keys are the caller's bug)."""
    unknown = set(changes) - set(DEFAULT_CONFIG)
    if unknown:
        raise ValueError(f"unknown simulator settings: {', '.join(sorted(unknown))}")
    config = {**read_config(client, connection_id), **changes}
    client.set(key(connection_id, "config"), json.dumps(config))
    return config


def push_command(client: redis.Redis, connection_id: int, op: str, **fields: Any) -> None:
    client.lpush(key(connection_id, "commands"), json.dumps({"op": op, **fields}))


def inject_inbound(client: redis.Redis, connection_id: int, phone: str, body: str = "", name: str | None = None,
                   wa_id: str | None = None, *, media: dict[str, Any] | None = None, location: Location | None = None,
                   contact_card: ContactCard | None = None, poll: Poll | None = None, group: str | None = None,
                   group_name: str | None = None, forwarded: bool = False) -> str:
    """A contact sends us a message (`sent_content`), in their chat or, as a member, in the group `group` (its id,
    `group_id`; `group_name` its subject, from now on), `forwarded` as WhatsApp shows one; returns its WhatsApp id (given ids let tests send duplicates).
    A ValueError for what WhatsApp would not carry: a MediaRejected for a file the platform does not take."""
    content = sent_content(body, media, location, contact_card, poll)
    if group is not None:
        content["group"] = group_id(group)
    wa_id = wa_id or deterministic_wa_id(connection_id, "in:" + secrets.token_hex(8))
    if media is not None:  # before its command, which never comes without it
        client.hset(key(connection_id, "media"), wa_id, media["data"])
    if group is not None:
        remember_group(client, connection_id, content["group"], group_name, phone.lstrip("+"))
    push_command(client, connection_id, "inbound", phone=phone.lstrip("+"), name=name, waId=wa_id, at=time.time(),
                 forwarded=forwarded, **content)
    return wa_id


def remember_group(client: redis.Redis, connection_id: int, group: str, name: str | None,
                   member: str | None = None) -> None:
    """The network knows the group from now on, by the subject given (a new one renames it) or by the one it had, with
    the session's number and `member` (digits) among its members (`group_members`)."""
    if name:
        client.hset(key(connection_id, "groups"), group, name)
    else:
        client.hsetnx(key(connection_id, "groups"), group, "")
    for number in filter(None, (session_number(connection_id), member)):
        client.hsetnx(key(connection_id, "group_members"), member_field(group, number), "member")


def inject_group_change(client: redis.Redis, connection_id: int, group: str, by: str, name: str | None = None,
                        add: Sequence[str] = (), remove: Sequence[str] = (), promote: Sequence[str] = (),
                        demote: Sequence[str] = ()) -> None:
    """A member of the group (`by`, digits) renames it (`name`), or adds, removes, promotes to admin or demotes members
    (digits), as WhatsApp tells the session. The session's own number among those added brings the group to it;
    among those removed, the session is out of the group, which it forgets."""
    remember_group(client, connection_id, group, name, by)
    members = key(connection_id, "group_members")
    with client.pipeline() as pipe:
        for number in add:
            pipe.hsetnx(members, member_field(group, number), "member")
        for number, role in [*((number, "admin") for number in promote), *((number, "member") for number in demote)]:
            pipe.hset(members, member_field(group, number), role)
        if session_number(connection_id) in remove:
            forget_group(pipe, client, connection_id, group)
        elif remove:
            pipe.hdel(members, *(member_field(group, number) for number in remove))
        push_command(pipe, connection_id, "group_change", group=group, name=name,
                     membersChanged=bool(add or remove or promote or demote), at=time.time())
        pipe.execute()


def forget_group(pipe: redis.client.Pipeline, client: redis.Redis, connection_id: int, group: str) -> None:
    """Queue on `pipe` the network's forgetting of the group, which the session is out of (a member's next message in
    it brings it back)."""
    pipe.hdel(key(connection_id, "groups"), group)
    pipe.hdel(key(connection_id, "group_details"), group)
    pipe.hdel(key(connection_id, "group_pictures"), group)
    fields = [member_field(group, address) for address in group_roles(client, connection_id, group)]
    if fields:
        pipe.hdel(key(connection_id, "group_members"), *fields)


def group_roles(client: redis.Redis, connection_id: int, group: str) -> dict[str, str]:
    """{address: role} of the group's members the network knows of."""
    prefix = member_field(group, "")
    return {field.decode().removeprefix(prefix): role.decode()
            for field, role in client.hscan_iter(key(connection_id, "group_members"), match=f"{prefix}*")}


def session_number(connection_id: int) -> str:
    """The simulated session's own number, in digits."""
    return f"1555{connection_id:07d}"


def member_field(group: str, address: str) -> str:
    """A group member's field in `group_members`."""
    return f"{group}|{address}"


def sent_content(body: str, media: dict[str, Any] | None, location: Location | None,
                 contact_card: ContactCard | None, poll: Poll | None = None) -> dict[str, Any]:
    """An inbound command's fields for what a contact sends, as WhatsApp carries it: a text; a file (`media`:
    {"mimetype", "filename", "data": bytes}) with `body` its caption, but for audio and stickers, which have none, and
    its name only if it is a document; or a location, a contact card or a poll alone, `body` the place in words, the
    vCard or the poll in words."""
    shared = {"a location": location, "a contact card": contact_card, "a poll": poll}
    given = [what for what, value in {"a file": media, **shared}.items() if value is not None]
    if len(given) > 1:
        raise ValueError(f"a message carries one thing: not {' and '.join(given)}")
    if body and given and given[0] in shared:
        raise ValueError(f"{given[0]} goes alone, with no text")
    if location is not None:
        return {"type": "location", "body": location.text(), "location": dataclasses.asdict(location)}
    if contact_card is not None:
        return {"type": "contact", "body": contact_card.vcard(), "contact": dataclasses.asdict(contact_card)}
    if poll is not None:
        return {"type": "poll", "body": poll.text(), "poll": dataclasses.asdict(poll)}
    if media is not None:
        return file_content(body, media)
    if not body:
        raise ValueError("say something: a text, a file, a location, a contact card or a poll")
    return {"type": "text", "body": body}


def file_content(caption: str, media: dict[str, Any]) -> dict[str, Any]:
    """An inbound command's fields for a file: checked as any file we keep (wharf.media), its data left out."""
    mimetype = (media.get("mimetype") or "").split(";")[0].strip().lower()
    check_media(media["data"], mimetype)
    kind = message_type_for(mimetype)
    if caption and kind in ("audio", "sticker"):
        raise MediaRejected(f"WhatsApp sends {kind} without a caption")
    filename = media.get("filename") if kind == "document" else None
    return {"type": kind, "body": caption, "media": {"mimetype": mimetype, "filename": filename}}


def inject_revoke(client: redis.Redis, connection_id: int, phone: str, wa_id: str) -> None:
    """A contact deletes a message of theirs for everyone."""
    push_command(client, connection_id, "revoke", phone=phone.lstrip("+"), waId=wa_id)


def inject_edit(client: redis.Redis, connection_id: int, phone: str, wa_id: str, body: str) -> None:
    """A contact edits the text of a message of theirs."""
    push_command(client, connection_id, "edit", phone=phone.lstrip("+"), waId=wa_id, body=body, at=time.time())


def inject_reaction(client: redis.Redis, connection_id: int, phone: str, wa_id: str, emoji: str) -> None:
    """A contact reacts to a message of the chat, theirs or ours, with `emoji` (empty: removes their reaction)."""
    push_command(client, connection_id, "react", phone=phone.lstrip("+"), waId=wa_id, emoji=emoji, at=time.time())


def inject_vote(client: redis.Redis, connection_id: int, phone: str, wa_id: str, options: list[str]) -> None:
    """A contact votes on the poll `wa_id` for `options` (none: withdraws their vote); the network carries each as
    WhatsApp does, by its hash (`option_hash`), so an option the poll does not have is no vote."""
    push_command(client, connection_id, "vote", phone=phone.lstrip("+"), waId=wa_id,
                 optionHashes=[option_hash(option) for option in options], at=time.time())


def inject_typing(client: redis.Redis, connection_id: int, phone: str, typing: bool, recording: bool = False) -> bool:
    """A contact types in their chat (or records a voice note), or stops; whether the session hears it: only one that
    watches the chat does (`watched`). The network keeps none of it."""
    push_command(client, connection_id, "contact_typing", phone=phone.lstrip("+"), typing=typing,
                 recording=typing and recording, at=time.time())
    return watches(client, connection_id, phone)


def shows_online(client: redis.Redis, connection_id: int) -> bool:
    """Whether the number shows "online" to its contacts now (`set_online`, `watch_presence`)."""
    return client.get(key(connection_id, "online")) == b"1"


def watches(client: redis.Redis, connection_id: int, phone: str) -> bool:
    """Whether the session asked for the typing of the contact `phone` since it connected (`watch_presence`)."""
    return bool(client.sismember(key(connection_id, "watched"), phone.lstrip("+")))


def inject_call(client: redis.Redis, connection_id: int, phone: str, video: bool = False) -> str:
    """A contact calls the number; returns the call's id. The network keeps the call (`calls`)."""
    call = {"callId": secrets.token_hex(16).upper(), "from": phone.lstrip("+"), "video": video, "at": time.time()}
    with client.pipeline() as pipe:
        pipe.hset(key(connection_id, "calls"), call["callId"], json.dumps(call))
        push_command(pipe, connection_id, "call", **call)
        pipe.execute()
    return call["callId"]


def calls(client: redis.Redis, connection_id: int) -> list[dict[str, Any]]:
    """The calls made to the number, oldest first, each with when the session rejected it (`rejectedAt`), if it did."""
    entries = sorted(map(json.loads, client.hvals(key(connection_id, "calls"))), key=lambda call: call["at"])
    if entries:
        rejected = client.hmget(key(connection_id, "rejected_calls"), [call["callId"] for call in entries])
        for call, at in zip(entries, rejected, strict=True):
            call["rejectedAt"] = float(at) if at else None
    return entries


def outbox(client: redis.Redis, connection_id: int, to: str | None = None, offset: int = 0,
           limit: int = 50) -> tuple[list[dict[str, Any]], int]:
    """What the network received from us, oldest first: (page of entries, total); an entry we deleted for
    everyone says when (`revokedAt`), one we edited has the text the contact sees and when we edited it (`editedAt`)."""
    if to is None:
        entries = [json.loads(raw) for raw in client.lrange(key(connection_id, "outbox"), offset, offset + limit - 1)]
        total = client.llen(key(connection_id, "outbox"))
    else:
        matching = [e for e in map(json.loads, client.lrange(key(connection_id, "outbox"), 0, -1)) if e["to"] == to]
        entries, total = matching[offset : offset + limit], len(matching)
    if entries:
        wa_ids = [entry["waId"] for entry in entries]
        revoked = client.hmget(key(connection_id, "revoked"), wa_ids)
        edited = client.hmget(key(connection_id, "edited"), wa_ids)
        for entry, at, edit in zip(entries, revoked, edited, strict=True):
            entry["revokedAt"] = float(at) if at else None
            entry.update(json.loads(edit) if edit else {"editedAt": None})
    return entries, total


def reactions(client: redis.Redis, connection_id: int) -> list[dict[str, Any]]:
    """Our reactions the contacts see (`waId`: the message, in `chat`), oldest first."""
    return sorted(map(json.loads, client.hvals(key(connection_id, "reactions"))), key=lambda reaction: reaction["at"])


def read_receipts(client: redis.Redis, connection_id: int, chat: str | None = None) -> list[dict[str, Any]]:
    """The read receipts the simulated contacts got from us (of `chat`'s messages only, if given), oldest first."""
    entries = map(json.loads, client.lrange(key(connection_id, "read_receipts"), 0, -1))
    return [entry for entry in entries if chat is None or entry["chat"] == chat]


def typing(client: redis.Redis, connection_id: int) -> dict[str, dict[str, Any]]:
    """{chat: whether the contact sees us typing now, and since when} (`set_typing`)."""
    return {chat.decode(): json.loads(state) for chat, state in client.hgetall(key(connection_id, "typing")).items()}


def statuses(client: redis.Redis, connection_id: int) -> list[dict[str, Any]]:
    """The Statuses the session posted, oldest first: `waId`, `type`, `text`, `background`, `font`, `mimetype`,
    `size` (the file's bytes), `at`."""
    return [json.loads(entry) for entry in client.lrange(key(connection_id, "statuses"), 0, -1)]


def blocklist(client: redis.Redis, connection_id: int) -> list[str]:
    """The numbers the session blocked, in digits, in order."""
    return sorted(number.decode() for number in client.smembers(key(connection_id, "blocklist")))


def profile(client: redis.Redis, connection_id: int) -> dict[str, Any]:
    """The number's own profile as the session last set it: `name`, `about`, `pictureId` and the `picture`'s JPEG
    bytes (each None until set; the picture's also once removed)."""
    stored = client.hgetall(key(connection_id, "profile"))
    text = {field.decode(): value.decode() for field, value in stored.items() if field != b"picture"}
    return {"name": text.get("name"), "about": text.get("about"), "pictureId": text.get("pictureId"),
            "picture": stored.get(b"picture")}


def group_picture(client: redis.Redis, connection_id: int, group: str) -> bytes | None:
    """The picture the session set for the group (`set_group_picture`), as the network shows it."""
    return client.hget(key(connection_id, "group_pictures"), group)


def reset(client: redis.Redis, connection_id: int) -> None:
    names = ("config", "commands", "processing", "outbox", "seen", "receipts", "paired", "read_by_us", "read_receipts",
             "revoked", "edited", "reactions", "calls", "rejected_calls", "typing", "watched", "online", "media", "groups", "blocklist",
             "profile", "group_members", "group_details", "group_pictures", "statuses")
    client.delete(*(key(connection_id, name) for name in names))
