"""The contract of a transport's group calls (workers/transports/base.py), run against the simulator: the groups the
session is in, creating one (we are its superadmin), its participants, subject, description, invite link, leaving
it, and WhatsApp's refusals (not in the group, not its admin, a number it cannot add)."""

from __future__ import annotations

import pytest

from tests.transports import test_contract
from workers.transports import simulator
from workers.transports.base import GroupParticipant, InboundMessage, TransportError

network, transport, events = test_contract.network, test_contract.transport, test_contract.events  # the contract's
CONNECTION_ID = test_contract.CONNECTION_ID
ME = simulator.session_number(CONNECTION_ID)
ANA, BRUNO, CARLA = "5511900000001", "5511900000002", "5511900000003"


def test_a_new_group_has_us_as_its_superadmin_and_those_whatsapp_let_in(transport, events, network):
    simulator.configure(network, CONNECTION_ID, notOnWhatsapp=[f"+{BRUNO}"], refuseGroupAdds=[CARLA])

    group, outcomes = transport.create_group("Clientes VIP", [ANA, BRUNO, CARLA])

    assert group.id.endswith("@g.us") and group.subject == "Clientes VIP" and group.owner == ME
    assert set(group.participants) == {GroupParticipant(ME, admin=True, superadmin=True), GroupParticipant(ANA)}
    assert outcomes == {ANA: "added", BRUNO: "not_on_whatsapp", CARLA: "privacy"}
    assert transport.group_info(group.id) == group
    assert [listed.id for listed in transport.groups()] == [group.id]


def test_an_admin_changes_participants_and_whatsapp_answers_for_each(transport, events, network):
    group, _ = transport.create_group("Equipe", [ANA])

    added = transport.update_participants(group.id, [BRUNO, ANA], "add")
    promoted = transport.update_participants(group.id, [BRUNO, CARLA], "promote")
    demoted = transport.update_participants(group.id, [BRUNO, ME], "demote")
    removed = transport.update_participants(group.id, [ANA], "remove")

    assert added == {BRUNO: "added", ANA: "already_in_group"}
    assert promoted == {BRUNO: "promoted", CARLA: "not_in_group"}
    assert demoted == {BRUNO: "demoted", ME: "failed"}  # the creator stays an admin
    assert removed == {ANA: "removed"}
    assert {member.address: member.admin for member in transport.group_info(group.id).participants} == {
        ME: True, BRUNO: False}


def test_subject_description_and_invite_link_of_our_group(transport, events, network):
    group, _ = transport.create_group("Equipe", [])

    transport.set_group_subject(group.id, "Equipe 2025")
    transport.set_group_description(group.id, "Só avisos")
    link = transport.group_invite_link(group.id)
    again = transport.group_invite_link(group.id)
    reset = transport.group_invite_link(group.id, reset=True)

    transport.set_group_announce(group.id, True)
    transport.set_group_locked(group.id, True)
    transport.set_group_locked(group.id, False)
    picture_id = transport.set_group_picture(group.id, b"\xff\xd8 a square JPEG")

    shown = transport.group_info(group.id)
    assert (shown.subject, shown.description) == ("Equipe 2025", "Só avisos")
    assert (shown.announce, shown.locked) == (True, False)
    assert picture_id and simulator.group_picture(network, CONNECTION_ID, group.id) == b"\xff\xd8 a square JPEG"
    assert transport.group_subject(group.id) == "Equipe 2025"
    assert link.startswith("https://chat.whatsapp.com/") and again == link and reset != link


def test_a_group_a_member_wrote_in_is_ours_as_a_member_not_an_admin(transport, events, network):
    simulator.inject_inbound(network, CONNECTION_ID, ANA, "oi", group="120363012345678901", group_name="Vendas")
    events.next(InboundMessage)

    [group] = transport.groups()

    assert (group.id, group.subject) == ("120363012345678901@g.us", "Vendas")
    assert set(group.participants) == {GroupParticipant(ME), GroupParticipant(ANA)}
    for admins_only in (lambda: transport.update_participants(group.id, [BRUNO], "add"),
                        lambda: transport.group_invite_link(group.id),
                        lambda: transport.set_group_announce(group.id, True),
                        lambda: transport.set_group_locked(group.id, True)):
        with pytest.raises(TransportError) as refused:
            admins_only()
        assert (refused.value.permanent, refused.value.reason_code) == (True, "not_admin")
    transport.set_group_subject(group.id, "Vendas SP")  # an unlocked group: any member renames it
    assert transport.group_subject(group.id) == "Vendas SP"


def test_after_leaving_a_group_it_is_none_of_ours(transport, events, network):
    group, _ = transport.create_group("Equipe", [ANA])

    transport.leave_group(group.id)

    assert transport.groups() == []
    for act in (lambda: transport.group_info(group.id), lambda: transport.leave_group(group.id),
                lambda: transport.set_group_description(group.id, "x")):
        with pytest.raises(TransportError) as refused:
            act()
        assert (refused.value.permanent, refused.value.reason_code) == (True, "not_in_group")


@pytest.mark.parametrize("act", [
    lambda transport: transport.groups(),
    lambda transport: transport.create_group("Equipe", ["5511900000001"]),
    lambda transport: transport.group_info("120363012345678901@g.us"),
    lambda transport: transport.leave_group("120363012345678901@g.us"),
], ids=["listing", "creating", "reading", "leaving"])
def test_group_calls_need_a_connected_session(transport, events, act):
    transport.disconnect()

    with pytest.raises(TransportError) as refused:
        act(transport)

    assert not refused.value.permanent
