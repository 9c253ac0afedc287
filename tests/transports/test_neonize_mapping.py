"""The neonize transport without a phone: real neonize protobuf events mapped to ours, sending up to
neonize's client (its upload/send calls are recorded here, as no WhatsApp session exists), and the
session store opened by neonize's own Go code in our database.
"""

from __future__ import annotations

import base64
import hashlib
import time
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from neonize.client import ClientFactory
from neonize.exc import (
    DecryptPollVoteError,
    GetGroupInfoError,
    GetProfilePictureError,
    MarkReadError,
    RejectCallError,
    SendAppStateError,
    SendMessageError,
    SendPresenceError,
    SetGroupPhotoError,
    SetStatusMessageError,
    SubscribePresenceError,
    UpdateBlocklistError,
)
from neonize.proto import Neonize_pb2 as neonize_proto
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AlbumMessage,
    ButtonsMessage,
    CallLogMessage,
    ContactMessage,
    ContactsArrayMessage,
    ContextInfo,
    DocumentMessage,
    EncReactionMessage,
    EventMessage,
    ExtendedTextMessage,
    FutureProofMessage,
    GroupInviteMessage,
    HighlyStructuredMessage,
    ImageMessage,
    InteractiveMessage,
    InvoiceMessage,
    KeepInChatMessage,
    ListMessage,
    LiveLocationMessage,
    LocationMessage,
    Message,
    MessageContextInfo,
    NewsletterAdminInviteMessage,
    NewsletterFollowerInviteMessage,
    OrderMessage,
    PaymentInviteMessage,
    PinInChatMessage,
    PollCreationMessage,
    PollResultSnapshotMessage,
    PollUpdateMessage,
    PollVoteMessage,
    ProductMessage,
    ProtocolMessage,
    ReactionMessage,
    RequestPaymentMessage,
    ScheduledCallCreationMessage,
    SenderKeyDistributionMessage,
    SendPaymentMessage,
    StickerPackMessage,
    TemplateMessage,
    VideoMessage,
)
from neonize.utils.enum import (
    BlocklistAction,
    ChatPresence,
    ChatPresenceMedia,
    MediaType,
    Presence,
    ReceiptType,
)
from PIL import Image

from wharf.media import MAX_BYTES
from wharf.settings import settings
from workers.transports.base import (
    AddressBookEntry,
    Connected,
    ContactCard,
    ContactTyping,
    Disconnected,
    GroupChanged,
    InboundMessage,
    IncomingCall,
    Location,
    LoggedOut,
    MessageEdited,
    MessageReacted,
    MessageRevoked,
    OutgoingMessage,
    Poll,
    PollVoted,
    ProfilePicture,
    QrCode,
    Receipt,
    StatusPost,
    TransportError,
    option_hash,
)
from workers.transports.neonize_mapping import address_book_of, map_event, session_store, status_text_message
from workers.transports.neonize_transport import NeonizeTransport, SessionClient, build_message, with_media

CONNECTION_ID = 3
CONTACT = neonize_proto.JID(User="5511987654321", Server="s.whatsapp.net")
ME = neonize_proto.JID(User="5511900000000", Server="s.whatsapp.net")
GROUP = neonize_proto.JID(User="120363025246125486", Server="g.us")


def message_event(message: Message, chat=CONTACT, sender=CONTACT, **source) -> neonize_proto.Message:
    return neonize_proto.Message(
        Info=neonize_proto.MessageInfo(
            ID="3A0123456789ABCDEF", Pushname="Ana", Timestamp=1_700_000_000_123,
            MessageSource=neonize_proto.MessageSource(Chat=chat, Sender=sender, **source),
        ),
        Message=message,
    )


# --- inbound messages
def test_a_text_message_from_a_contact():
    inbound = map_event(CONNECTION_ID, message_event(Message(conversation="oi")))

    assert inbound == InboundMessage(
        CONNECTION_ID, wa_id="3A0123456789ABCDEF", chat="5511987654321", sender="5511987654321",
        sender_name="Ana", body="oi", timestamp=1_700_000_000.123,
    )


def test_a_reply_carries_the_quoted_id():
    text = ExtendedTextMessage(text="yes", contextInfo=ContextInfo(stanzaID="3EB0QUOTED"))

    inbound = map_event(CONNECTION_ID, message_event(Message(extendedTextMessage=text)))

    assert (inbound.body, inbound.quoted_wa_id) == ("yes", "3EB0QUOTED")


def test_an_image_with_its_caption_and_downloaded_bytes():
    image = ImageMessage(caption="the receipt", mimetype="image/jpeg", fileLength=4,
                         contextInfo=ContextInfo(stanzaID="3EB0Q"))

    inbound = with_media(map_event(CONNECTION_ID, message_event(Message(imageMessage=image))), b"\xff\xd8ok")

    assert (inbound.type, inbound.body, inbound.quoted_wa_id) == ("image", "the receipt", "3EB0Q")
    assert inbound.media == {"mimetype": "image/jpeg", "filename": None,
                             "data": base64.b64encode(b"\xff\xd8ok").decode()}


def test_a_document_keeps_its_name_and_media_over_16_mb_are_not_inlined():
    document = DocumentMessage(mimetype="application/pdf", fileName="invoice.pdf")

    inbound = with_media(map_event(CONNECTION_ID, message_event(Message(documentMessage=document))),
                         b"x" * (MAX_BYTES + 1))

    assert inbound.type == "document"
    assert inbound.media == {"mimetype": "application/pdf", "filename": "invoice.pdf"}


def test_a_location_says_its_place_then_its_coordinates_and_a_live_one_its_coordinates():
    place = LocationMessage(degreesLatitude=-23.5613, degreesLongitude=-46.6565, name="Loja Paulista",
                            address="Av. Paulista, 1000", contextInfo=ContextInfo(stanzaID="3EB0Q"))
    live = LiveLocationMessage(degreesLatitude=-22.9, degreesLongitude=-43.2)

    pinned = map_event(CONNECTION_ID, message_event(Message(locationMessage=place)))
    moving = map_event(CONNECTION_ID, message_event(Message(liveLocationMessage=live)))

    assert (pinned.type, pinned.body, pinned.quoted_wa_id) == (
        "location", "Loja Paulista\nAv. Paulista, 1000\n-23.5613,-46.6565", "3EB0Q")
    assert pinned.location == Location(-23.5613, -46.6565, "Loja Paulista", "Av. Paulista, 1000")
    assert (moving.type, moving.body, moving.location) == ("location", "-22.9,-43.2", Location(-22.9, -43.2))


IPHONE_VCARD = ("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Souza;Ana;;;\r\nFN:Ana Souza\r\n"
                "item1.TEL;waid=5511912345678:+55 11 91234-5678\r\nitem1.X-ABLabel:Celular\r\nEND:VCARD")


def test_a_contact_card_comes_as_its_vcard_and_the_card_it_describes():
    card = ContactMessage(displayName="Ana", vcard=IPHONE_VCARD, contextInfo=ContextInfo(stanzaID="3EB0Q"))

    inbound = map_event(CONNECTION_ID, message_event(Message(contactMessage=card)))

    assert (inbound.type, inbound.body, inbound.quoted_wa_id) == ("contact", IPHONE_VCARD, "3EB0Q")
    assert inbound.contact_card == ContactCard("Ana Souza", "+5511912345678")


@pytest.mark.parametrize("vcard, display_name, card", [
    (ContactCard("Souza, Ana; \"filha\"", "+5511912345678").vcard(), "", ContactCard("Souza, Ana; \"filha\"",
                                                                                       "+5511912345678")),
    ("BEGIN:VCARD\nVERSION:3.0\nTEL;TYPE=CELL:+55 11 9123\n 4-5678\nEND:VCARD", "Ana",
     ContactCard("Ana", "+5511912345678")),  # no waid, a folded line, the name WhatsApp gave the card
    ("BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nTEL;TYPE=HOME:(11) 3123-4567\nTEL;waid=5511912345678:+55 11 91234-5678\n"
     "END:VCARD", "", ContactCard("Ana", "+5511912345678")),  # a local number says no country: the next one does
    ("BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nEMAIL:ana@example.com\nEND:VCARD", "Ana", None),  # no number at all
    ("BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nTEL:(11) 91234-5678\nEND:VCARD", "Ana", None),  # whose country is unknown
], ids=["ours", "no waid", "a local number first", "no number", "only a local number"])
def test_a_contact_cards_number_is_its_whatsapp_id_or_an_international_number_and_without_one_there_is_no_card(
        vcard, display_name, card):
    inbound = map_event(CONNECTION_ID, message_event(Message(contactMessage=ContactMessage(displayName=display_name,
                                                                                           vcard=vcard))))

    assert (inbound.type, inbound.body, inbound.contact_card) == ("contact", vcard, card)


def test_several_cards_at_once_are_one_message_with_every_vcard_and_the_first_card_that_has_a_number():
    no_number = "BEGIN:VCARD\nVERSION:3.0\nFN:Reception\nEND:VCARD"
    second = ContactCard("Bruno", "+5521987654321").vcard()
    cards = ContactsArrayMessage(displayName="3 contacts", contacts=[
        ContactMessage(displayName="Reception", vcard=no_number), ContactMessage(displayName="Ana", vcard=IPHONE_VCARD),
        ContactMessage(displayName="Bruno", vcard=second)])

    inbound = map_event(CONNECTION_ID, message_event(Message(contactsArrayMessage=cards)))

    assert (inbound.type, inbound.body) == ("contact", "\n".join([no_number, IPHONE_VCARD, second]))
    assert inbound.contact_card == ContactCard("Ana Souza", "+5511912345678")


def poll_creation(name: str, *options: str, selectable: int = 1, **fields) -> PollCreationMessage:
    return PollCreationMessage(name=name, options=[PollCreationMessage.Option(optionName=o) for o in options],
                               selectableOptionsCount=selectable, **fields)


@pytest.mark.parametrize("version", ["pollCreationMessage", "pollCreationMessageV2", "pollCreationMessageV3",
                                     "pollCreationMessageV5", "pollCreationMessageV6"])
def test_a_contacts_poll_of_any_version_comes_as_its_question_and_options(version):
    asked = poll_creation("Meet?", "Mon", "Tue", selectable=0, contextInfo=ContextInfo(stanzaID="3EB0Q"))

    inbound = map_event(CONNECTION_ID, message_event(Message(**{version: asked}), chat=GROUP, sender=CONTACT,
                                                     IsGroup=True))

    assert (inbound.type, inbound.body, inbound.quoted_wa_id) == ("poll", "Meet?\n○ Mon\n○ Tue", "3EB0Q")
    assert (inbound.poll, inbound.chat, inbound.sender) == (Poll("Meet?", ("Mon", "Tue"), 0),
                                                            "120363025246125486@g.us", "5511987654321")


def test_a_group_message_is_in_the_group_chat_from_its_participant_by_their_number_and_push_name():
    inbound = map_event(CONNECTION_ID, message_event(Message(conversation="hi all"), chat=GROUP, sender=CONTACT,
                                                     IsGroup=True))
    hidden = neonize_proto.JID(User="98765432101234", Server="lid")
    by_lid = map_event(CONNECTION_ID, message_event(Message(conversation="oi"), chat=GROUP, sender=hidden,
                                                    IsGroup=True))
    beside = map_event(CONNECTION_ID, message_event(Message(conversation="oi"), chat=GROUP, sender=hidden,
                                                    SenderAlt=CONTACT, IsGroup=True))

    assert (inbound.chat, inbound.sender, inbound.sender_name, inbound.is_group) == (
        "120363025246125486@g.us", "5511987654321", "Ana", True)
    assert (by_lid.chat, by_lid.sender, by_lid.sender_name) == ("120363025246125486@g.us", "98765432101234@lid", "Ana")
    assert beside.sender == "5511987654321"  # the number WhatsApp sent beside the member's LID


def test_a_message_sent_from_the_phone_is_from_me_in_the_contacts_chat():
    inbound = map_event(CONNECTION_ID, message_event(Message(conversation="sent on the phone"), sender=ME,
                                                     IsFromMe=True))

    assert inbound.from_me and inbound.chat == "5511987654321" and inbound.sender == "5511900000000"


def test_a_hidden_number_sender_is_known_by_the_phone_number_beside_it():
    lid = neonize_proto.JID(User="98765432101234", Server="lid")

    inbound = map_event(CONNECTION_ID, message_event(Message(conversation="oi"), chat=lid, sender=lid,
                                                     SenderAlt=CONTACT))

    assert (inbound.chat, inbound.sender) == ("5511987654321", "5511987654321")


def test_a_message_the_contact_deletes_for_everyone_is_revoked_and_one_we_delete_from_the_phone_is_not_ours_to_map():
    revoke = Message(protocolMessage=ProtocolMessage(type=ProtocolMessage.REVOKE, key=MessageKey(ID="3EB0GONE")))

    revoked = map_event(CONNECTION_ID, message_event(revoke))

    assert revoked == MessageRevoked(CONNECTION_ID, wa_id="3EB0GONE", chat="5511987654321")
    assert map_event(CONNECTION_ID, message_event(revoke, IsFromMe=True)) is None


def edit(text: Message, key_id: str = "3EB0MINE") -> Message:
    return Message(protocolMessage=ProtocolMessage(type=ProtocolMessage.MESSAGE_EDIT, key=MessageKey(ID=key_id),
                                                   editedMessage=text, timestampMS=1_700_000_060_500))


def test_a_message_the_contact_edits_comes_as_its_new_text_with_when_and_one_we_edit_from_the_phone_does_not():
    event = message_event(edit(Message(conversation="see you at 5")))
    event.IsEdit = True  # whatsmeow unwrapped it from its `editedMessage`

    unwrapped = map_event(CONNECTION_ID, event)
    with_reply = map_event(CONNECTION_ID, message_event(
        edit(Message(extendedTextMessage=ExtendedTextMessage(text="at 6, then")))))
    captioned = map_event(CONNECTION_ID, message_event(edit(Message(imageMessage=ImageMessage(caption="the bill")))))

    assert unwrapped == MessageEdited(CONNECTION_ID, wa_id="3EB0MINE", chat="5511987654321", body="see you at 5",
                                      timestamp=1_700_000_060.5)
    assert (with_reply.body, captioned.body) == ("at 6, then", "the bill")
    assert map_event(CONNECTION_ID, message_event(edit(Message()))) is None  # nothing we can read: no blank text
    assert map_event(CONNECTION_ID, message_event(edit(Message(conversation="x")), sender=ME, IsFromMe=True)) is None


def reaction(emoji: str, key_id: str = "3EB0OURS", **key) -> Message:
    return Message(reactionMessage=ReactionMessage(key=MessageKey(ID=key_id, **key), text=emoji,
                                                   senderTimestampMS=1_700_000_090_000))


def test_a_reaction_names_the_message_and_who_reacted_and_an_empty_one_takes_it_back():
    reacted = map_event(CONNECTION_ID, message_event(reaction("👍")))
    taken_back = map_event(CONNECTION_ID, message_event(reaction("")))
    in_group = map_event(CONNECTION_ID, message_event(reaction("❤️", key_id="3A0THEIRS"), chat=GROUP, sender=CONTACT,
                                                      IsGroup=True))
    from_our_phone = map_event(CONNECTION_ID, message_event(reaction("🙏", fromMe=True), sender=ME, IsFromMe=True))

    assert reacted == MessageReacted(CONNECTION_ID, wa_id="3EB0OURS", chat="5511987654321", sender="5511987654321",
                                     emoji="👍", timestamp=1_700_000_090.0)
    assert (taken_back.emoji, taken_back.wa_id) == ("", "3EB0OURS")
    assert (in_group.chat, in_group.sender, in_group.wa_id) == ("120363025246125486@g.us", "5511987654321", "3A0THEIRS")
    assert (from_our_phone.chat, from_our_phone.emoji, from_our_phone.from_me) == ("5511987654321", "🙏", True)


QUOTE = ContextInfo(stanzaID="3EB0Q")


@pytest.mark.parametrize("message, label, quoted", [
    (Message(eventMessage=EventMessage(name="Launch", startTime=1_700_000_000, contextInfo=QUOTE)),
     "📅 An event", "3EB0Q"),
    (Message(productMessage=ProductMessage(contextInfo=QUOTE)), "📦 A product", "3EB0Q"),
    (Message(orderMessage=OrderMessage(orderID="1042", itemCount=2, contextInfo=QUOTE)), "🛒 An order", "3EB0Q"),
    (Message(invoiceMessage=InvoiceMessage(note="March")), "🧾 An invoice", None),
    (Message(groupInviteMessage=GroupInviteMessage(groupJID="120363025246125486@g.us", inviteCode="AbC",
                                                   groupName="Vendas", contextInfo=QUOTE)),
     "👥 An invitation to a group", "3EB0Q"),
    (Message(newsletterAdminInviteMessage=NewsletterAdminInviteMessage(newsletterName="News", contextInfo=QUOTE)),
     "📣 An invitation to a channel", "3EB0Q"),
    (Message(newsletterFollowerInviteMessageV2=NewsletterFollowerInviteMessage(newsletterName="News",
                                                                               contextInfo=QUOTE)),
     "📣 An invitation to a channel", "3EB0Q"),
    (Message(listMessage=ListMessage(title="Menu", buttonText="Open", contextInfo=QUOTE)),
     "📋 A list to choose from", "3EB0Q"),
    (Message(buttonsMessage=ButtonsMessage(contentText="Choose", contextInfo=QUOTE)),
     "🔘 A message with buttons", "3EB0Q"),
    (Message(templateMessage=TemplateMessage(templateID="t1", contextInfo=QUOTE)),
     "🔘 A message with buttons", "3EB0Q"),
    (Message(interactiveMessage=InteractiveMessage(contextInfo=QUOTE)), "🔘 A message with buttons", "3EB0Q"),
    (Message(highlyStructuredMessage=HighlyStructuredMessage(namespace="shop", elementName="receipt")),
     "💼 A business template message", None),
    (Message(paymentInviteMessage=PaymentInviteMessage(expiryTimestamp=1_700_086_400)),
     "💳 An invitation to WhatsApp payments", None),
    (Message(requestPaymentMessage=RequestPaymentMessage(currencyCodeIso4217="BRL", amount1000=50_000)),
     "💳 A payment request", None),
    (Message(sendPaymentMessage=SendPaymentMessage(transactionData="x")), "💳 A payment", None),
    (Message(stickerPackMessage=StickerPackMessage(name="Cats", contextInfo=QUOTE)), "🗂️ A sticker pack", "3EB0Q"),
    (Message(pollCreationMessageV4=FutureProofMessage(message=Message(pollCreationMessage=PollCreationMessage(
        name="Lunch?")))), "📊 A poll", None),
    (Message(pollResultSnapshotMessage=PollResultSnapshotMessage(name="Lunch?", contextInfo=QUOTE)),
     "📊 A poll's results", "3EB0Q"),
    (Message(pollResultSnapshotMessageV3=PollResultSnapshotMessage(name="Lunch?", contextInfo=QUOTE)),
     "📊 A poll's results", "3EB0Q"),
    (Message(scheduledCallCreationMessage=ScheduledCallCreationMessage(title="Demo")), "📅 A scheduled call", None),
])
def test_a_kind_wharf_does_not_show_comes_as_unsupported_saying_what_it_was_with_its_quote(message, label, quoted):
    inbound = map_event(CONNECTION_ID, message_event(message))

    assert (inbound.type, inbound.body, inbound.quoted_wa_id) == (
        "unsupported", f"{label} — open WhatsApp on the phone to see it", quoted)
    assert (inbound.sender, inbound.media) == ("5511987654321", None)


def test_status_updates_and_other_protocol_messages_are_not_messages():
    status = neonize_proto.JID(User="status", Server="broadcast")

    assert map_event(CONNECTION_ID, message_event(Message(conversation="story"), chat=status)) is None
    assert map_event(CONNECTION_ID, message_event(reaction("👍"), chat=status)) is None


@pytest.mark.parametrize("message", [
    Message(protocolMessage=ProtocolMessage(type=ProtocolMessage.EPHEMERAL_SETTING)),
    Message(senderKeyDistributionMessage=SenderKeyDistributionMessage(groupID="120363025246125486@g.us")),
    Message(messageContextInfo=MessageContextInfo(messageSecret=b"s" * 32)),
    Message(keepInChatMessage=KeepInChatMessage(key=MessageKey(ID="3EB0A"))),
    Message(pinInChatMessage=PinInChatMessage(key=MessageKey(ID="3EB0A"), type=PinInChatMessage.PIN_FOR_ALL)),
    Message(encReactionMessage=EncReactionMessage(targetMessageKey=MessageKey(ID="3EB0A"))),
    Message(pollUpdateMessage=PollUpdateMessage(pollCreationMessageKey=MessageKey(ID="3EB0POLL"))),
    Message(albumMessage=AlbumMessage(expectedImageCount=2)),  # its photos come as messages of their own
    Message(callLogMesssage=CallLogMessage(isVideo=False)),  # calls are recorded from their offer
])
def test_protocol_and_system_messages_are_no_messages_and_no_placeholders(message):
    assert map_event(CONNECTION_ID, message_event(message)) is None


# --- groups
def test_a_groups_new_subject_and_members_are_mapped_and_its_other_changes_are_not_ours():
    renamed = map_event(CONNECTION_ID, neonize_proto.GroupInfoEvent(
        JID=GROUP, Sender=CONTACT, Timestamp=1_700_000_200,
        Name=neonize_proto.GroupName(Name="Equipe de vendas", NameSetAt=1_700_000_200, NameSetBy=CONTACT)))
    joined = map_event(CONNECTION_ID, neonize_proto.GroupInfoEvent(
        JID=GROUP, Sender=CONTACT, Timestamp=1_700_000_300, Join=[CONTACT], JoinReason="invite"))
    demoted = map_event(CONNECTION_ID, neonize_proto.GroupInfoEvent(JID=GROUP, Sender=CONTACT, Demote=[CONTACT]))
    described = neonize_proto.GroupInfoEvent(JID=GROUP, Sender=CONTACT, Topic=neonize_proto.GroupTopic(Topic="news"))

    assert renamed == GroupChanged(CONNECTION_ID, chat="120363025246125486@g.us", name="Equipe de vendas",
                                   timestamp=1_700_000_200.0)
    assert joined == GroupChanged(CONNECTION_ID, chat="120363025246125486@g.us", members_changed=True,
                                  timestamp=1_700_000_300.0)
    assert (demoted.name, demoted.members_changed) == (None, True)
    assert map_event(CONNECTION_ID, described) is None


# --- receipts
@pytest.mark.parametrize("kind, status", [
    (neonize_proto.Receipt.DELIVERED, "delivered"),
    (neonize_proto.Receipt.READ, "read"),
    (neonize_proto.Receipt.PLAYED, "played"),
])
def test_a_receipt_of_many_messages(kind, status):
    event = neonize_proto.Receipt(MessageSource=neonize_proto.MessageSource(Chat=CONTACT, Sender=CONTACT),
                                  MessageIDs=["3EB0A", "3EB0B"], Timestamp=1_700_000_000, Type=kind)

    assert map_event(CONNECTION_ID, event) == Receipt(CONNECTION_ID, wa_ids=("3EB0A", "3EB0B"), status=status,
                                                      chat="5511987654321", timestamp=1_700_000_000.0)


def test_receipts_of_our_own_devices_are_ignored():
    event = neonize_proto.Receipt(MessageSource=neonize_proto.MessageSource(Chat=CONTACT, IsFromMe=True),
                                  MessageIDs=["3EB0A"], Type=neonize_proto.Receipt.READ_SELF)

    assert map_event(CONNECTION_ID, event) is None


# --- calls
LID_CALLER = neonize_proto.JID(User="98765432101234", Server="lid", RawAgent=0, Device=0, Integrator=0, IsEmpty=False)


def call_offer(creator=CONTACT, creator_alt=None, parts=("audio", "audio"), **attributes) -> neonize_proto.CallOffer:
    """A call offer as neonize hands it over: whatsmeow's `<offer>` node, its media parts as child nodes."""
    return neonize_proto.CallOffer(
        basicCallMeta=neonize_proto.BasicCallMeta(**{"from": creator}, timestamp=1_700_000_000, callCreator=creator,
                                                  callCreatorAlt=creator_alt or neonize_proto.JID(),
                                                  callID="2F1C0B6A9E8D7C6B5A4F3E2D1C0B9A88"),
        callRemoteMeta=neonize_proto.CallRemoteMeta(remotePlatform="android", remoteVersion="2.24.1"),
        data=neonize_proto.Node(
            Tag="offer",
            Attrs=[neonize_proto.NodeAttrs(name="call-id", text="2F1C0B6A9E8D7C6B5A4F3E2D1C0B9A88"),
                   neonize_proto.NodeAttrs(name="call-creator", jid=creator),
                   *(neonize_proto.NodeAttrs(name=name, **value) for name, value in attributes.items())],
            Nodes=[neonize_proto.Node(Tag=part, Attrs=[neonize_proto.NodeAttrs(name="enc", text="opus")])
                   for part in (*parts, "net", "encopt")],
        ),
    )


def test_a_voice_call_from_a_contact():
    assert map_event(CONNECTION_ID, call_offer()) == IncomingCall(
        CONNECTION_ID, call_id="2F1C0B6A9E8D7C6B5A4F3E2D1C0B9A88", chat="5511987654321", video=False,
        is_group=False, timestamp=1_700_000_000.0)


def test_a_video_call_from_a_hidden_number_is_known_by_the_phone_number_beside_it():
    call = map_event(CONNECTION_ID, call_offer(LID_CALLER, CONTACT, parts=("audio", "video")))

    assert (call.chat, call.video) == ("5511987654321", True)


@pytest.mark.parametrize("attribute", [{"group-jid": {"jid": GROUP}}, {"type": {"text": "group"}}])
def test_a_group_call_says_so(attribute):
    assert map_event(CONNECTION_ID, call_offer(**attribute)).is_group


def chat_presence(state=neonize_proto.ChatPresence.COMPOSING, media=neonize_proto.ChatPresence.TEXT, chat=CONTACT,
                  sender=CONTACT, **source) -> neonize_proto.ChatPresence:
    return neonize_proto.ChatPresence(MessageSource=neonize_proto.MessageSource(Chat=chat, Sender=sender, **source),
                                      State=state, Media=media)


def test_a_contact_typing_recording_audio_and_stopping():
    typing, recording, stopped = (
        map_event(CONNECTION_ID, chat_presence()),
        map_event(CONNECTION_ID, chat_presence(media=neonize_proto.ChatPresence.AUDIO)),
        map_event(CONNECTION_ID, chat_presence(neonize_proto.ChatPresence.PAUSED, neonize_proto.ChatPresence.AUDIO)),
    )

    assert typing == ContactTyping(CONNECTION_ID, chat="5511987654321", sender="5511987654321", typing=True,
                                   recording=False, timestamp=typing.timestamp)
    assert (recording.typing, recording.recording) == (True, True)
    assert (stopped.typing, stopped.recording) == (False, False)
    assert typing.timestamp == pytest.approx(time.time(), abs=5)  # WhatsApp gives no time: when it came


def test_typing_from_a_hidden_number_or_a_group_member_is_known_by_the_number_beside_it():
    hidden = map_event(CONNECTION_ID, chat_presence(chat=LID_CALLER, sender=LID_CALLER, SenderAlt=CONTACT))
    member = map_event(CONNECTION_ID, chat_presence(chat=GROUP, sender=LID_CALLER, SenderAlt=CONTACT, IsGroup=True))
    broadcast = map_event(CONNECTION_ID, chat_presence(chat=neonize_proto.JID(User="status", Server="broadcast")))

    assert (hidden.chat, hidden.sender) == ("5511987654321", "5511987654321")
    assert (member.chat, member.sender) == ("120363025246125486@g.us", "5511987654321")
    assert broadcast is None


# --- the session
def test_session_events():
    assert map_event(CONNECTION_ID, neonize_proto.QR(Codes=["2@abc", "2@def"])) == QrCode(CONNECTION_ID, "2@abc")
    assert map_event(CONNECTION_ID, neonize_proto.Connected(status=True)) == Connected(CONNECTION_ID)
    assert isinstance(map_event(CONNECTION_ID, neonize_proto.Disconnected(status=True)), Disconnected)


def test_a_replaced_stream_is_a_disconnect_and_the_login_stays():
    assert "stream replaced" in map_event(CONNECTION_ID, neonize_proto.StreamReplaced()).reason


@pytest.mark.parametrize("event, reason", [
    (neonize_proto.LoggedOut(Reason=neonize_proto.LOGGED_OUT), "logged out by WhatsApp: logged out"),
    (neonize_proto.LoggedOut(Reason=neonize_proto.MAIN_DEVICE_GONE, OnConnect=True),
     "logged out by WhatsApp: main device gone"),
    (neonize_proto.TemporaryBan(Code=neonize_proto.TemporaryBan.BLOCKED_BY_USERS, Expire=3600),
     "banned by WhatsApp for 3600 s (blocked by users)"),
])
def test_logouts_and_bans_end_the_session(event, reason):
    assert map_event(CONNECTION_ID, event) == LoggedOut(CONNECTION_ID, reason=reason)


def test_a_connect_failure_is_a_disconnect():
    event = neonize_proto.ConnectFailure(Reason=neonize_proto.SERVICE_UNAVAILABLE, Message="try later")

    assert map_event(CONNECTION_ID, event) == Disconnected(
        CONNECTION_ID, reason="WhatsApp refused the connection: service unavailable try later")


# --- the session store
def test_database_urls_as_whatsmeow_takes_them():
    assert session_store("postgresql://u:p@db:5432/wharf") == "postgresql://u:p@db:5432/wharf?sslmode=prefer"
    assert session_store("postgres://db/wharf?sslmode=require") == "postgres://db/wharf?sslmode=require"
    assert session_store("sqlite:////srv/wharf/var/wharf.db") == "/srv/wharf/var/wharf.db"
    assert session_store("sqlite:///var/wharf.db") == str(Path("var/wharf.db").resolve())
    with pytest.raises(ValueError):
        session_store("sqlite:///:memory:")


def test_neonize_opens_its_store_in_our_postgresql_database(database):
    assert ClientFactory.get_all_devices_from_db(session_store(settings.database_url)) == []
    assert "whatsmeow_device" in database.get_tables()


def test_neonize_opens_its_store_in_our_sqlite_file(tmp_path):
    import sqlite3

    path = tmp_path / "wharf.db"

    assert ClientFactory.get_all_devices_from_db(session_store(f"sqlite:///{path}")) == []
    tables = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert "whatsmeow_device" in tables


# --- sending, up to neonize's client
class RecordingClient(SessionClient):
    """neonize's real client object, with the calls that would reach WhatsApp recorded instead."""

    def __init__(self) -> None:
        super().__init__("unused.db", uuid="wharf-test")
        self.sent: list[tuple[neonize_proto.JID, Message]] = []
        self.uploads: list[tuple[bytes, object]] = []
        self.not_on_whatsapp: set[str] = set()
        self.refusal: str | None = None
        self.read: list[tuple] = []
        self.rejected: list[tuple] = []
        self.presences: list[tuple] = []
        self.pictures_asked: list[tuple] = []
        self.groups_asked: list[neonize_proto.JID] = []
        self.votes = PollVoteMessage()  # what every vote decrypts to
        self.decrypted: list[neonize_proto.Message] = []
        self.downloaded: list[Message] = []
        self.blocklist_changes: list[tuple] = []
        self.profile_changes: list[tuple] = []

    def is_on_whatsapp(self, *numbers):
        return [neonize_proto.IsOnWhatsAppResponse(
            Query=n, IsIn=n.lstrip("+") not in self.not_on_whatsapp,
            JID=neonize_proto.JID(User=n.lstrip("+"), Server="s.whatsapp.net")) for n in numbers]

    def upload(self, binary, media_type=None):
        self.uploads.append((binary, media_type))
        return SimpleNamespace(url="https://mmg.whatsapp.net/x", DirectPath="/v/x", MediaKey=b"k",
                               FileEncSHA256=b"e", FileSHA256=b"s", FileLength=len(binary))

    def mark_read(self, *message_ids, chat, sender, receipt, timestamp=None):
        if self.refusal:
            raise MarkReadError(self.refusal)
        self.read.append((message_ids, chat, sender, receipt))

    def send_chat_presence(self, jid, state, media):
        if self.refusal:
            raise SendPresenceError(self.refusal)
        self.presences.append((jid, state, media))

    def send_presence(self, presence):
        if self.refusal:
            raise SendPresenceError(self.refusal)
        self.presences.append(presence)

    def subscribe_presence(self, jid):
        if self.refusal:
            raise SubscribePresenceError(self.refusal)
        self.presences.append(("subscribe", jid))

    def reject_call(self, call_from, call_id):
        if self.refusal:
            raise RejectCallError(self.refusal)
        self.rejected.append((call_from, call_id))

    def get_profile_picture(self, jid, extra):
        if self.refusal:
            raise GetProfilePictureError(neonize_proto.GetProfilePictureReturnFunction(Error=self.refusal))  # as neonize
        self.pictures_asked.append((jid, extra))
        return neonize_proto.ProfilePictureInfo(URL="https://pps.whatsapp.net/v/t61/abc.jpg?oe=6700", ID="1691585656",
                                                Type="image", DirectPath="/v/t61/abc.jpg")

    def get_group_info(self, jid):
        if self.refusal:
            raise GetGroupInfoError(self.refusal)
        self.groups_asked.append(jid)
        return neonize_proto.GroupInfo(JID=jid, GroupName=neonize_proto.GroupName(Name="Equipe de vendas"))

    def update_blocklist(self, jid, action):
        if self.refusal:
            raise UpdateBlocklistError(self.refusal)
        self.blocklist_changes.append((jid, action))
        return neonize_proto.Blocklist(JIDs=[jid])

    def set_profile_name(self, name):
        if self.refusal:
            raise SendAppStateError(self.refusal)
        self.profile_changes.append(("name", name))

    def set_status_message(self, msg):
        if self.refusal:
            raise SetStatusMessageError(self.refusal)
        self.profile_changes.append(("about", msg))

    def set_profile_photo(self, file_or_bytes):
        if self.refusal:
            raise SetGroupPhotoError(self.refusal)  # as neonize
        self.profile_changes.append(("picture", file_or_bytes))
        return "1712345678"

    def download_any(self, message):
        self.downloaded.append(message)
        return b"\x00\x00\x00\x18ftypmp42"

    def decrypt_poll_vote(self, message):
        if self.refusal:
            raise DecryptPollVoteError(self.refusal)
        self.decrypted.append(message)
        return self.votes

    def send_message(self, to, message, *args, **kwargs):
        if self.refusal:
            raise SendMessageError(self.refusal)
        self.sent.append((to, message))
        return neonize_proto.SendResponse(ID=f"3EB0WHATSAPP{len(self.sent)}")


@pytest.fixture
def session():
    transport = NeonizeTransport(CONNECTION_ID, database="sqlite:///unused.db")
    transport.client, transport.online = RecordingClient(), True
    return transport


def jpeg() -> bytes:
    out = BytesIO()
    Image.new("RGB", (640, 480), "red").save(out, format="JPEG")
    return out.getvalue()


def test_a_text_goes_to_the_number_and_returns_whatsapps_id(session):
    wa_id = session.send(OutgoingMessage(to="+5511987654321", body="hello", wa_id="3EB0OURS"))

    to, message = session.client.sent[0]
    assert (to.User, to.Server) == ("5511987654321", "s.whatsapp.net")
    assert message == Message(conversation="hello")
    assert wa_id == "3EB0WHATSAPP1"


def test_a_resend_of_the_same_id_is_not_delivered_twice(session):
    outgoing = OutgoingMessage(to="+5511987654321", body="hello", wa_id="3EB0OURS")

    first, second = session.send(outgoing), session.send(outgoing)

    assert first == second and len(session.client.sent) == 1


def test_a_quoted_reply_names_the_quoted_message(session):
    session.send(OutgoingMessage(to="+5511987654321", body="yes", wa_id="3EB0R", quoted_wa_id="3A0QUOTED"))

    message = session.client.sent[0][1]
    assert message.extendedTextMessage.text == "yes"
    assert message.extendedTextMessage.contextInfo.stanzaID == "3A0QUOTED"


def test_an_image_is_uploaded_and_sent_with_caption_thumbnail_and_quote(session):
    data = jpeg()

    session.send(OutgoingMessage(to="+5511987654321", body="look", wa_id="3EB0I", quoted_wa_id="3A0Q",
                                 media={"mimetype": "image/jpeg", "filename": "a.jpg", "data": data}))

    assert session.client.uploads[0][0] == data and session.client.uploads[0][1].name == "MediaImage"
    image = session.client.sent[0][1].imageMessage
    assert (image.caption, image.mimetype, image.URL, image.directPath) == ("look", "image/jpeg",
                                                                           "https://mmg.whatsapp.net/x", "/v/x")
    assert image.fileLength == len(data) and image.JPEGThumbnail.startswith(b"\xff\xd8")
    assert image.contextInfo.stanzaID == "3A0Q"


@pytest.mark.parametrize("mimetype, field, upload_kind", [
    ("video/mp4", "videoMessage", "MediaVideo"),
    ("audio/ogg", "audioMessage", "MediaAudio"),
    ("application/pdf", "documentMessage", "MediaDocument"),
])
def test_media_by_mimetype(session, mimetype, field, upload_kind):
    session.send(OutgoingMessage(to="+5511987654321", body="", wa_id="3EB0M",
                                 media={"mimetype": mimetype, "filename": "file.bin", "data": b"bytes"}))

    message = session.client.sent[0][1]
    assert message.HasField(field)
    assert getattr(message, field).mimetype == mimetype
    assert session.client.uploads[0][1].name == upload_kind
    if field == "documentMessage":
        assert message.documentMessage.fileName == "file.bin"
    if field == "audioMessage":
        assert message.audioMessage.PTT  # Ogg is a voice note


def test_a_location_goes_as_whatsapps_location_message_with_its_quote(session):
    place = Location(-23.5613, -46.6565, "Loja Paulista", "Av. Paulista, 1000")

    wa_id = session.send(OutgoingMessage(to="+5511987654321", body=place.text(), wa_id="3EB0L", quoted_wa_id="3A0Q",
                                         location=place))
    session.send(OutgoingMessage(to="+5511987654321", body="-1.5,2.25", wa_id="3EB0P", location=Location(-1.5, 2.25)))

    [(to, located), (_, pinned)] = session.client.sent
    assert (to.User, wa_id) == ("5511987654321", "3EB0WHATSAPP1")
    assert located == Message(locationMessage=LocationMessage(
        degreesLatitude=-23.5613, degreesLongitude=-46.6565, name="Loja Paulista", address="Av. Paulista, 1000",
        contextInfo=ContextInfo(stanzaID="3A0Q")))
    assert pinned == Message(locationMessage=LocationMessage(degreesLatitude=-1.5, degreesLongitude=2.25))
    assert not pinned.locationMessage.HasField("name")  # no empty name shown above the pin
    assert Message.FromString(located.SerializeToString()) == located  # as neonize hands it to whatsmeow


def test_a_contact_card_goes_as_a_vcard_whose_name_cannot_break_it(session):
    card = ContactCard("Souza, Ana; Vendas\nEND:VCARD\\", "+5511912345678")

    session.send(OutgoingMessage(to="+5511987654321", body=card.vcard(), wa_id="3EB0C", contact_card=card))

    [(_, message)] = session.client.sent
    assert message.contactMessage.displayName == "Souza, Ana; Vendas\nEND:VCARD\\"
    assert message.contactMessage.vcard.split("\n") == [
        "BEGIN:VCARD",
        "VERSION:3.0",
        "N:;Souza\\, Ana\\; Vendas\\nEND:VCARD\\\\;;;",
        "FN:Souza\\, Ana\\; Vendas\\nEND:VCARD\\\\",
        "TEL;type=CELL;type=VOICE;waid=5511912345678:+5511912345678",
        "END:VCARD",
    ]
    assert Message.FromString(message.SerializeToString()) == message


def test_a_poll_goes_as_whatsapps_poll_with_a_secret_of_its_own_to_decrypt_its_votes_by(session):
    lunch = Poll("Lunch?", ("Pizza", "Sushi", "Salad"), 2)

    session.send(OutgoingMessage(to="+5511987654321", body=lunch.text(), wa_id="3EB0P1", quoted_wa_id="3A0Q",
                                 poll=lunch))
    session.send(OutgoingMessage(to="+5511987654321", body=lunch.text(), wa_id="3EB0P2", poll=lunch))

    [(_, first), (_, second)] = session.client.sent
    assert first.pollCreationMessage == poll_creation("Lunch?", "Pizza", "Sushi", "Salad", selectable=2,
                                                      contextInfo=ContextInfo(stanzaID="3A0Q"))
    secrets = first.messageContextInfo.messageSecret, second.messageContextInfo.messageSecret
    assert len(secrets[0]) == len(secrets[1]) == 32 and secrets[0] != secrets[1]
    assert Message.FromString(first.SerializeToString()) == first


def poll_vote(key_id: str = "3EB0POLL", **source) -> neonize_proto.Message:
    update = PollUpdateMessage(pollCreationMessageKey=MessageKey(ID=key_id, fromMe=True),
                               senderTimestampMS=1_700_000_090_000)
    return message_event(Message(pollUpdateMessage=update), **source)


def test_a_video_note_comes_as_a_video_with_its_quote_and_its_media_downloaded_as_a_videos(session):
    events = []
    session.on_event = events.append
    note = VideoMessage(mimetype="video/mp4", fileLength=12, seconds=5, mediaKey=b"k", directPath="/v/ptv",
                        contextInfo=ContextInfo(stanzaID="3EB0Q"))

    session.on_neonize_event(session.client, message_event(Message(ptvMessage=note)))

    assert (events[0].type, events[0].body, events[0].quoted_wa_id) == ("video", "", "3EB0Q")
    assert events[0].media == {"mimetype": "video/mp4", "filename": None,
                               "data": base64.b64encode(b"\x00\x00\x00\x18ftypmp42").decode()}
    assert session.client.downloaded == [Message(videoMessage=note)]  # whatsmeow's DownloadAny knows no video notes


def test_a_session_whose_number_ignores_its_groups_neither_fetches_nor_hands_on_their_messages(session):
    events = []
    session.on_event = events.append
    session.ignores_groups = lambda: True
    photo = ImageMessage(mimetype="image/jpeg", fileLength=12, mediaKey=b"k", directPath="/v/img")

    session.on_neonize_event(session.client, message_event(Message(imageMessage=photo), chat=GROUP, IsGroup=True))
    session.on_neonize_event(session.client, message_event(Message(conversation="oi")))

    assert [(event.chat, event.body) for event in events] == [("5511987654321", "oi")]
    assert session.client.downloaded == []


def test_a_vote_is_decrypted_by_the_session_and_names_its_options_by_hash(session):
    events = []
    session.on_event = events.append
    session.client.votes = PollVoteMessage(selectedOptions=[hashlib.sha256(b"Sushi").digest(),
                                                            hashlib.sha256(b"Salad").digest()])

    session.on_neonize_event(session.client, poll_vote())
    session.on_neonize_event(session.client, poll_vote("3A0THEIRS", chat=GROUP, sender=ME, IsGroup=True,
                                                       IsFromMe=True))

    assert map_event(CONNECTION_ID, poll_vote()) is None  # the mapping alone cannot read it
    assert events[0] == PollVoted(CONNECTION_ID, wa_id="3EB0POLL", chat="5511987654321", sender="5511987654321",
                                  option_hashes=(option_hash("Sushi"), option_hash("Salad")), timestamp=1_700_000_090.0)
    assert (events[1].wa_id, events[1].chat, events[1].sender, events[1].from_me) == (
        "3A0THEIRS", "120363025246125486@g.us", "5511900000000", True)
    assert session.client.decrypted == [poll_vote(), poll_vote("3A0THEIRS", chat=GROUP, sender=ME, IsGroup=True,
                                                              IsFromMe=True)]


def test_a_vote_the_session_cannot_decrypt_is_left_out_and_an_empty_one_withdraws(session):
    events = []
    session.on_event = events.append

    session.client.refusal = "failed to get message secret"
    session.on_neonize_event(session.client, poll_vote())
    session.client.refusal, session.client.votes = None, PollVoteMessage()
    session.on_neonize_event(session.client, poll_vote())

    assert [event.option_hashes for event in events] == [()]


def test_a_group_is_addressed_by_its_id(session):
    session.send(OutgoingMessage(to="120363025246125486@g.us", body="hi all", wa_id="3EB0G"))

    to = session.client.sent[0][0]
    assert (to.User, to.Server) == ("120363025246125486", "g.us")
    assert to.IsInitialized()  # neonize serializes it for whatsmeow: every required field is set


def test_refusals_that_no_retry_changes_are_permanent(session):
    session.client.not_on_whatsapp.add("5511911111111")

    with pytest.raises(TransportError) as unknown:
        session.send(OutgoingMessage(to="+5511911111111", body="hi", wa_id="3EB0N"))
    with pytest.raises(TransportError) as invalid:
        session.send(OutgoingMessage(to="not a number", body="hi", wa_id="3EB0J"))
    session.client.refusal = "can't send message to unknown server"
    with pytest.raises(TransportError) as unknown_server:
        session.send(OutgoingMessage(to="+5511987654321", body="hi", wa_id="3EB0B"))

    assert (unknown.value.permanent, unknown.value.reason_code) == (True, "not_on_whatsapp")
    assert (invalid.value.permanent, invalid.value.reason_code) == (True, "invalid_jid")
    assert (unknown_server.value.permanent, unknown_server.value.reason_code) == (True, "invalid_jid")


def test_a_network_failure_or_a_dropped_session_is_transient(session):
    session.client.refusal = "websocket not connected"
    with pytest.raises(TransportError) as failed:
        session.send(OutgoingMessage(to="+5511987654321", body="hi", wa_id="3EB0T"))
    session.online = False
    with pytest.raises(TransportError) as offline:
        session.send(OutgoingMessage(to="+5511987654321", body="hi", wa_id="3EB0U"))

    assert not failed.value.permanent and not offline.value.permanent


def test_send_many_sends_one_by_one_and_a_refusal_stops_only_its_own(session):
    session.client.not_on_whatsapp.add("5511911111111")

    first, refused, third = session.send_many([
        OutgoingMessage(to="+5511987654321", body="one", wa_id="3EB0A"),
        OutgoingMessage(to="+5511911111111", body="two", wa_id="3EB0B"),
        OutgoingMessage(to="+5511987654321", body="three", wa_id="3EB0C"),
    ])

    assert (first, third) == ("3EB0WHATSAPP1", "3EB0WHATSAPP2")
    assert isinstance(refused, TransportError) and refused.reason_code == "not_on_whatsapp"
    assert [message.conversation for _, message in session.client.sent] == ["one", "three"]


def test_read_receipts_go_to_the_contacts_chat_as_read(session):
    session.mark_read("5511987654321", ["3EB0IN1", "3EB0IN2"])

    [(message_ids, chat, sender, receipt)] = session.client.read
    assert message_ids == ("3EB0IN1", "3EB0IN2")
    assert (chat.User, chat.Server) == ("5511987654321", "s.whatsapp.net") and sender == chat
    assert receipt == ReceiptType.READ


def test_in_a_group_read_receipts_and_reactions_name_the_member_who_wrote(session):
    session.mark_read("120363025246125486@g.us", ["3A0IN1"], "5511911111111")
    session.mark_read("120363025246125486@g.us", ["3A0IN2"], "98765432101234@lid")
    session.react("120363025246125486@g.us", "3A0IN1", "👍", from_me=False, sender="5511911111111")

    [(_, chat, by_number, _), (_, _, hidden, _)] = session.client.read
    assert (chat.User, chat.Server) == ("120363025246125486", "g.us")
    assert [(jid.User, jid.Server) for jid in (by_number, hidden)] == [
        ("5511911111111", "s.whatsapp.net"), ("98765432101234", "lid")]
    [(to, reacted)] = session.client.sent
    assert (to.User, to.Server) == ("120363025246125486", "g.us")
    assert reacted.reactionMessage.key == MessageKey(remoteJID="120363025246125486@g.us", fromMe=False, ID="3A0IN1",
                                                     participant="5511911111111@s.whatsapp.net")


def test_typing_is_shown_in_the_contacts_chat_as_composing_then_paused(session):
    session.set_typing("5511987654321", True)
    session.set_typing("5511987654321", True, recording=True)
    session.set_typing("5511987654321", False)

    assert [(jid.User, state, media) for jid, state, media in session.client.presences] == [
        ("5511987654321", ChatPresence.CHAT_PRESENCE_COMPOSING, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT),
        ("5511987654321", ChatPresence.CHAT_PRESENCE_COMPOSING, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_AUDIO),
        ("5511987654321", ChatPresence.CHAT_PRESENCE_PAUSED, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT)]


def test_watching_a_contacts_typing_puts_the_session_online_then_subscribes_to_their_presence(session):
    session.watch_presence("5511987654321")
    session.client.refusal = "websocket not connected"
    with pytest.raises(TransportError) as refused:
        session.watch_presence("5511987654321")

    [online, (asked, jid)] = session.client.presences
    assert (online, asked, jid.User, jid.Server) == (Presence.AVAILABLE, "subscribe", "5511987654321", "s.whatsapp.net")
    assert not refused.value.permanent


def test_the_number_shows_online_or_offline_by_its_presence(session):
    session.set_online(True)
    session.set_online(False)
    session.client.refusal = "websocket not connected"
    with pytest.raises(TransportError) as refused:
        session.set_online(True)

    assert session.client.presences == [Presence.AVAILABLE, Presence.UNAVAILABLE]
    assert not refused.value.permanent


def test_a_read_receipt_whatsapp_refuses_or_an_offline_session_is_a_transient_error(session):
    session.client.refusal = "websocket not connected"
    with pytest.raises(TransportError) as refused:
        session.mark_read("5511987654321", ["3EB0IN1"])
    session.online = False
    with pytest.raises(TransportError) as offline:
        session.mark_read("5511987654321", ["3EB0IN1"])

    assert not refused.value.permanent and not offline.value.permanent


def test_a_message_is_deleted_for_everyone_in_the_contacts_chat_as_our_own(session):
    session.revoke("5511987654321", "3EB0WHATSAPP1")

    [(chat, message)] = session.client.sent
    assert (chat.User, chat.Server) == ("5511987654321", "s.whatsapp.net")
    assert message.protocolMessage.type == ProtocolMessage.REVOKE
    assert message.protocolMessage.key == MessageKey(remoteJID="5511987654321@s.whatsapp.net", fromMe=True,
                                                     ID="3EB0WHATSAPP1")


def test_a_message_of_ours_is_edited_in_the_contacts_chat(session):
    session.edit("5511987654321", "3EB0WHATSAPP1", "at 6, then")

    [(chat, message)] = session.client.sent
    protocol = message.editedMessage.message.protocolMessage  # as neonize's edit_message builds it
    assert (chat.User, chat.Server) == ("5511987654321", "s.whatsapp.net")
    assert (protocol.type, protocol.key.ID, protocol.key.fromMe) == (ProtocolMessage.MESSAGE_EDIT, "3EB0WHATSAPP1", True)
    assert protocol.editedMessage == Message(conversation="at 6, then")


@pytest.mark.parametrize("from_me", [False, True], ids=["their message", "ours"])
def test_a_reaction_names_the_message_as_ours_or_theirs_and_an_empty_one_removes_it(session, from_me):
    session.react("5511987654321", "3A0MESSAGE", "👍", from_me=from_me)
    session.react("5511987654321", "3A0MESSAGE", "", from_me=from_me)

    [(chat, added), (_, removed)] = session.client.sent
    assert (chat.User, chat.Server) == ("5511987654321", "s.whatsapp.net")
    assert added.reactionMessage.key == MessageKey(remoteJID="5511987654321@s.whatsapp.net", fromMe=from_me,
                                                   ID="3A0MESSAGE")
    assert (added.reactionMessage.text, removed.reactionMessage.text) == ("👍", "")
    assert added.reactionMessage.senderTimestampMS > 0


@pytest.mark.parametrize("act", [
    lambda session: session.revoke("5511987654321", "3EB0WHATSAPP1"),
    lambda session: session.edit("5511987654321", "3EB0WHATSAPP1", "at 6"),
    lambda session: session.react("5511987654321", "3EB0WHATSAPP1", "👍", from_me=True),
    lambda session: session.set_profile_name("Loja"),
    lambda session: session.set_about("oi"),
    lambda session: session.set_profile_picture(jpeg()),
], ids=["deleting", "editing", "reacting", "the profile name", "the about text", "the profile picture"])
def test_a_change_whatsapp_refuses_or_an_offline_session_is_a_transient_error(session, act):
    session.client.refusal = "websocket not connected"
    with pytest.raises(TransportError) as refused:
        act(session)
    session.online = False
    with pytest.raises(TransportError) as offline:
        act(session)

    assert not refused.value.permanent and not offline.value.permanent


def test_a_call_is_rejected_by_its_creator_as_offered(session):
    events = []
    session.on_event = events.append
    session.on_neonize_event(session.client, call_offer(LID_CALLER, CONTACT))

    session.reject_call("5511987654321", "2F1C0B6A9E8D7C6B5A4F3E2D1C0B9A88")

    assert [event.chat for event in events] == ["5511987654321"]
    assert session.client.rejected == [(LID_CALLER, "2F1C0B6A9E8D7C6B5A4F3E2D1C0B9A88")]


def test_a_call_offered_to_an_earlier_session_is_rejected_by_the_callers_number(session):
    session.reject_call("5511987654321", "3A9B")

    [(caller, call_id)] = session.client.rejected
    assert (caller.User, caller.Server, call_id) == ("5511987654321", "s.whatsapp.net", "3A9B")
    assert caller.IsInitialized()  # neonize serializes it for whatsmeow: every required field is set


def test_a_call_whatsapp_refuses_to_reject_or_an_offline_session_is_a_transient_error(session):
    session.client = SessionClient("unused.db", uuid="wharf-test-calls")  # neonize's own call, never logged in
    with pytest.raises(TransportError) as refused:
        session.reject_call("5511987654321", "3A9B")
    session.online = False
    with pytest.raises(TransportError) as offline:
        session.reject_call("5511987654321", "3A9B")

    assert "could not reject the call" in str(refused.value) and not refused.value.permanent
    assert not offline.value.permanent


# --- which numbers are on WhatsApp
def test_numbers_are_asked_of_whatsapp_at_once_and_those_found_are_sent_to_without_asking_again(session):
    session.client.not_on_whatsapp = {"5511900000002"}

    found = session.on_whatsapp(["5511900000001", "5511900000002"])
    session.client.not_on_whatsapp = {"5511900000001"}  # were it asked again, it would refuse the send
    session.send(OutgoingMessage(to="+5511900000001", body="hello", wa_id="3EB0OURS"))

    assert found == {"5511900000001": True, "5511900000002": False}
    assert session.client.sent[0][0].User == "5511900000001"


def test_numbers_whatsapp_cannot_be_asked_about_are_a_transient_error(session):
    session.client = SessionClient("unused.db", uuid="wharf-test-numbers")  # neonize's own query, never logged in
    with pytest.raises(TransportError) as refused:
        session.on_whatsapp(["5511900000001"])
    session.online = False
    with pytest.raises(TransportError) as offline:
        session.on_whatsapp(["5511900000001"])

    assert "could not check numbers" in str(refused.value) and not refused.value.permanent
    assert not offline.value.permanent


# --- profile pictures
def test_a_profile_picture_is_asked_in_full_of_the_jid_whatsapp_knows_the_number_by(session):
    picture = session.profile_picture("5511987654321")

    [(jid, params)] = session.client.pictures_asked
    assert (jid.User, jid.Server, params.Preview) == ("5511987654321", "s.whatsapp.net", False)
    assert picture == ProfilePicture("1691585656", url="https://pps.whatsapp.net/v/t61/abc.jpg?oe=6700")


@pytest.mark.parametrize("refusal", ["that user or group does not have a profile picture",
                                     "the user has hidden their profile picture from you"], ids=["none", "hidden"])
def test_a_contact_with_no_picture_or_one_hidden_from_us_has_none(session, refusal):
    session.client.refusal = refusal

    assert session.profile_picture("5511987654321") is None


def test_a_picture_whatsapp_cannot_be_asked_for_or_an_offline_session_is_a_transient_error(session):
    session.client.refusal = "info query timed out"
    with pytest.raises(TransportError) as refused:
        session.profile_picture("5511987654321")
    session.online = False
    with pytest.raises(TransportError) as offline:
        session.profile_picture("5511987654321")

    assert "could not get the profile picture" in str(refused.value) and not refused.value.permanent
    assert not offline.value.permanent


# --- group subjects
def test_a_groups_subject_is_asked_of_whatsapp_by_the_groups_id(session):
    subject = session.group_subject("120363025246125486@g.us")

    [jid] = session.client.groups_asked
    assert (jid.User, jid.Server, subject) == ("120363025246125486", "g.us", "Equipe de vendas")
    assert jid.IsInitialized()  # neonize serializes it for whatsmeow: every required field is set


def test_a_group_we_are_not_in_is_a_permanent_error_and_a_failed_query_or_an_offline_session_a_transient_one(session):
    session.client.refusal = "you're not participating in that group"
    with pytest.raises(TransportError) as left:
        session.group_subject("120363025246125486@g.us")
    session.client.refusal = "info query timed out"
    with pytest.raises(TransportError) as refused:
        session.group_subject("120363025246125486@g.us")
    session.online = False
    with pytest.raises(TransportError) as offline:
        session.group_subject("120363025246125486@g.us")

    assert (left.value.permanent, left.value.reason_code) == (True, "not_in_group")
    assert "could not read the group" in str(refused.value) and not refused.value.permanent
    assert not offline.value.permanent


# --- blocking contacts
def test_a_contact_is_blocked_and_unblocked_by_the_jid_whatsapp_knows_the_number_by(session):
    session.set_blocked("5511987654321", True)
    session.set_blocked("5511987654321", False)

    [(blocked, block), (unblocked, unblock)] = session.client.blocklist_changes
    assert (blocked.User, blocked.Server, block) == ("5511987654321", "s.whatsapp.net", BlocklistAction.BLOCK)
    assert (unblocked, unblock) == (blocked, BlocklistAction.UNBLOCK)


def test_a_number_not_on_whatsapp_cannot_be_blocked_and_a_refusal_or_an_offline_session_is_transient(session):
    session.client.not_on_whatsapp = {"5511900000002"}
    with pytest.raises(TransportError) as absent:
        session.set_blocked("5511900000002", True)
    session.client.refusal = "info query timed out"
    with pytest.raises(TransportError) as refused:
        session.set_blocked("5511987654321", True)
    session.online = False
    with pytest.raises(TransportError) as offline:
        session.set_blocked("5511987654321", True)

    assert (absent.value.permanent, absent.value.reason_code) == (True, "not_on_whatsapp")
    assert "could not block the contact" in str(refused.value) and not refused.value.permanent
    assert not offline.value.permanent and session.client.blocklist_changes == []


# --- the number's own profile
def test_the_numbers_name_about_and_picture_go_to_whatsapp_and_the_picture_comes_back_with_its_id(session):
    session.set_profile_name("Loja Centro")
    session.set_about("Atendimento das 8h às 18h")
    picture_id = session.set_profile_picture(jpeg())

    assert session.client.profile_changes == [("name", "Loja Centro"), ("about", "Atendimento das 8h às 18h"),
                                              ("picture", jpeg())]
    assert picture_id == "1712345678"


def test_neonize_cannot_remove_the_picture_which_is_refused_for_good_without_asking_whatsapp(session):
    with pytest.raises(TransportError) as refused:
        session.set_profile_picture(None)

    assert (refused.value.permanent, refused.value.reason_code) == (True, "unsupported")
    assert session.client.profile_changes == []


# --- the address book
def test_the_address_book_names_each_as_the_phone_saved_them_else_as_they_named_themselves_and_leaves_us_out():
    hidden = neonize_proto.JID(User="98765432101234", Server="lid")
    shop = neonize_proto.JID(User="5511933334444", Server="s.whatsapp.net")
    stranger = neonize_proto.JID(User="5511955556666", Server="s.whatsapp.net")
    store = [
        neonize_proto.Contact(JID=CONTACT, Info=neonize_proto.ContactInfo(Found=True, FullName="Ana Lima",
                                                                          FirstName="Ana", PushName="Aninha")),
        neonize_proto.Contact(JID=shop, Info=neonize_proto.ContactInfo(Found=True, BusinessName="Padaria Sol")),
        neonize_proto.Contact(JID=hidden, Info=neonize_proto.ContactInfo(Found=True, PushName="Bia")),
        neonize_proto.Contact(JID=stranger, Info=neonize_proto.ContactInfo(Found=True)),
        neonize_proto.Contact(JID=ME, Info=neonize_proto.ContactInfo(Found=True, FullName="Me")),
    ]

    assert address_book_of(store, "5511900000000") == [
        AddressBookEntry("5511987654321", "Ana Lima"), AddressBookEntry("5511933334444", "Padaria Sol"),
        AddressBookEntry("98765432101234@lid", "Bia"), AddressBookEntry("5511955556666", None)]


def test_a_text_status_is_white_on_its_opaque_background_in_its_typeface():
    message = status_text_message(StatusPost("Promoção!", background="#ff0000", font=2))

    text = message.extendedTextMessage
    assert (text.text, text.backgroundArgb, text.textArgb, text.font) == ("Promoção!", 0xFFFF0000, 0xFFFFFFFF, 2)


def test_a_status_goes_to_the_status_broadcast_a_text_styled_and_an_image_uploaded_with_its_caption(session):
    text_id = session.post_status(StatusPost("Promoção!", background="#128c7e"))
    image_id = session.post_status(StatusPost("Nova coleção", media={"mimetype": "image/jpeg", "filename": "a.jpg",
                                                                     "data": jpeg()}))

    (to_text, text), (to_image, image) = session.client.sent
    assert {(to.User, to.Server) for to in (to_text, to_image)} == {("status", "broadcast")}
    assert (text.extendedTextMessage.text, text.extendedTextMessage.backgroundArgb) == ("Promoção!", 0xFF128C7E)
    assert (image.imageMessage.caption, image.imageMessage.mimetype) == ("Nova coleção", "image/jpeg")
    assert [media_type for _, media_type in session.client.uploads] == [MediaType.MediaImage]
    assert (text_id, image_id) == ("3EB0WHATSAPP1", "3EB0WHATSAPP2")


def test_a_forwarded_message_is_marked_so_both_ways():
    came = map_event(CONNECTION_ID, message_event(Message(extendedTextMessage=ExtendedTextMessage(
        text="olha isso", contextInfo=ContextInfo(isForwarded=True, forwardingScore=1)))))
    sent = build_message(OutgoingMessage(to="+5511987654321", body="olha isso", wa_id="3EB0F", forwarded=True))

    assert (came.body, came.forwarded) == ("olha isso", True)
    assert map_event(CONNECTION_ID, message_event(Message(conversation="oi"))).forwarded is False
    assert (sent.extendedTextMessage.text, sent.extendedTextMessage.contextInfo.isForwarded) == ("olha isso", True)
