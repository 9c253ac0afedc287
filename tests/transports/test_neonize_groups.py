"""neonize's group calls in Wharf's terms: whatsmeow's GroupInfo protobufs as GroupInfo, each participant's answer (an
error code) as what became of them, and the calls that reach neonize's client (recorded, as WhatsApp needs a phone)."""

from __future__ import annotations

import pytest
from neonize.exc import CreateGroupError, GetGroupInviteLinkError, UpdateGroupParticipantsError
from neonize.proto import Neonize_pb2 as neonize_proto
from neonize.utils.enum import ParticipantChange

from tests.transports.test_neonize_mapping import CONNECTION_ID, RecordingClient
from workers.transports.base import GroupInfo, GroupParticipant, TransportError
from workers.transports.neonize_mapping import group_failure, group_of, participant_outcomes
from workers.transports.neonize_transport import NeonizeTransport

GROUP = "120363025246125486"
ME, ANA, BRUNO = "5511999990000", "5511987654321", "5511912345678"


def jid(user: str, server: str = "s.whatsapp.net") -> neonize_proto.JID:
    return neonize_proto.JID(User=user, Server=server, IsEmpty=False)


def member(user: str, *, admin: bool = False, superadmin: bool = False, error: int = 0,
           server: str = "s.whatsapp.net", phone: str | None = None) -> neonize_proto.GroupParticipant:
    return neonize_proto.GroupParticipant(JID=jid(user, server), PhoneNumber=jid(phone) if phone else None,
                                          IsAdmin=admin, IsSuperAdmin=superadmin, Error=error)


def whatsmeow_group(*participants: neonize_proto.GroupParticipant) -> neonize_proto.GroupInfo:
    return neonize_proto.GroupInfo(
        JID=jid(GROUP, "g.us"), OwnerJID=jid(ME), GroupName=neonize_proto.GroupName(Name="Equipe de vendas"),
        GroupTopic=neonize_proto.GroupTopic(Topic="Só avisos", TopicID="T1"),
        GroupAnnounce=neonize_proto.GroupAnnounce(IsAnnounce=True), GroupLocked=neonize_proto.GroupLocked(isLocked=False),
        GroupCreated=1_700_000_000, Participants=list(participants))


def test_a_group_is_its_id_subject_description_flags_and_members_a_hidden_number_by_the_phone_beside_it():
    group = group_of(whatsmeow_group(member(ME, admin=True, superadmin=True), member(ANA, admin=True),
                                     member("123456789", server="lid", phone=BRUNO), member("987654321", server="lid"),
                                     member("5511900000009", error=403)))

    assert group == GroupInfo(
        id=f"{GROUP}@g.us", subject="Equipe de vendas", description="Só avisos", owner=ME, created_at=1_700_000_000.0,
        announce=True, locked=False, participants=(
            GroupParticipant(ME, admin=True, superadmin=True), GroupParticipant(ANA, admin=True),
            GroupParticipant(BRUNO), GroupParticipant("987654321@lid")))  # one WhatsApp refused is no member


@pytest.mark.parametrize("action, code, outcome", [
    ("add", 0, "added"), ("add", 200, "added"), ("add", 403, "privacy"), ("add", 408, "recently_left"),
    ("add", 409, "already_in_group"), ("add", 404, "not_on_whatsapp"), ("remove", 0, "removed"),
    ("remove", 404, "not_in_group"), ("promote", 0, "promoted"), ("demote", 0, "demoted"), ("add", 500, "failed"),
])
def test_whatsapps_code_for_each_participant_says_what_became_of_them(action, code, outcome):
    asked = {"+5511987654321": jid(ANA)}
    assert participant_outcomes(action, [member(ANA, error=code)], asked) == {"+5511987654321": outcome}


def test_a_participant_whatsapp_did_not_answer_for_failed_and_others_it_names_are_left_out():
    assert participant_outcomes("add", [member(ME)], {ANA: jid(ANA)}) == {ANA: "failed"}


@pytest.mark.parametrize("error, code", [
    ("you're not participating in that group", "not_in_group"), ("that group does not exist", "not_in_group"),
    ("info query returned status 401: not-authorized", "not_admin"),
    ("info query returned status 403: forbidden", "not_admin"), ("info query timed out", None),
])
def test_whatsmeows_refusals_about_a_group_are_permanent_but_a_failed_query(error, code):
    failure = group_failure(error, "rename the group")

    assert (failure.permanent, failure.reason_code) == (code is not None, code)
    assert str(failure).startswith("could not rename the group: ")


class GroupClient(RecordingClient):
    """The recording client, answering the group calls as whatsmeow would."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    def record(self, *call):
        if self.refusal:
            raise CreateGroupError(self.refusal)
        self.calls.append(call)

    def get_joined_groups(self):
        self.record("joined")
        return [whatsmeow_group(member(ME, admin=True, superadmin=True), member(ANA))]

    def create_group(self, name, participants=(), linked_parent=None, group_parent=None):
        self.record("create", name, list(participants))
        return whatsmeow_group(member(ME, admin=True, superadmin=True), member(ANA), member(BRUNO, error=403))

    def update_group_participants(self, group, participants, action):
        if self.refusal:
            raise UpdateGroupParticipantsError(self.refusal)
        self.calls.append(("participants", group, list(participants), action))
        return [member(ANA), member(BRUNO, error=409)]

    def get_group_invite_link(self, group, revoke=False):
        if self.refusal:
            raise GetGroupInviteLinkError(self.refusal)
        self.calls.append(("invite", group, revoke))
        return "https://chat.whatsapp.com/AbCdEf123"

    def set_group_name(self, group, name):
        self.record("name", group, name)

    def set_group_topic(self, group, previous_id, new_id, topic):
        self.record("topic", group, previous_id, new_id, topic)

    def set_group_photo(self, group, jpeg):
        self.record("photo", group, jpeg)
        return "1700000000"

    def set_group_announce(self, group, announce):
        self.record("announce", group, announce)

    def set_group_locked(self, group, locked):
        self.record("locked", group, locked)

    def leave_group(self, group):
        self.record("leave", group)


@pytest.fixture
def session():
    transport = NeonizeTransport(CONNECTION_ID, database="sqlite:///unused.db")
    transport.client, transport.online = GroupClient(), True
    return transport


def test_the_groups_we_are_in_are_whatsapps_joined_groups(session):
    [group] = session.groups()

    assert (group.id, group.subject, [p.address for p in group.participants]) == (f"{GROUP}@g.us", "Equipe de vendas",
                                                                                  [ME, ANA])


def test_a_new_group_asks_whatsapp_for_the_participants_it_knows_and_says_what_became_of_each(session):
    session.client.not_on_whatsapp = {"5511900000009"}

    group, outcomes = session.create_group("Equipe de vendas", [ANA, "5511900000009", BRUNO])

    [(_, name, participants)] = session.client.calls
    assert name == "Equipe de vendas" and [(p.User, p.Server) for p in participants] == [
        (ANA, "s.whatsapp.net"), (BRUNO, "s.whatsapp.net")]  # one not on WhatsApp is not asked for
    assert outcomes == {ANA: "added", "5511900000009": "not_on_whatsapp", BRUNO: "privacy"}
    assert [p.address for p in group.participants] == [ME, ANA]


def test_participants_change_in_the_group_by_its_id_with_neonizes_action(session):
    outcomes = session.update_participants(f"{GROUP}@g.us", [ANA, BRUNO], "promote")

    [(_, group, participants, action)] = session.client.calls
    assert (group.User, group.Server, action) == (GROUP, "g.us", ParticipantChange.PROMOTE) and group.IsInitialized()
    assert [p.User for p in participants] == [ANA, BRUNO]  # as WhatsApp knows them (is_on_whatsapp's JIDs)
    assert outcomes == {ANA: "promoted", BRUNO: "already_in_group"}


def test_invite_link_subject_description_and_leaving_reach_neonizes_client(session):
    link = session.group_invite_link(f"{GROUP}@g.us", reset=True)
    session.set_group_subject(f"{GROUP}@g.us", "Vendas 2025")
    session.set_group_description(f"{GROUP}@g.us", "Só avisos")
    session.set_group_announce(f"{GROUP}@g.us", True)
    session.set_group_locked(f"{GROUP}@g.us", False)
    picture_id = session.set_group_picture(f"{GROUP}@g.us", b"jpeg")
    session.leave_group(f"{GROUP}@g.us")

    assert link == "https://chat.whatsapp.com/AbCdEf123"
    assert [(call[0], *call[2:]) for call in session.client.calls] == [
        ("invite", True), ("name", "Vendas 2025"), ("topic", "", "", "Só avisos"), ("announce", True),
        ("locked", False), ("photo", b"jpeg"), ("leave",)]
    assert picture_id == "1700000000"
    assert all(call[1].User == GROUP and call[1].Server == "g.us" for call in session.client.calls)


def test_a_change_only_admins_may_make_is_refused_for_good_and_an_offline_session_is_not(session):
    session.client.refusal = "info query returned status 401: not-authorized"
    with pytest.raises(TransportError) as refused:
        session.group_invite_link(f"{GROUP}@g.us")
    session.online = False
    with pytest.raises(TransportError) as offline:
        session.groups()

    assert (refused.value.permanent, refused.value.reason_code) == (True, "not_admin")
    assert not offline.value.permanent
