"""The simulated session's groups (`workers/transports/simulator.py` keeps them: `groups`, `group_members`,
`group_details`): listing them, creating one, changing its participants, subject and description, its invite link,
leaving it. WhatsApp's rules as the simulator keeps them: only admins change participants and the invite link, and,
in a `locked` group, the subject and description; a number not on WhatsApp, or whose privacy settings refuse
(`refuseGroupAdds`), is not added.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Any

import redis

from workers.transports.base import (
    PARTICIPANT_DONE,
    GroupInfo,
    GroupParticipant,
    TransportError,
)
from workers.transports.simulator import (
    forget_group,
    group_roles,
    key,
    member_field,
    read_config,
    session_number,
)

ADMINS = ("admin", "superadmin")
INVITE_LINK = "https://chat.whatsapp.com/"


class SimulatorGroups:
    """The group calls of `SimulatorTransport`, whose session (`redis`, `connection_id`, `require_connected`) they
    use."""

    redis: redis.Redis
    connection_id: int

    def groups(self) -> list[GroupInfo]:
        self.require_connected()
        return [self.read_group(group.decode()) for group in sorted(self.redis.hkeys(self.network_key("groups")))]

    def group_info(self, group: str) -> GroupInfo:
        self.require_role(group)
        return self.read_group(group)

    def create_group(self, subject: str, participants: list[str]) -> tuple[GroupInfo, dict[str, str]]:
        """A new group with us as its superadmin; each participant added as `add` would."""
        self.require_connected()
        group = f"120363{secrets.randbelow(10**12):012d}@g.us"
        me = session_number(self.connection_id)
        details = {"description": "", "owner": me, "createdAt": time.time(), "announce": False, "locked": False}
        with self.redis.pipeline() as pipe:
            pipe.hset(self.network_key("groups"), group, subject)
            pipe.hset(self.network_key("group_details"), group, json.dumps(details))
            pipe.hset(self.network_key("group_members"), member_field(group, me), "superadmin")
            pipe.execute()
        outcomes = self.update_participants(group, participants, "add")
        return self.read_group(group), outcomes

    def update_participants(self, group: str, participants: list[str], action: str) -> dict[str, str]:
        self.require_role(group, ADMINS)
        roles = self.members(group)
        refused = read_config(self.redis, self.connection_id)
        not_on_whatsapp = {number.lstrip("+") for number in refused["notOnWhatsapp"]}
        private = {number.lstrip("+") for number in refused["refuseGroupAdds"]}
        outcomes: dict[str, str] = {}
        for address in participants:
            role = roles.get(address)
            if action == "add":
                outcome = ("already_in_group" if role else "not_on_whatsapp" if address in not_on_whatsapp
                           else "privacy" if address in private else None)
            else:
                outcome = "not_in_group" if role is None else "failed" if role == "superadmin" else None
            if outcome is None:
                self.set_role(group, address, {"remove": None, "promote": "admin"}.get(action, "member"))
                outcome = PARTICIPANT_DONE[action]
            outcomes[address] = outcome
        return outcomes

    def group_invite_link(self, group: str, reset: bool = False) -> str:
        self.require_role(group, ADMINS)
        details = self.details(group)
        if reset or not details.get("inviteCode"):
            details["inviteCode"] = secrets.token_urlsafe(16)[:22]
            self.redis.hset(self.network_key("group_details"), group, json.dumps(details))
        return INVITE_LINK + details["inviteCode"]

    def set_group_subject(self, group: str, subject: str) -> None:
        self.require_editor(group)
        self.redis.hset(self.network_key("groups"), group, subject)

    def set_group_description(self, group: str, description: str) -> None:
        self.require_editor(group)
        self.redis.hset(self.network_key("group_details"), group, json.dumps({**self.details(group),
                                                                      "description": description}))

    def set_group_picture(self, group: str, jpeg: bytes) -> str | None:
        """The network shows the picture (`group_picture`), its id drawn from its bytes."""
        self.require_editor(group)
        shown = hashlib.sha256(jpeg).hexdigest()[:16]
        self.redis.hset(self.network_key("group_pictures"), group, jpeg)
        self.redis.hset(self.network_key("group_details"), group, json.dumps({**self.details(group), "pictureId": shown}))
        return shown

    def set_group_announce(self, group: str, announce: bool) -> None:
        self.change_details(group, announce=announce)

    def set_group_locked(self, group: str, locked: bool) -> None:
        self.change_details(group, locked=locked)

    def change_details(self, group: str, **changes: Any) -> None:
        """A setting of the group that only its admins change."""
        self.require_role(group, ADMINS)
        self.redis.hset(self.network_key("group_details"), group, json.dumps({**self.details(group), **changes}))

    def leave_group(self, group: str) -> None:
        self.require_role(group)
        with self.redis.pipeline() as pipe:
            forget_group(pipe, self.redis, self.connection_id, group)
            pipe.execute()

    # --- reading and checking
    def network_key(self, name: str) -> str:
        return key(self.connection_id, name)

    def members(self, group: str) -> dict[str, str]:
        return group_roles(self.redis, self.connection_id, group)

    def details(self, group: str) -> dict[str, Any]:
        stored = self.redis.hget(self.network_key("group_details"), group)
        return json.loads(stored) if stored else {}

    def set_role(self, group: str, address: str, role: str | None) -> None:
        if role is None:
            self.redis.hdel(self.network_key("group_members"), member_field(group, address))
        else:
            self.redis.hset(self.network_key("group_members"), member_field(group, address), role)

    def require_role(self, group: str, roles: tuple[str, ...] | None = None) -> str:
        """Our role in the group; a permanent TransportError when we are not in it, or not in one of `roles`."""
        self.require_connected()
        if not self.redis.hexists(self.network_key("groups"), group):
            raise TransportError(f"not in the group {group}", permanent=True, reason_code="not_in_group")
        role = self.members(group).get(session_number(self.connection_id), "member")
        if roles is not None and role not in roles:
            raise TransportError(f"not an admin of the group {group}", permanent=True, reason_code="not_admin")
        return role

    def require_editor(self, group: str) -> None:
        """We may change the group's subject and description: any member, but only admins of a locked group."""
        role = self.require_role(group)
        if self.details(group).get("locked") and role not in ADMINS:
            raise TransportError(f"only admins change the group {group}", permanent=True, reason_code="not_admin")

    def read_group(self, group: str) -> GroupInfo:
        details = self.details(group)
        participants = tuple(GroupParticipant(address, admin=role in ADMINS, superadmin=role == "superadmin")
                             for address, role in sorted(self.members(group).items()))
        return GroupInfo(id=group, subject=(self.redis.hget(self.network_key("groups"), group) or b"").decode(),
                         description=details.get("description", ""), participants=participants,
                         owner=details.get("owner"), created_at=details.get("createdAt"),
                         announce=details.get("announce", False), locked=details.get("locked", False))
