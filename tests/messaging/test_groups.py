"""Group conversations an agent can follow: each message of a group says which member wrote it (their number and the
name they gave WhatsApp), and the group's ticket has the group's subject as its name, read when the group first
writes, again a day later, on request, and at once where the session hears of a rename (workers/contact_details.py).
"""

from __future__ import annotations

import datetime as dt

from neonize.proto import Neonize_pb2 as neonize_proto
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

from db.base import utcnow
from db.contacts import Contact
from db.messages import Message
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)
from tests.messaging.test_profile_pictures import fetched
from tests.waiting import wait_for
from workers.groups import handle_group_changed
from workers.inbound import handle_inbound_batch
from workers.transports import simulator
from workers.transports.base import GroupChanged, InboundMessage
from workers.transports.neonize_mapping import map_event

GROUP = "120363012345678901@g.us"
ANA, BRUNO = "+5511987654321", "+5511912345678"


def written_in_group(client, headers, connection, phone: str, name: str, body: str, subject: str | None = None):
    group = {"id": GROUP.removesuffix("@g.us"), **({"name": subject} if subject else {})}
    answer = client.post(f"/api/simulator/{connection.id}/inbound",
                         json={"from": phone, "name": name, "body": body, "group": group}, headers=headers)
    assert answer.status_code == 202, answer.get_json()


def group_name() -> str | None:
    group = Contact.get_or_none(Contact.phone == GROUP)
    return group.name if group else None


def test_a_simulated_group_shows_who_wrote_each_message_and_the_groups_name(
        client, admin_headers, connection, worker, gateway):
    written_in_group(client, admin_headers, connection, ANA, "Ana", "bom dia", subject="Equipe de vendas")
    written_in_group(client, admin_headers, connection, BRUNO, "Bruno", "oi, pessoal")

    assert wait_for(lambda: group_name() == "Equipe de vendas", timeout=20)
    [ticket] = client.get("/api/tickets", headers=admin_headers).get_json()["items"]
    assert wait_for(lambda: len(client.get(f"/api/tickets/{ticket['id']}/messages", headers=admin_headers)
                                .get_json()["items"]) == 2, timeout=20)
    messages = client.get(f"/api/tickets/{ticket['id']}/messages", headers=admin_headers).get_json()["items"]
    first = client.get(f"/api/messages/{messages[0]['id']}", headers=admin_headers).get_json()
    assert (ticket["contact"]["name"], ticket["contact"]["isGroup"]) == ("Equipe de vendas", True)
    assert [(m["body"], m["sender"]) for m in messages] == [("bom dia", {"phone": ANA, "name": "Ana"}),
                                                            ("oi, pessoal", {"phone": BRUNO, "name": "Bruno"})]
    assert first["sender"] == {"phone": ANA, "name": "Ana"}


def test_an_agent_reads_a_group_and_reacts_to_a_members_message_on_their_phones(
        client, admin_headers, connection, worker, gateway):
    written_in_group(client, admin_headers, connection, ANA, "Ana", "bom dia")
    written_in_group(client, admin_headers, connection, BRUNO, "Bruno", "oi, pessoal")
    assert wait_for(lambda: [ticket["unreadMessages"] for ticket in client.get(
        "/api/tickets", headers=admin_headers).get_json()["items"]] == [2], timeout=20)
    [ticket] = client.get("/api/tickets", headers=admin_headers).get_json()["items"]
    brunos = client.get(f"/api/tickets/{ticket['id']}/messages", headers=admin_headers).get_json()["items"][1]

    client.post(f"/api/tickets/{ticket['id']}/read", headers=admin_headers)
    reacted = client.post(f"/api/messages/{brunos['id']}/reactions", json={"emoji": "👍"}, headers=admin_headers)

    def on_the_phones(what: str) -> list[tuple]:
        items = client.get(f"/api/simulator/{connection.id}/{what}", headers=admin_headers).get_json()["items"]
        return sorted((item["waId"], item["contact"], item["member"]) for item in items)

    assert reacted.status_code == 200, reacted.get_json()
    assert wait_for(lambda: len(on_the_phones("read-receipts")) == 2, timeout=20)
    assert on_the_phones("read-receipts") == sorted([(message["waId"], GROUP, message["sender"]["phone"]) for message in
        client.get(f"/api/tickets/{ticket['id']}/messages", headers=admin_headers).get_json()["items"]])
    assert wait_for(lambda: on_the_phones("reactions") == [(brunos["waId"], GROUP, BRUNO)], timeout=20)


def neonize_group_message(connection, wa_id: str, sender: neonize_proto.JID, push_name: str) -> dict:
    """A member's message as neonize gives it (a real protobuf event), mapped as the gateway maps it."""
    group = neonize_proto.JID(User=GROUP.removesuffix("@g.us"), Server="g.us")
    event = neonize_proto.Message(
        Info=neonize_proto.MessageInfo(ID=wa_id, Pushname=push_name, Timestamp=1_800_000_000_000,
                                       MessageSource=neonize_proto.MessageSource(Chat=group, Sender=sender,
                                                                                 IsGroup=True)),
        Message=WAMessage(conversation="bom dia"))
    return map_event(connection.id, event).to_dict()


def test_message_events_say_which_member_wrote_a_groups_message_and_no_one_for_the_others(
        connection, broker, realtime):  # noqa: F811
    hidden = neonize_proto.JID(User="98765432101234", Server="lid")  # a member whose number WhatsApp hides
    handle_inbound_batch.fn([
        neonize_group_message(connection, "3A0ANA", neonize_proto.JID(User=ANA[1:], Server="s.whatsapp.net"), "Ana"),
        neonize_group_message(connection, "3A0HIDDEN", hidden, ""),
        InboundMessage(connection.id, wa_id="3EB0OURS", chat=GROUP, sender="5511900000000", body="olá a todos",
                       is_group=True, from_me=True).to_dict(),  # sent from the phone
        InboundMessage(connection.id, wa_id="3A0BRUNO", chat=BRUNO[1:], sender=BRUNO[1:], sender_name="Bruno",
                       body="oi").to_dict(),
    ])

    senders = {data["waId"]: data["sender"] for event, data in realtime() if event == "message:new"}
    assert senders == {"3A0ANA": {"phone": ANA, "name": "Ana"},
                       "3A0HIDDEN": {"phone": "98765432101234@lid", "name": None},
                       "3EB0OURS": None, "3A0BRUNO": None}
    assert group_name() == ""  # its subject is read off the batch, by the session


def test_a_renamed_group_takes_its_new_name_at_the_daily_check_or_on_request(
        client, admin_headers, factories, company, connection, redis_client, worker, gateway):
    group = factories.contact(company, phone=GROUP, name="Equipe de vendas", is_group=True,
                              profile_pic_checked_at=utcnow() - dt.timedelta(hours=25))
    assert wait_for(lambda: client.get(f"/api/connections/{connection.id}", headers=admin_headers)
                    .get_json()["status"] == "connected", timeout=20)

    written_in_group(client, admin_headers, connection, ANA, "Ana", "novo nome!", subject="Vendas 2025")
    assert wait_for(lambda: group_name() == "Vendas 2025", timeout=20)
    simulator.remember_group(redis_client, connection.id, GROUP, "Vendas 2026")
    asked = fetched(client, admin_headers, group)

    assert (asked.status, asked.result["name"], group_name()) == ("done", "Vendas 2026", "Vendas 2026")


def test_a_group_we_are_no_longer_in_keeps_its_name(client, admin_headers, factories, company, connection, worker,
                                                    gateway):
    group = factories.contact(company, phone=GROUP, name="Equipe de vendas", is_group=True)
    assert wait_for(lambda: client.get(f"/api/connections/{connection.id}", headers=admin_headers)
                    .get_json()["status"] == "connected", timeout=20)

    asked = fetched(client, admin_headers, group)  # the simulated network never heard of it

    assert (asked.status, asked.result["name"], group_name()) == ("done", None, "Equipe de vendas")


def test_a_rename_the_session_hears_of_renames_the_group_of_that_connections_company_only(factories, company,
                                                                                          connection, realtime):  # noqa: F811
    ours = factories.contact(company, phone=GROUP, name="Equipe de vendas", is_group=True)
    live = factories.ticket(company, connection=connection, contact=ours, status="open")
    theirs = factories.contact(factories.company(), phone=GROUP, name="Família", is_group=True)
    renamed = GroupChanged(connection.id, chat=GROUP, name="Vendas 2025", timestamp=1_800_000_000.0).to_dict()

    first, again = handle_group_changed.fn(renamed), handle_group_changed.fn(renamed)
    unknown = handle_group_changed.fn({**renamed, "chat": "120363099999999999@g.us"})

    assert [result["renamed"] for result in (first, again, unknown)] == [1, 0, 0]
    assert (Contact.get_by_id(ours.id).name, Contact.get_by_id(theirs.id).name) == ("Vendas 2025", "Família")
    told = [(event, data.get("name") or data["contact"]["name"], data["id"]) for event, data in realtime()]
    assert told == [("contact:update", "Vendas 2025", ours.id), ("ticket:update", "Vendas 2025", live.id)]


def test_a_number_that_ignores_its_groups_keeps_none_of_their_messages_and_all_of_its_contacts(
        client, admin_headers, connection, broker):
    answer = client.patch(f"/api/connections/{connection.id}", json={"ignoreGroups": True}, headers=admin_headers)
    assert answer.get_json()["ignoreGroups"] is True

    results = handle_inbound_batch.fn([
        InboundMessage(connection.id, wa_id="3A0ANA", chat=GROUP, sender=ANA[1:], sender_name="Ana", body="bom dia",
                       is_group=True).to_dict(),
        InboundMessage(connection.id, wa_id="3EB0OURS", chat=GROUP, sender="5511900000000", body="olá",
                       is_group=True, from_me=True).to_dict(),
        InboundMessage(connection.id, wa_id="3A0BRUNO", chat=BRUNO[1:], sender=BRUNO[1:], sender_name="Bruno",
                       body="oi").to_dict(),
    ])

    assert results[:2] == [{"ignored": "3A0ANA"}, {"ignored": "3EB0OURS"}]
    assert results[2]["ticketCreated"] is True
    assert [(c.phone, c.is_group) for c in Contact.select()] == [(BRUNO, False)]
    assert [m.wa_id for m in Message.select()] == ["3A0BRUNO"]
    assert client.patch(f"/api/connections/{connection.id}", json={"ignoreGroups": None},
                        headers=admin_headers).status_code == 400
