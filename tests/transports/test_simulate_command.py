"""`wharf simulate`: the simulated network from the command line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from wharf.cli import main
from workers.transports import simulator
from workers.transports.base import option_hash

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def test_simulate_inbound_configure_and_outbox(redis_client):
    redis_client.flushdb()
    runner = CliRunner()

    sent = runner.invoke(main, ["simulate", "inbound", "3", "--from", "+5511987654321", "--name", "Ana", "oi"])
    configured = runner.invoke(main, ["simulate", "configure", "3", "--read-after-ms", "-1", "--auto-reply", "ok"])
    redis_client.rpush(simulator.key(3, "outbox"), '{"waId": "3EB0X", "to": "+5511987654321", "body": "hello", '
                                                   '"type": "text", "at": 1}')
    listed = runner.invoke(main, ["simulate", "outbox", "3"])

    assert sent.exit_code == 0 and "from +5511987654321" in sent.output
    command = json.loads(redis_client.lindex(simulator.key(3, "commands"), 0))
    assert (command["op"], command["phone"], command["body"], command["name"]) == ("inbound", "5511987654321", "oi",
                                                                                   "Ana")
    assert configured.exit_code == 0
    assert simulator.read_config(redis_client, 3)["readAfterMs"] == -1
    assert simulator.read_config(redis_client, 3)["autoReply"] == "ok"
    assert "3EB0X  +5511987654321  [text]  hello" in listed.output and "1 received in all" in listed.output


def test_simulate_inbound_sends_a_file_with_its_caption_a_location_or_a_contact_card(redis_client, tmp_path):
    redis_client.flushdb()
    runner = CliRunner()
    (tmp_path / "invoice.pdf").write_bytes(PDF)
    contact = ["simulate", "inbound", "3", "--from", "+5511987654321"]

    sent = [runner.invoke(main, [*contact, "--file", str(tmp_path / "invoice.pdf"), "the invoice"]),
            runner.invoke(main, [*contact, "--location", "-23.5613,-46.6565", "--place", "Loja Paulista",
                                 "--address", "Av. Paulista, 1000"]),
            runner.invoke(main, [*contact, "--contact-card", "Ana Souza", "+55 11 91234-5678"])]

    assert [result.exit_code for result in sent] == [0, 0, 0], [result.output for result in sent]
    document, place, card = [json.loads(raw) for raw in redis_client.lrange(simulator.key(3, "commands"), 0, -1)][::-1]
    assert (document["type"], document["body"], document["media"]) == (
        "document", "the invoice", {"mimetype": "application/pdf", "filename": "invoice.pdf"})
    assert redis_client.hget(simulator.key(3, "media"), document["waId"]) == PDF
    assert (place["type"], place["location"]) == ("location", {"latitude": -23.5613, "longitude": -46.6565,
                                                                "name": "Loja Paulista", "address": "Av. Paulista, 1000"})
    assert (card["type"], card["contact"]) == ("contact", {"name": "Ana Souza", "phone": "+5511912345678"})
    assert f"sent {card['waId']} from +5511987654321" in sent[2].output


def test_simulate_inbound_in_a_group_as_its_member(redis_client):
    redis_client.flushdb()

    sent = CliRunner().invoke(main, ["simulate", "inbound", "3", "--from", "+5511987654321", "--name", "Ana",
                                     "--group", "120363012345678901", "--group-name", "Equipe de vendas", "bom dia"])

    assert sent.exit_code == 0 and "from +5511987654321 in 120363012345678901@g.us" in sent.output, sent.output
    command = json.loads(redis_client.lindex(simulator.key(3, "commands"), 0))
    assert (command["group"], command["phone"], command["name"], command["body"]) == (
        "120363012345678901@g.us", "5511987654321", "Ana", "bom dia")
    assert redis_client.hget(simulator.key(3, "groups"), "120363012345678901@g.us") == b"Equipe de vendas"


@pytest.mark.parametrize("arguments, says", [
    (["--file", "{tmp}/photo.png"], "content is not image/png"),
    (["--location", "-23.5613"], "give LAT,LNG"),
    (["--location", "-123.5,10"], "within ±90"),
    (["--place", "Loja Paulista"], "describe a --location"),
    (["--location", "-23.5613,-46.6565", "here"], "goes alone"),
    (["--contact-card", "Ana", "912345678"], "not a phone number"),
    ([], "say something"),
    (["--group", "sales team", "oi"], "no group id"),
    (["--group-name", "Equipe de vendas", "oi"], "--group-name names a --group"),
], ids=["a program named a picture", "one number", "off the globe", "a place with no location", "a location with text",
        "a local number", "nothing", "no group id", "a subject of no group"])
def test_simulate_inbound_refuses_what_whatsapp_would_not_carry(redis_client, tmp_path, arguments, says):
    redis_client.flushdb()
    (tmp_path / "photo.png").write_bytes(b"MZ\x90\x00")

    refused = CliRunner().invoke(main, ["simulate", "inbound", "3", "--from", "+5511987654321",
                                        *(argument.format(tmp=tmp_path) for argument in arguments)])

    assert refused.exit_code == 2 and says in refused.output, refused.output
    assert not redis_client.exists(simulator.key(3, "commands"))


def test_the_outbox_shows_a_location_and_a_contact_card_on_one_line_each(redis_client):
    redis_client.flushdb()
    place = {"latitude": -23.5613, "longitude": -46.6565, "name": "Loja Paulista", "address": "Av. Paulista, 1000"}
    redis_client.rpush(simulator.key(3, "outbox"), *(json.dumps({"to": "+5511987654321", "at": 1, **entry}) for entry in [
        {"waId": "3EB0L", "type": "location", "body": "Loja Paulista\nAv. Paulista, 1000\n-23.5613,-46.6565",
         "location": place},
        {"waId": "3EB0C", "type": "contact", "body": "BEGIN:VCARD\nVERSION:3.0\nEND:VCARD",
         "contact": {"name": "Ana Souza", "phone": "+5511912345678"}},
    ]))

    listed = CliRunner().invoke(main, ["simulate", "outbox", "3"])

    assert listed.output.splitlines() == [
        "3EB0L  +5511987654321  [location]  Loja Paulista · Av. Paulista, 1000 · -23.5613,-46.6565",
        "3EB0C  +5511987654321  [contact]  Ana Souza +5511912345678",
        "2 received in all",
    ]


def test_simulate_revoke_and_read_receipts(redis_client):
    redis_client.flushdb()
    runner = CliRunner()
    redis_client.rpush(simulator.key(3, "read_receipts"), json.dumps({"waId": "IN1", "chat": "5511987654321", "at": 0}),
                       json.dumps({"waId": "IN2", "chat": "5511900000000", "at": 60}))

    revoked = runner.invoke(main, ["simulate", "revoke", "3", "--from", "+5511987654321", "IN9"])
    one = runner.invoke(main, ["simulate", "read-receipts", "3", "--contact", "+5511987654321"])
    every = runner.invoke(main, ["simulate", "read-receipts", "3"])

    assert revoked.exit_code == 0 and "+5511987654321 deleted IN9" in revoked.output
    command = json.loads(redis_client.lindex(simulator.key(3, "commands"), 0))
    assert (command["op"], command["phone"], command["waId"]) == ("revoke", "5511987654321", "IN9")
    assert one.output.splitlines() == ["IN1  +5511987654321  1970-01-01T00:00:00+00:00", "1 read receipts"]
    assert every.output.splitlines()[-1] == "2 read receipts"


def test_simulate_call(redis_client):
    redis_client.flushdb()
    runner = CliRunner()

    voice = runner.invoke(main, ["simulate", "call", "3", "--from", "+5511987654321"])
    video = runner.invoke(main, ["simulate", "call", "3", "--from", "+5511987654321", "--video"])

    assert voice.exit_code == 0 and "+5511987654321 is calling (voice)" in voice.output
    assert video.exit_code == 0 and "(video)" in video.output
    commands = [json.loads(raw) for raw in redis_client.lrange(simulator.key(3, "commands"), 0, -1)][::-1]
    assert [(c["op"], c["from"], c["video"]) for c in commands] == [("call", "5511987654321", False),
                                                                     ("call", "5511987654321", True)]
    assert [c["callId"] for c in commands] == [c["callId"] for c in simulator.calls(redis_client, 3)]
    assert voice.output.strip().endswith(commands[0]["callId"])


def test_simulate_typing_says_whether_the_session_hears_it(redis_client):
    redis_client.flushdb()
    redis_client.sadd(simulator.key(3, "watched"), "5511987654321")  # an agent has this contact's ticket open
    runner = CliRunner()

    typing = runner.invoke(main, ["simulate", "typing", "3", "--from", "+5511987654321"])
    recording = runner.invoke(main, ["simulate", "typing", "3", "--from", "+5511987654321", "--recording"])
    unheard = runner.invoke(main, ["simulate", "typing", "3", "--from", "+5511912345678", "--stop"])

    assert (typing.exit_code, typing.output.strip()) == (0, "+5511987654321 is typing")
    assert recording.output.strip() == "+5511987654321 is recording audio"
    assert unheard.output.startswith("+5511912345678 stopped typing (unheard")
    commands = [json.loads(raw) for raw in redis_client.lrange(simulator.key(3, "commands"), 0, -1)][::-1]
    assert [(c["op"], c["phone"], c["typing"], c["recording"]) for c in commands] == [
        ("contact_typing", "5511987654321", True, False), ("contact_typing", "5511987654321", True, True),
        ("contact_typing", "5511912345678", False, False)]


def test_simulate_edit_and_react(redis_client):
    redis_client.flushdb()
    runner = CliRunner()

    edited = runner.invoke(main, ["simulate", "edit", "3", "--from", "+5511987654321", "IN9", "at 6, then"])
    reacted = runner.invoke(main, ["simulate", "react", "3", "--from", "+5511987654321", "3EB0OURS", "👍"])
    taken_back = runner.invoke(main, ["simulate", "react", "3", "--from", "+5511987654321", "3EB0OURS", ""])

    assert edited.exit_code == 0 and "+5511987654321 edited IN9" in edited.output
    assert reacted.exit_code == 0 and "reacted to 3EB0OURS with 👍" in reacted.output
    assert taken_back.exit_code == 0 and "took back their reaction to 3EB0OURS" in taken_back.output
    commands = [json.loads(raw) for raw in redis_client.lrange(simulator.key(3, "commands"), 0, -1)][::-1]
    assert [(c["op"], c["phone"], c["waId"], c.get("body"), c.get("emoji")) for c in commands] == [
        ("edit", "5511987654321", "IN9", "at 6, then", None),
        ("react", "5511987654321", "3EB0OURS", None, "👍"),
        ("react", "5511987654321", "3EB0OURS", None, ""),
    ]


def test_simulate_vote_sends_the_options_by_hash_and_none_withdraws(redis_client):
    redis_client.flushdb()
    runner = CliRunner()

    voted = runner.invoke(main, ["simulate", "vote", "3", "--from", "+5511987654321", "3EB0POLL", "Pizza", "Sushi"])
    withdrawn = runner.invoke(main, ["simulate", "vote", "3", "--from", "+5511987654321", "3EB0POLL"])

    assert voted.exit_code == 0 and "voted on 3EB0POLL for Pizza, Sushi" in voted.output
    assert withdrawn.exit_code == 0 and "withdrew their vote on 3EB0POLL" in withdrawn.output
    commands = [json.loads(raw) for raw in redis_client.lrange(simulator.key(3, "commands"), 0, -1)][::-1]
    assert [(c["op"], c["phone"], c["waId"], c["optionHashes"]) for c in commands] == [
        ("vote", "5511987654321", "3EB0POLL", [option_hash("Pizza"), option_hash("Sushi")]),
        ("vote", "5511987654321", "3EB0POLL", []),
    ]


def test_simulate_outbox_marks_what_we_edited(redis_client):
    redis_client.flushdb()
    redis_client.rpush(simulator.key(3, "outbox"), json.dumps({"waId": "3EB0X", "to": "+5511987654321", "body": "at 5",
                                                               "type": "text", "at": 1}))
    redis_client.hset(simulator.key(3, "edited"), "3EB0X", json.dumps({"body": "at 6", "editedAt": 2}))

    listed = CliRunner().invoke(main, ["simulate", "outbox", "3"])

    assert "3EB0X  +5511987654321  [text]  at 6  (edited)" in listed.output


def test_simulate_group_change_renames_and_changes_members_as_a_member(redis_client):
    redis_client.flushdb()
    runner = CliRunner()

    added = runner.invoke(main, ["simulate", "group-change", "3", "--from", "+5511987654321", "--group",
                                 "120363012345678901", "--name", "Vendas", "--add", "me", "--add", "+5511900000002"])
    nothing = runner.invoke(main, ["simulate", "group-change", "3", "--from", "+5511987654321", "--group", "120363"])

    assert added.exit_code == 0, added.output
    assert "changed 120363012345678901@g.us: named 'Vendas'; add me, +5511900000002" in added.output
    [command] = [json.loads(raw) for raw in redis_client.lrange(simulator.key(3, "commands"), 0, -1)]
    assert (command["op"], command["group"], command["name"], command["membersChanged"]) == (
        "group_change", "120363012345678901@g.us", "Vendas", True)
    members = {field.decode(): role.decode() for field, role in
               redis_client.hgetall(simulator.key(3, "group_members")).items()}
    assert members == {f"120363012345678901@g.us|{number}": "member"
                       for number in ("5511987654321", simulator.session_number(3), "5511900000002")}
    assert nothing.exit_code == 2 and "give --name" in nothing.output
