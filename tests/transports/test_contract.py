"""The contract every transport keeps, run against each one that can run here without a phone.

neonize needs a real phone and WhatsApp's servers for a session; its event mapping and its
sending up to the client are tested in test_neonize_mapping.py.
"""

from __future__ import annotations

import base64
import queue
import threading

import pytest

from wharf.settings import settings
from workers.transports import build_transport, simulator, simulator_session
from workers.transports.base import (
    Connected,
    ContactCard,
    ContactTyping,
    Disconnected,
    InboundBatch,
    InboundMessage,
    IncomingCall,
    Location,
    LoggedOut,
    MessageEdited,
    MessageReacted,
    MessageRevoked,
    OutgoingMessage,
    PairCode,
    Poll,
    PollVoted,
    QrCode,
    Receipt,
    TransportError,
    deterministic_wa_id,
    option_hash,
)

CONNECTION_ID = 7
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
OGG = b"OggS\x00\x02" + bytes(20) + b"OpusHead"


class Events:
    """What a transport reported, in order, as the gateway's handler would see it."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.seen: list = []

    def __call__(self, event) -> None:
        self.queue.put(event)

    def next(self, kind: type, timeout: float = 5.0):
        while True:
            event = self.queue.get(timeout=timeout)
            self.seen.append(event)
            if isinstance(event, kind):
                return event


@pytest.fixture
def network(redis_client):
    redis_client.flushdb()
    simulator.configure(redis_client, CONNECTION_ID, deliveredAfterMs=0, readAfterMs=30)
    return redis_client


@pytest.fixture(params=["simulator"])
def transport(request, network):
    transport = build_transport(request.param, CONNECTION_ID, redis_url=settings.redis_url)
    yield transport
    transport.disconnect()


@pytest.fixture
def events(transport):
    events = Events()
    transport.connect(events)
    events.next(Connected)
    return events


def outgoing(body: str = "hello", key: str = "1") -> OutgoingMessage:
    return OutgoingMessage(to="+5511987654321", body=body, wa_id=deterministic_wa_id(CONNECTION_ID, key))


def test_connect_reports_connected_with_the_sessions_number(transport, events):
    assert events.seen[-1].connection_id == CONNECTION_ID
    assert events.seen[-1].phone


def test_send_uses_the_callers_id_and_receipts_follow_delivered_then_read(transport, events):
    message = outgoing()

    assert transport.send(message) == message.wa_id

    delivered = events.next(Receipt)
    read = events.next(Receipt)
    assert (delivered.status, delivered.wa_ids) == ("delivered", (message.wa_id,))
    assert (read.status, read.wa_ids) == ("read", (message.wa_id,))


def test_a_resend_of_the_same_id_is_dropped_by_the_network(transport, events, network):
    message = outgoing()

    transport.send(message)
    transport.send(message)

    assert simulator.outbox(network, CONNECTION_ID)[1] == 1


def test_a_location_and_a_contact_card_reach_the_contacts_phone_with_their_fields_once(transport, events, network):
    place = Location(-23.5613, -46.6565, "Loja Paulista", "Av. Paulista, 1000")
    card = ContactCard("Ana Souza", "+5511912345678")
    location = OutgoingMessage(to="+5511987654321", body=place.text(), wa_id=deterministic_wa_id(CONNECTION_ID, "L"),
                               location=place)
    contact = OutgoingMessage(to="+5511987654321", body=card.vcard(), wa_id=deterministic_wa_id(CONNECTION_ID, "C"),
                              contact_card=card, quoted_wa_id="3EB0IN1")

    assert transport.send_many([location, contact, location]) == [location.wa_id, contact.wa_id, location.wa_id]

    shown, total = simulator.outbox(network, CONNECTION_ID)
    assert total == 2
    assert [(entry["waId"], entry["type"], entry["body"]) for entry in shown] == [
        (location.wa_id, "location", place.text()), (contact.wa_id, "contact", card.vcard())]
    assert (shown[0]["location"], shown[0]["contact"]) == (
        {"latitude": -23.5613, "longitude": -46.6565, "name": "Loja Paulista", "address": "Av. Paulista, 1000"}, None)
    assert (shown[1]["contact"], shown[1]["location"]) == ({"name": "Ana Souza", "phone": "+5511912345678"}, None)
    assert shown[1]["quotedWaId"] == "3EB0IN1"


def test_a_poll_reaches_the_contacts_phone_with_its_options_and_their_votes_come_back_as_whatsapp_sends_them(
        transport, events, network):
    lunch = Poll("Lunch?", ("Pizza", "Sushi", "Salad"), 2)
    poll = OutgoingMessage(to="+5511987654321", body=lunch.text(), wa_id=deterministic_wa_id(CONNECTION_ID, "P"),
                           poll=lunch)

    assert transport.send_many([poll, poll]) == [poll.wa_id, poll.wa_id]
    simulator.inject_vote(network, CONNECTION_ID, "+5511987654321", poll.wa_id, ["Salad", "Pizza"])
    simulator.inject_vote(network, CONNECTION_ID, "+5511987654321", poll.wa_id, [])

    [shown], total = simulator.outbox(network, CONNECTION_ID)
    voted, withdrawn = events.next(PollVoted), events.next(PollVoted)
    assert total == 1
    assert (shown["type"], shown["body"], shown["location"], shown["contact"]) == ("poll", lunch.text(), None, None)
    assert shown["poll"] == {"name": "Lunch?", "options": ["Pizza", "Sushi", "Salad"], "selectableCount": 2}
    assert (voted.wa_id, voted.chat, voted.sender, voted.from_me) == (poll.wa_id, "5511987654321", "5511987654321",
                                                                      False)
    assert voted.option_hashes == (option_hash("Salad"), option_hash("Pizza"))  # by hash, as WhatsApp names them
    assert withdrawn.option_hashes == () and withdrawn.timestamp >= voted.timestamp


def test_marking_a_contacts_messages_read_shows_them_read_on_their_phone_once(transport, events, network):
    transport.mark_read("5511987654321", ["3EB0IN1", "3EB0IN2"])
    transport.mark_read("5511987654321", ["3EB0IN2"])

    shown = simulator.read_receipts(network, CONNECTION_ID, chat="5511987654321")
    assert [entry["waId"] for entry in shown] == ["3EB0IN1", "3EB0IN2"]
    assert simulator.read_receipts(network, CONNECTION_ID, chat="5511900000000") == []


def test_in_a_group_read_receipts_and_reactions_go_to_the_member_who_wrote(transport, events, network):
    group = "120363025246125486@g.us"
    transport.mark_read(group, ["3A0ANA1", "3A0ANA2"], "5511911111111")
    transport.react(group, "3A0ANA1", "🙏", from_me=False, sender="5511911111111")

    assert [(r["waId"], r["chat"], r["sender"]) for r in simulator.read_receipts(network, CONNECTION_ID, group)] == [
        ("3A0ANA1", group, "5511911111111"), ("3A0ANA2", group, "5511911111111")]
    assert [(r["waId"], r["chat"], r["sender"], r["emoji"]) for r in simulator.reactions(network, CONNECTION_ID)] == [
        ("3A0ANA1", group, "5511911111111", "🙏")]


def test_the_contact_sees_us_typing_or_recording_audio_then_stop(transport, events, network):
    def shown() -> tuple[bool, bool]:
        state = simulator.typing(network, CONNECTION_ID)["5511987654321"]
        return state["typing"], state["recording"]

    transport.set_typing("5511987654321", True)
    typing = shown()
    transport.set_typing("5511987654321", True, recording=True)
    recording = shown()
    transport.set_typing("5511987654321", False)

    assert (typing, recording, shown()) == ((True, False), (True, True), (False, False))


def test_a_contacts_typing_reaches_the_session_only_in_a_chat_it_watches_and_until_it_reconnects(
    transport, events, network
):
    unwatched = simulator.inject_typing(network, CONNECTION_ID, "+5511900000009", True)
    transport.watch_presence("5511987654321")
    transport.watch_presence("5511987654321")  # asked again: nothing changes
    heard = [simulator.inject_typing(network, CONNECTION_ID, "+5511987654321", typing, recording)
             for typing, recording in ((True, False), (True, True), (False, True))]
    seen = [events.next(ContactTyping) for _ in heard]
    transport.disconnect()
    transport.connect(events)
    events.next(Connected)

    assert not unwatched and heard == [True, True, True]
    assert [(event.chat, event.sender, event.typing, event.recording) for event in seen] == [
        ("5511987654321", "5511987654321", True, False), ("5511987654321", "5511987654321", True, True),
        ("5511987654321", "5511987654321", False, False)]  # the first heard is the watched chat's: the other dropped
    assert all(event.timestamp > 1_700_000_000 for event in seen)
    assert not simulator.watches(network, CONNECTION_ID, "+5511987654321")  # a new session watches nothing yet


def test_the_number_shows_online_when_told_or_watching_and_a_new_session_starts_offline(transport, events, network):
    offline = simulator.shows_online(network, CONNECTION_ID)
    transport.set_online(True)
    told = simulator.shows_online(network, CONNECTION_ID)
    transport.set_online(False)
    transport.watch_presence("5511987654321")  # WhatsApp tells typing only to a session that is online
    watching = simulator.shows_online(network, CONNECTION_ID)
    transport.disconnect()
    transport.connect(events)
    events.next(Connected)

    assert (offline, told, watching, simulator.shows_online(network, CONNECTION_ID)) == (False, True, True, False)


def test_a_message_deleted_for_everyone_leaves_the_contacts_phone(transport, events, network):
    message = outgoing()
    transport.send(message)

    transport.revoke("5511987654321", message.wa_id)

    [entry] = simulator.outbox(network, CONNECTION_ID)[0]
    assert entry["waId"] == message.wa_id and entry["revokedAt"] is not None
    with pytest.raises(TransportError) as never_sent:
        transport.revoke("5511987654321", deterministic_wa_id(CONNECTION_ID, "never sent"))
    assert never_sent.value.permanent


def test_a_message_edited_shows_its_new_text_on_the_contacts_phone(transport, events, network):
    message = outgoing(body="see you at 5")
    transport.send(message)

    transport.edit("5511987654321", message.wa_id, "see you at 6")
    transport.edit("5511987654321", message.wa_id, "see you at 7")

    [entry] = simulator.outbox(network, CONNECTION_ID)[0]
    assert (entry["waId"], entry["body"]) == (message.wa_id, "see you at 7") and entry["editedAt"] is not None
    with pytest.raises(TransportError) as never_sent:
        transport.edit("5511987654321", deterministic_wa_id(CONNECTION_ID, "never sent"), "hi")
    assert never_sent.value.permanent


def test_our_reaction_shows_on_the_contacts_phone_until_we_take_it_back(transport, events, network):
    ours = outgoing()
    transport.send(ours)

    transport.react("5511987654321", "3EB0THEIRS", "👍", from_me=False)
    transport.react("5511987654321", "3EB0THEIRS", "❤️", from_me=False)
    transport.react("5511987654321", ours.wa_id, "🙏", from_me=True)
    shown = simulator.reactions(network, CONNECTION_ID)
    transport.react("5511987654321", "3EB0THEIRS", "", from_me=False)

    assert [(r["waId"], r["chat"], r["emoji"]) for r in shown] == [("3EB0THEIRS", "5511987654321", "❤️"),
                                                                   (ours.wa_id, "5511987654321", "🙏")]
    assert [r["waId"] for r in simulator.reactions(network, CONNECTION_ID)] == [ours.wa_id]
    with pytest.raises(TransportError) as never_sent:
        transport.react("5511987654321", deterministic_wa_id(CONNECTION_ID, "never sent"), "👍", from_me=True)
    assert never_sent.value.permanent


def test_a_call_arrives_as_an_event_and_rejecting_it_stops_the_ringing_once(transport, events, network):
    call_id = simulator.inject_call(network, CONNECTION_ID, "+5511987654321", video=True)

    call = events.next(IncomingCall)
    transport.reject_call("5511987654321", call_id)
    [rejected] = simulator.calls(network, CONNECTION_ID)
    transport.reject_call("5511987654321", call_id)

    assert (call.call_id, call.chat, call.video, call.is_group) == (call_id, "5511987654321", True, False)
    assert (rejected["callId"], rejected["from"], rejected["video"]) == (call_id, "5511987654321", True)
    assert rejected["rejectedAt"] is not None
    assert simulator.calls(network, CONNECTION_ID) == [rejected]  # rejected again: nothing changes
    with pytest.raises(TransportError) as unknown:
        transport.reject_call("5511900000000", call_id)  # nobody else made this call
    assert unknown.value.permanent


@pytest.mark.parametrize("act", [
    lambda transport: transport.mark_read("5511987654321", ["3EB0IN1"]),
    lambda transport: transport.reject_call("5511987654321", "2F1C0B6A9E8D7C6B"),
    lambda transport: transport.revoke("5511987654321", "3EB0OURS"),
    lambda transport: transport.edit("5511987654321", "3EB0OURS", "hi"),
    lambda transport: transport.react("5511987654321", "3EB0THEIRS", "👍", from_me=False),
    lambda transport: transport.set_typing("5511987654321", True),
    lambda transport: transport.watch_presence("5511987654321"),
    lambda transport: transport.set_online(True),
    lambda transport: transport.on_whatsapp(["5511987654321"]),
    lambda transport: transport.profile_picture("5511987654321"),
    lambda transport: transport.group_subject("120363012345678901@g.us"),
], ids=["read receipts", "rejecting a call", "deleting", "editing", "reacting", "typing", "watching typing",
        "showing online", "checking numbers", "profile pictures", "group subjects"])
def test_session_actions_need_a_connected_session(transport, events, act):
    transport.disconnect()

    with pytest.raises(TransportError) as refused:
        act(transport)

    assert not refused.value.permanent


def test_which_numbers_are_on_whatsapp_is_answered_for_each_number_asked(transport, events, network):
    simulator.configure(network, CONNECTION_ID, notOnWhatsapp=["+5511900000002"])

    found = transport.on_whatsapp(["5511900000001", "5511900000002"])

    assert found == {"5511900000001": True, "5511900000002": False}


def test_each_number_shows_a_profile_picture_of_its_own_the_same_until_it_changes(transport, events, network):
    first, again, other = (transport.profile_picture(chat) for chat in ("5511900000001", "5511900000001",
                                                                        "5511900000002"))
    simulator.configure(network, CONNECTION_ID, profilePictures={"+5511900000001": "https://example.com/ana.jpg",
                                                                 "5511900000002": None})
    changed, hidden = transport.profile_picture("5511900000001"), transport.profile_picture("5511900000002")

    assert first == again and first.png.startswith(b"\x89PNG") and first.url is None
    assert other.id != first.id and other.png != first.png
    assert (changed.url, changed.png) == ("https://example.com/ana.jpg", None) and changed.id != first.id
    assert hidden is None


def test_send_many_answers_each_message_in_order_and_a_refusal_stops_only_its_own(transport, events, network):
    simulator.configure(network, CONNECTION_ID, notOnWhatsapp=["+5511900000002"])
    messages = [OutgoingMessage(to=f"+551190000000{n}", body=f"hello {n}", wa_id=deterministic_wa_id(CONNECTION_ID, str(n)))
                for n in range(1, 4)]

    first, refused, third = transport.send_many(messages)

    assert (first, third) == (messages[0].wa_id, messages[2].wa_id)
    assert isinstance(refused, TransportError) and refused.permanent
    entries, total = simulator.outbox(network, CONNECTION_ID)
    assert total == 2 and [entry["body"] for entry in entries] == ["hello 1", "hello 3"]


def test_receipts_of_many_sends_come_in_batches(transport, events, network):
    simulator.configure(network, CONNECTION_ID, deliveredAfterMs=200, readAfterMs=-1)
    ids = {transport.send(outgoing(key=str(n))) for n in range(50)}

    received: set[str] = set()
    batches = 0
    while received != ids:
        received |= set(events.next(Receipt).wa_ids)
        batches += 1

    assert batches < 50


def test_a_permanent_refusal_is_a_permanent_transport_error(transport, events, network):
    simulator.configure(network, CONNECTION_ID, notOnWhatsapp=["+5511987654321"])

    with pytest.raises(TransportError) as refused:
        transport.send(outgoing())

    assert refused.value.permanent and refused.value.reason_code == "not_on_whatsapp"


def test_a_network_failure_is_a_transient_transport_error(transport, events, network):
    simulator.configure(network, CONNECTION_ID, failRate=1.0)

    with pytest.raises(TransportError) as failed:
        transport.send(outgoing())

    assert not failed.value.permanent


def test_an_inbound_message_arrives_as_an_event(transport, events, network):
    wa_id = simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", "oi", name="Ana")

    inbound = events.next(InboundMessage)

    assert (inbound.wa_id, inbound.chat, inbound.body, inbound.sender_name) == (wa_id, "5511987654321", "oi", "Ana")
    assert not inbound.from_me and not inbound.is_group


def test_a_group_members_message_arrives_in_the_groups_chat_from_them_and_the_group_has_its_subject(
        transport, events, network):
    named = simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", "bom dia", name="Ana",
                                     group="120363012345678901", group_name="Equipe de vendas")
    first = events.next(InboundMessage)
    subject = transport.group_subject("120363012345678901@g.us")
    simulator.inject_inbound(network, CONNECTION_ID, "+5511912345678", "oi", group="120363012345678901@g.us")
    unnamed = events.next(InboundMessage)
    kept = transport.group_subject("120363012345678901@g.us")
    simulator.inject_inbound(network, CONNECTION_ID, "+5511912345678", "novo nome", group="120363012345678901",
                             group_name="Vendas 2025")
    events.next(InboundMessage)

    assert (first.wa_id, first.chat, first.sender, first.sender_name, first.is_group) == (
        named, "120363012345678901@g.us", "5511987654321", "Ana", True)
    assert (unnamed.chat, unnamed.sender, unnamed.sender_name) == ("120363012345678901@g.us", "5511912345678", None)
    assert (subject, kept) == ("Equipe de vendas", "Equipe de vendas")
    assert transport.group_subject("120363012345678901@g.us") == "Vendas 2025"
    with pytest.raises(TransportError) as not_ours:
        transport.group_subject("120363099999999999@g.us")  # no member of it ever wrote: we are not in it
    assert not_ours.value.permanent


def test_a_session_whose_number_ignores_its_groups_drops_their_messages_as_they_arrive(network):
    ignoring = threading.Event()
    ignoring.set()
    transport = build_transport("simulator", CONNECTION_ID, redis_url=settings.redis_url,
                                ignores_groups=ignoring.is_set)
    events = Events()
    transport.connect(events)
    try:
        events.next(Connected)
        simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", "bom dia", group="120363012345678901")
        direct = simulator.inject_inbound(network, CONNECTION_ID, "+5511912345678", "oi")
        first = events.next(InboundMessage)
        ignoring.clear()  # the number keeps its groups again
        kept = simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", "boa tarde",
                                        group="120363012345678901")
        second = events.next(InboundMessage)
    finally:
        transport.disconnect()

    assert (first.wa_id, first.is_group) == (direct, False)
    assert (second.wa_id, second.is_group) == (kept, True)


def test_a_group_is_named_by_its_id_or_its_digits_and_nothing_else_is_a_group():
    assert simulator.group_id("120363012345678901") == "120363012345678901@g.us"
    assert simulator.group_id("5511987654321-1600000000@g.us") == "5511987654321-1600000000@g.us"
    for not_a_group in ("", "sales", "5511987654321@s.whatsapp.net", "123@lid"):
        with pytest.raises(ValueError):
            simulator.group_id(not_a_group)


def inbound_messages(events: Events, count: int) -> list[InboundMessage]:
    """The next `count` messages from contacts, whether they came one by one or in batches."""
    messages: list[InboundMessage] = []
    while len(messages) < count:
        event = events.next(InboundMessage | InboundBatch)
        messages.extend(getattr(event, "messages", (event,)))
    return messages


def test_what_a_contact_shares_arrives_as_whatsapp_carries_it(transport, events, network):
    place = Location(-23.5613, -46.6565, "Loja Paulista", "Av. Paulista, 1000")
    card = ContactCard("Ana Souza", "+5511912345678")
    photo = simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", "the receipt",
                                     media={"mimetype": "image/png", "filename": "receipt.png", "data": PNG})
    invoice = simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321",
                                       media={"mimetype": "application/pdf", "filename": "invoice.pdf", "data": PDF})
    simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", location=place)
    simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", contact_card=card)

    image, document, located, carded = inbound_messages(events, 4)

    assert (image.wa_id, image.type, image.body) == (photo, "image", "the receipt")
    assert image.media == {"mimetype": "image/png", "filename": None, "data": base64.b64encode(PNG).decode()}
    assert (document.wa_id, document.type, document.body, document.media["filename"]) == (
        invoice, "document", "", "invoice.pdf")
    assert (located.type, located.body, located.location, located.media) == ("location", place.text(), place, None)
    assert (carded.type, carded.body, carded.contact_card) == ("contact", card.vcard(), card)


def test_a_contacts_poll_arrives_with_its_question_and_options_and_goes_alone(transport, events, network):
    meet = Poll("Meet?", ("Mon", "Tue"), 0)

    wa_id = simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", poll=meet)

    [asked] = inbound_messages(events, 1)
    assert (asked.wa_id, asked.type, asked.body, asked.poll) == (wa_id, "poll", meet.text(), meet)
    with pytest.raises(ValueError, match="a poll goes alone"):
        simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", "vote!", poll=meet)
    with pytest.raises(ValueError, match="not a location and a poll"):
        simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", location=Location(1, 2), poll=meet)


def test_a_message_with_a_file_goes_to_the_handler_alone_in_its_turn_and_the_network_forgets_the_file(network):
    sent = [simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", "one"),
            simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", "two"),
            simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321",
                                     media={"mimetype": "audio/ogg; codecs=opus", "data": OGG}),
            simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", "three")]
    transport = build_transport("simulator", CONNECTION_ID, redis_url=settings.redis_url)
    events = Events()

    transport.connect(events)
    arrived = [events.next(InboundMessage | InboundBatch) for _ in range(3)]
    transport.disconnect()

    assert [wa_ids(event) for event in arrived] == [sent[:2], sent[2:3], sent[3:]]
    voice_note = arrived[1]
    assert (voice_note.type, voice_note.media["mimetype"], base64.b64decode(voice_note.media["data"])) == (
        "audio", "audio/ogg", OGG)
    assert not network.exists(simulator.key(CONNECTION_ID, "media"))


def test_a_message_the_contact_deletes_for_everyone_arrives_as_a_revoke_after_it(transport, events, network):
    wa_id = simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", "oops")
    simulator.inject_revoke(network, CONNECTION_ID, "+5511987654321", wa_id)

    assert events.next(InboundMessage).wa_id == wa_id
    assert events.next(MessageRevoked) == MessageRevoked(CONNECTION_ID, wa_id=wa_id, chat="5511987654321")


def test_what_a_contact_edits_or_reacts_to_arrives_after_it_in_order(transport, events, network):
    wa_id = simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", "see you at 5")
    simulator.inject_edit(network, CONNECTION_ID, "+5511987654321", wa_id, "see you at 6")
    simulator.inject_reaction(network, CONNECTION_ID, "+5511987654321", "3EB0OURS", "👍")
    simulator.inject_reaction(network, CONNECTION_ID, "+5511987654321", "3EB0OURS", "")

    assert events.next(InboundMessage).wa_id == wa_id
    edited = events.next(MessageEdited)
    reacted, taken_back = events.next(MessageReacted), events.next(MessageReacted)

    assert (edited.wa_id, edited.chat, edited.body) == (wa_id, "5511987654321", "see you at 6") and edited.timestamp
    assert (reacted.wa_id, reacted.chat, reacted.sender, reacted.emoji, reacted.from_me) == (
        "3EB0OURS", "5511987654321", "5511987654321", "👍", False)
    assert taken_back.emoji == "" and taken_back.timestamp >= reacted.timestamp


def test_a_backlog_of_inbound_messages_arrives_in_batches_in_order_each_once(network):
    with network.pipeline(transaction=False) as pipe:
        sent = [simulator.inject_inbound(pipe, CONNECTION_ID, "+5511987654321", f"m{n}")
                for n in range(simulator_session.INBOUND_BATCH * 2 + 50)]
        pipe.execute()
    transport = build_transport("simulator", CONNECTION_ID, redis_url=settings.redis_url)
    events = Events()

    transport.connect(events)
    batches = [events.next(InboundBatch) for _ in range(3)]
    transport.disconnect()

    assert [len(batch.messages) for batch in batches] == [simulator_session.INBOUND_BATCH, simulator_session.INBOUND_BATCH, 50]
    assert [message.wa_id for batch in batches for message in batch.messages] == sent
    assert network.llen(simulator.key(CONNECTION_ID, "processing")) == 0


def test_a_dropped_session_reports_disconnected_and_connects_again(transport, events, network):
    simulator.push_command(network, CONNECTION_ID, "disconnect")

    events.next(Disconnected)
    transport.connect(events)

    events.next(Connected)


def test_a_session_that_needs_a_login_shows_a_qr_then_connects_when_scanned(transport, network):
    simulator.configure(network, CONNECTION_ID, requireQr=True)
    events = Events()

    transport.connect(events)
    qr = events.next(QrCode)
    simulator.push_command(network, CONNECTION_ID, "scan")

    assert qr.code
    events.next(Connected)


def test_a_pair_code_login_when_the_connection_asks_for_one(network):
    simulator.configure(network, CONNECTION_ID, requireQr=True)
    transport = build_transport("simulator", CONNECTION_ID, redis_url=settings.redis_url, pair_phone="5511987654321")
    events = Events()

    transport.connect(events)

    assert events.next(PairCode).code
    transport.disconnect()


def test_logout_reports_logged_out_and_the_next_connect_needs_a_login(transport, events, network):
    simulator.configure(network, CONNECTION_ID, requireQr=True)

    transport.logout()
    events.next(LoggedOut)
    transport.connect(events)

    events.next(QrCode)


def wa_ids(event: InboundMessage | InboundBatch) -> list[str]:
    return [message.wa_id for message in getattr(event, "messages", (event,))]


@pytest.mark.parametrize("count", [1, 3], ids=["a message", "a batch"])
def test_inbound_messages_the_handler_could_not_take_come_again_in_order(transport, network, count):
    sent = [simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", f"m{n}") for n in range(count)]
    events = Events()
    refusals = []

    def flaky(event):
        if isinstance(event, InboundMessage | InboundBatch) and not refusals:
            refusals.append(event)
            raise ConnectionError("the broker is down")
        events(event)

    transport.connect(flaky)

    assert wa_ids(events.next(InboundMessage | InboundBatch)) == wa_ids(refusals[0]) == sent


def test_an_inbound_message_in_hand_when_the_gateway_died_comes_again_to_the_next_session(network):
    simulator.inject_inbound(network, CONNECTION_ID, "+5511987654321", "oi", wa_id="3EB0AGAIN")
    network.lmove(simulator.key(CONNECTION_ID, "commands"), simulator.key(CONNECTION_ID, "processing"), "RIGHT", "LEFT")
    transport = build_transport("simulator", CONNECTION_ID, redis_url=settings.redis_url)
    events = Events()

    transport.connect(events)

    assert events.next(InboundMessage).wa_id == "3EB0AGAIN"
    transport.disconnect()


# --- blocking contacts, and the number's own profile
def test_a_blocked_contact_is_on_the_sessions_blocklist_until_unblocked_and_each_twice_changes_nothing_more(
        transport, events, network):
    for _ in range(2):
        transport.set_blocked("5511900000001", True)
    transport.set_blocked("5511900000002", True)
    blocked = simulator.blocklist(network, CONNECTION_ID)
    for _ in range(2):
        transport.set_blocked("5511900000001", False)

    assert blocked == ["5511900000001", "5511900000002"]
    assert simulator.blocklist(network, CONNECTION_ID) == ["5511900000002"]


def test_a_number_not_on_whatsapp_cannot_be_blocked_and_an_offline_session_blocks_no_one(transport, events, network):
    simulator.configure(network, CONNECTION_ID, notOnWhatsapp=["+5511900000002"])
    with pytest.raises(TransportError) as absent:
        transport.set_blocked("5511900000002", True)
    transport.disconnect()
    with pytest.raises(TransportError) as offline:
        transport.set_blocked("5511900000001", True)

    assert (absent.value.permanent, absent.value.reason_code) == (True, "not_on_whatsapp")
    assert not offline.value.permanent and simulator.blocklist(network, CONNECTION_ID) == []


def test_the_numbers_own_name_about_and_picture_show_on_the_network_until_the_picture_is_removed(
        transport, events, network):
    transport.set_profile_name("Loja Centro")
    transport.set_about("Atendimento das 8h às 18h")
    picture_id = transport.set_profile_picture(b"\xff\xd8\xff-a-jpeg")
    shown = simulator.profile(network, CONNECTION_ID)
    removed = transport.set_profile_picture(None)

    assert shown == {"name": "Loja Centro", "about": "Atendimento das 8h às 18h", "pictureId": picture_id,
                     "picture": b"\xff\xd8\xff-a-jpeg"}
    after = simulator.profile(network, CONNECTION_ID)
    assert picture_id and removed is None
    assert (after["name"], after["pictureId"], after["picture"]) == ("Loja Centro", None, None)


@pytest.mark.parametrize("act", [
    lambda transport: transport.set_profile_name("Loja"),
    lambda transport: transport.set_about("oi"),
    lambda transport: transport.set_profile_picture(None),
], ids=["name", "about", "picture"])
def test_the_profile_needs_a_connected_session(transport, events, act):
    transport.disconnect()

    with pytest.raises(TransportError) as refused:
        act(transport)

    assert not refused.value.permanent
