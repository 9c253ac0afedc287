"""Each node type, through real inbound messages, a real worker and the outbound pipeline's rows."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

from db.contacts import Contact, ContactTag, Tag
from db.flows import FlowSession, FlowStep
from db.notifications import Notification
from db.tickets import Ticket, TicketEvent, TicketField, TicketNote
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)
from workers.flows.engine import unread_input

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def keyword_flow(nodes: list[dict], edges: list[dict], keyword: str = "oi") -> dict:
    return {"trigger": {"type": "keyword", "value": keyword}, "nodes": nodes, "edges": edges}


def chain(*ids: str) -> list[dict]:
    return [{"from": a, "to": b} for a, b in zip(ids, ids[1:], strict=False)]


def test_a_message_node_renders_variables_and_the_keyword_starts_the_flow(bot):
    bot.deploy(
        keyword_flow(
            [{"id": "hi", "type": "message", "text": "Olá {{firstName}}! Protocolo {{protocol}}."}],
            [],
            keyword="menu, oi",
        )
    )

    bot.say("OI")

    ticket = Ticket.get()
    assert bot.replies() == [f"Olá Ana! Protocolo {ticket.id}."]
    assert (bot.session().status, bot.session().end_reason) == ("ended", "completed")


def test_a_message_node_sends_media_and_quick_messages(bot, company):
    from db.messages import Message, QuickMessage

    quick = QuickMessage.create(company=company, shortcut="hours", body="Abrimos às 8h, {{firstName}}.")
    bot.deploy(
        keyword_flow(
            [
                {
                    "id": "photo",
                    "type": "message",
                    "text": "Nosso cardápio",
                    "mediaUrl": "https://example.com/menu.jpg",
                },
                {"id": "quick", "type": "message", "quickMessageId": quick.id},
            ],
            chain("photo", "quick"),
        )
    )

    bot.say("oi")

    photo, text = Message.select().where(Message.direction == "out").order_by(Message.id)
    assert (photo.type, photo.media_path, photo.body) == (
        "image",
        "https://example.com/menu.jpg",
        "Nosso cardápio",
    )
    assert text.body == "Abrimos às 8h, Ana."


def test_a_quick_message_sent_by_a_bot_carries_its_file(bot, company, client, headers):
    from db.messages import Message, QuickMessage
    from wharf.media import media_store

    key = media_store().save(company.id, b"%PDF-1.4 prices", "application/pdf", "precos.pdf")
    quick = QuickMessage.create(company=company, shortcut="precos", body="Nossos preços, {{firstName}}.",
                                media_path=key, media_mimetype="application/pdf", media_name="precos.pdf")
    bot.deploy(keyword_flow([{"id": "prices", "type": "message", "quickMessageId": quick.id}], []))

    bot.say("oi")
    flow_id = client.get("/api/flows", headers=headers).get_json()["items"][0]["id"]
    transcript = client.post(f"/api/flows/{flow_id}/dry-run", json={"answers": []}, headers=headers).get_json()

    [sent] = Message.select().where(Message.direction == "out")
    assert (sent.type, sent.body, sent.media_path, sent.media_mimetype, sent.media_name) == (
        "document", "Nossos preços, Ana.", key, "application/pdf", "precos.pdf")
    assert [line.get("quickMessageFile") for line in transcript["transcript"] if line["from"] == "bot"] == [quick.id]


def test_a_message_node_sends_a_voice_note_and_the_dry_run_says_so(bot, client, headers):
    from db.messages import Message

    hello = {"id": "hello", "type": "message", "mediaUrl": "https://example.com/ola.mp3", "voiceNote": True}
    bot.deploy(keyword_flow([hello], []))

    bot.say("oi")
    flow_id = client.get("/api/flows", headers=headers).get_json()["items"][0]["id"]
    transcript = client.post(f"/api/flows/{flow_id}/dry-run", json={"answers": []}, headers=headers).get_json()

    [note] = Message.select().where(Message.direction == "out")
    assert (note.type, note.media_mimetype, note.media_path, note.body) == (
        "audio", "audio/ogg", "https://example.com/ola.mp3", "")
    assert [line.get("voiceNote") for line in transcript["transcript"] if line["from"] == "bot"] == [True]


def test_a_question_validates_retries_and_stores_the_answer(bot):
    bot.deploy(
        keyword_flow(
            [
                {
                    "id": "age",
                    "type": "question",
                    "text": "Sua idade?",
                    "variable": "age",
                    "validation": "number",
                    "retryMessage": "Só números, por favor.",
                },
                {
                    "id": "mail",
                    "type": "question",
                    "text": "Seu e-mail?",
                    "variable": "mail",
                    "validation": "email",
                },
                {
                    "id": "when",
                    "type": "question",
                    "text": "Que dia?",
                    "variable": "day",
                    "validation": "date",
                },
                {
                    "id": "tel",
                    "type": "question",
                    "text": "Telefone?",
                    "variable": "tel",
                    "validation": "phone",
                },
                {
                    "id": "size",
                    "type": "question",
                    "text": "P, M ou G?",
                    "variable": "size",
                    "validation": "option",
                    "options": ["P", "M", "G"],
                },
                {"id": "done", "type": "message", "text": "{{age}} {{mail}} {{day}} {{tel}} {{size}}"},
            ],
            chain("age", "mail", "when", "tel", "size", "done"),
        )
    )

    for answer in ("oi", "trinta", "30", "ana@", "Ana@Example.com", "31/12/2026", "11 91234-5678", "xg", "m"):
        bot.say(answer)

    assert bot.replies() == [
        "Sua idade?",
        "Só números, por favor.",
        "Seu e-mail?",
        "Sorry, I did not understand that. Seu e-mail?",
        "Que dia?",
        "Telefone?",
        "P, M ou G?",
        "Sorry, I did not understand that. P, M ou G?",
        "30 ana@example.com 2026-12-31 +5511912345678 M",
    ]


def test_a_kind_wharf_does_not_show_is_no_answer_as_a_photo_without_a_caption_is_none(bot):
    bot.deploy(
        keyword_flow(
            [
                {"id": "name", "type": "question", "text": "Seu nome?", "variable": "name",
                 "retryMessage": "Escreva seu nome, por favor."},
                {"id": "done", "type": "message", "text": "Olá {{name}}!"},
            ],
            chain("name", "done"),
        )
    )

    bot.say("oi")
    bot.say("📦 A product — open WhatsApp on the phone to see it", type="unsupported")
    bot.say("", type="image")
    bot.say("Ana")

    assert bot.replies() == ["Seu nome?", "Escreva seu nome, por favor.", "Escreva seu nome, por favor.", "Olá Ana!"]


def test_a_call_that_came_while_the_bot_was_busy_is_not_read_as_the_answer(bot, factories):
    bot.deploy(keyword_flow([{"id": "name", "type": "question", "text": "Seu nome?", "variable": "name"}], []))
    bot.say("oi")
    session, ticket = FlowSession.get(), Ticket.get()
    factories.message(ticket, type="call", body="📞 Voice call")
    answer = factories.message(ticket, body="Ana")

    assert unread_input(session) == answer


def test_a_question_out_of_retries_takes_its_invalid_branch_or_ends(bot):
    bot.deploy(
        keyword_flow(
            [
                {
                    "id": "age",
                    "type": "question",
                    "text": "Idade?",
                    "variable": "age",
                    "validation": "number",
                    "retries": 1,
                },
                {"id": "human", "type": "message", "text": "Vou chamar alguém."},
            ],
            [{"from": "age", "to": "human", "when": "invalid"}],
        )
    )

    for answer in ("oi", "x", "y"):
        bot.say(answer)

    assert bot.replies() == ["Idade?", "Sorry, I did not understand that. Idade?", "Vou chamar alguém."]


def test_a_menu_branches_on_the_number_or_the_label_and_re_asks_on_anything_else(bot):
    bot.deploy(
        keyword_flow(
            [
                {
                    "id": "ask",
                    "type": "menu",
                    "text": "Escolha:",
                    "options": {"1": "Vendas", "2": "Suporte"},
                    "invalidMessage": "Não entendi.",
                },
                {"id": "sales", "type": "message", "text": "Vendas!"},
                {"id": "support", "type": "message", "text": "Suporte!"},
            ],
            [{"from": "ask", "to": "sales", "when": "1"}, {"from": "ask", "to": "support", "when": "2"}],
        )
    )

    bot.say("oi")
    bot.say("3")
    bot.say("suporte")

    assert bot.replies() == [
        "Escolha:\n\n1 - Vendas\n2 - Suporte",
        "Não entendi.\n\n1 - Vendas\n2 - Suporte",
        "Suporte!",
    ]


def test_conditions_on_variables_regex_tags_fields_and_business_hours(bot, company, factories):
    contact = factories.contact(
        company, phone="+5511987654321", name="Ana Lima", custom_fields={"plan": "gold"}
    )
    vip = factories.tag(company, name="vip")
    ContactTag.create(contact=contact, tag=vip)
    days_hence = dt.datetime.now(ZoneInfo(company.timezone)).weekday() + 3  # open one minute on another day
    closed = factories.queue(company, business_hours={WEEKDAYS[days_hence % 7]: [["00:00", "00:01"]]})

    def condition(node_id: str, rule: dict) -> dict:
        return {"id": node_id, "type": "condition", "rules": [rule]}

    nodes = [
        {"id": "set", "type": "set_variable", "variable": "total", "value": "150"},
        condition("big", {"variable": "total", "operator": "greater_than", "value": "100"}),
        condition("re", {"kind": "regex", "variable": "triggerMessage", "pattern": "^pedido \\d+$"}),
        condition("tag", {"kind": "tag", "tag": "VIP"}),
        condition("field", {"kind": "field", "field": "plan", "operator": "equals", "value": "Gold"}),
        condition("open", {"kind": "business_hours", "queueId": closed.id}),
        {"id": "yes", "type": "message", "text": "aberto"},
        {"id": "no", "type": "end", "text": "fechado"},
    ]
    edges = chain("set", "big") + [
        {"from": "big", "to": "re", "when": "true"},
        {"from": "re", "to": "tag", "when": "true"},
        {"from": "tag", "to": "field", "when": "true"},
        {"from": "field", "to": "open", "when": "true"},
        {"from": "open", "to": "yes", "when": "true"},
        {"from": "open", "to": "no", "when": "false"},
    ]
    bot.deploy({"trigger": {"type": "regex", "value": "^pedido"}, "nodes": nodes, "edges": edges})

    bot.say("pedido 42")

    assert bot.replies() == ["fechado"]


def test_a_regex_trigger_that_would_backtrack_for_ever_gives_up_as_no_match(bot):
    bot.deploy({"trigger": {"type": "regex", "value": "(a|aa)+$"},
                "nodes": [{"id": "hi", "type": "message", "text": "oi"}], "edges": []})
    started = time.monotonic()

    bot.say("a" * 5000 + "!")

    assert time.monotonic() - started < 10 and bot.replies() == []
    bot.say("aaa")
    assert bot.replies() == ["oi"]


def test_tags_are_added_and_removed(bot, company, factories):
    contact = factories.contact(company, phone="+5511987654321", name="Ana")
    ContactTag.create(contact=contact, tag=factories.tag(company, name="lead"))
    bot.deploy(
        keyword_flow(
            [
                {"id": "add", "type": "add_tag", "tag": "cliente"},
                {"id": "remove", "type": "remove_tag", "tag": "lead"},
            ],
            chain("add", "remove"),
        )
    )

    bot.say("oi")

    names = [t.name for t in Tag.select().join(ContactTag).where(ContactTag.contact == contact.id)]
    assert names == ["cliente"]


def test_transfer_hands_the_ticket_to_a_queue_and_the_bot_lets_go(bot, company, factories):
    sales = factories.queue(company, name="Vendas")
    bot.deploy(
        keyword_flow([{"id": "go", "type": "transfer", "queueId": sales.id, "text": "Transferindo..."}], [])
    )

    bot.say("oi")
    bot.say("alô?")

    ticket = Ticket.get()
    assert (ticket.queue_id, ticket.status, ticket.user_id) == (sales.id, "pending", None)
    assert bot.replies() == ["Transferindo..."]
    assert bot.session().end_reason == "transferred"


def test_a_transfer_to_an_agent_tells_them_once_it_commits(bot, company, factories, realtime):  # noqa: F811
    agent = factories.user(company, role="agent")
    bot.deploy(keyword_flow([{"id": "go", "type": "transfer", "userId": agent.id}], []))

    bot.say("oi")

    told = Notification.get()
    assert (told.user_id, told.actor_id, told.data) == (agent.id, None, {"reason": "transfer"})
    assert [data["id"] for event, data in realtime() if event == "notification:new"] == [told.id]


def test_close_ends_the_ticket_with_a_farewell(bot):
    bot.deploy(keyword_flow([{"id": "bye", "type": "close", "text": "Até logo!"}], []))

    bot.say("oi")

    assert Ticket.get().status == "closed"
    assert bot.replies() == ["Até logo!"]
    assert bot.session().end_reason == "closed"


def test_each_step_is_logged_once_in_order(bot):
    bot.deploy(
        keyword_flow(
            [
                {"id": "start", "type": "start"},
                {"id": "ask", "type": "question", "text": "Nome?", "variable": "name2"},
                {"id": "end", "type": "end", "text": "Obrigado, {{name2}}."},
            ],
            chain("start", "ask", "end"),
        )
    )

    bot.say("oi")
    bot.say("Ana")

    steps = list(FlowStep.select().order_by(FlowStep.seq))
    assert [(s.seq, s.node) for s in steps] == [(1, "start"), (2, "ask"), (3, "ask"), (4, "end")]
    assert steps[2].event["text"] == "Ana"
    assert bot.replies() == ["Nome?", "Obrigado, Ana."]
    assert Contact.select().count() == 1


def test_an_ai_node_answers_from_the_conversation_and_its_error_branch_catches_failures(
    bot, company, monkeypatch
):
    from db.ai_settings import AiSettings
    from tests.openai_server import Completion, allow_loopback, serving_openai

    allow_loopback(monkeypatch)
    with serving_openai(api_key="sk-flows") as openai_server:
        settings = AiSettings(company=company, base_url=openai_server.base_url, default_model="house-model")
        settings.set_api_key("sk-flows")
        settings.save()
        bot.deploy(
            keyword_flow(
                [
                    {"id": "ask", "type": "question", "text": "Como posso ajudar?", "variable": "need"},
                    {
                        "id": "ai",
                        "type": "ai",
                        "systemPrompt": "Você atende {{firstName}}.",
                        "historyWindow": 3,
                    },
                    {"id": "oops", "type": "message", "text": "Vou chamar um atendente."},
                ],
                chain("ask", "ai") + [{"from": "ai", "to": "oops", "when": "error"}],
            )
        )
        openai_server.answer("Seu pedido chega amanhã.", Completion(status=500))

        bot.say("oi")
        bot.say("Cadê meu pedido?")
        bot.say("oi")
        bot.say("e agora?")

    first = openai_server.requests[0].messages
    assert first[0] == {"role": "system", "content": "Você atende Ana."}
    assert first[1:] == [
        {"role": "user", "content": "oi"},
        {"role": "assistant", "content": "Como posso ajudar?"},
        {"role": "user", "content": "Cadê meu pedido?"},
    ]
    assert bot.replies() == [
        "Como posso ajudar?",
        "Seu pedido chega amanhã.",
        "Como posso ajudar?",
        "Vou chamar um atendente.",
    ]


def test_an_answer_saved_on_the_ticket_for_the_agent_and_one_that_does_not_fit_goes_the_invalid_way(
        bot, company, factories, client, headers):
    TicketField.create(company=company, key="order", label="Order")
    TicketField.create(company=company, key="amount", label="Amount", type="number")
    flow = keyword_flow(
        [{"id": "ask", "type": "question", "text": "Número do pedido?", "variable": "order"},
         {"id": "save", "type": "save_ticket", "field": "order", "value": "{{order}}"},
         {"id": "amount", "type": "save_ticket", "field": "amount", "value": "muito"},
         {"id": "oops", "type": "message", "text": "Sem valor ({{ticketFieldError}})."},
         {"id": "bye", "type": "end", "text": "Um atendente já vem."}],
        [*chain("ask", "save", "amount", "bye"), {"from": "amount", "to": "oops", "when": "invalid"},
         {"from": "oops", "to": "bye"}])
    flow_id = bot.deploy(flow)

    bot.say("oi")
    bot.say("PED-1042")

    assert Ticket.get().custom_fields == {"order": "PED-1042"}
    assert bot.replies()[-2:] == ["Sem valor ('muito' is not a number).", "Um atendente já vem."]
    transcript = client.post(f"/api/flows/{flow_id}/dry-run", json={"answers": ["PED-7"]},
                             headers=headers).get_json()["transcript"]
    assert [(line["field"], line.get("value"), line.get("refused")) for line in transcript
            if line.get("action") == "save_ticket"] == [("order", "PED-7", None),
                                                         ("amount", None, "'muito' is not a number")]
    unknown = client.post("/api/flows", headers=headers, json={"name": "x", **keyword_flow(
        [{"id": "save", "type": "save_ticket", "field": "Order", "value": "1"}], [])})
    assert unknown.status_code == 400 and "nodes.save.field" in unknown.get_json()["details"]


def test_answers_saved_on_the_contact_a_note_and_a_priority_for_the_agent_who_takes_over(
        bot, company, factories, realtime):  # noqa: F811
    factories.contact_field(company, "cpf")
    factories.contact_field(company, "children", type="number")
    bot.deploy(keyword_flow(
        [{"id": "ask_email", "type": "question", "text": "Seu e-mail?", "variable": "email", "validation": "email"},
         {"id": "save_email", "type": "save_contact", "field": "email", "value": "{{email}}"},
         {"id": "ask_children", "type": "question", "text": "Quantos filhos?", "variable": "kids"},
         {"id": "save_children", "type": "save_contact", "field": "children", "value": "{{kids}} filhos"},
         {"id": "oops", "type": "message", "text": "Não entendi ({{contactFieldError}}), seguimos."},
         {"id": "save_cpf", "type": "save_contact", "field": "cpf", "value": "123.456.789-00"},
         {"id": "note", "type": "note", "text": "Cliente {{email}} quer falar de seguro."},
         {"id": "urgent", "type": "priority", "priority": "urgent"},
         {"id": "bye", "type": "end", "text": "Um atendente já vem."}],
        [*chain("ask_email", "save_email", "ask_children", "save_children", "save_cpf", "note", "urgent", "bye"),
         {"from": "save_children", "to": "oops", "when": "invalid"}, {"from": "oops", "to": "save_cpf"}],
    ))

    bot.say("oi")
    bot.say("Ana@Example.com")
    realtime()
    bot.say("dois")

    contact, ticket = Contact.get(), Ticket.get()
    assert (contact.email, contact.custom_fields) == ("ana@example.com", {"cpf": "123.456.789-00"})
    assert bot.replies()[-2:] == ["Não entendi ('dois filhos' is not a number), seguimos.", "Um atendente já vem."]
    assert [(n.user_id, n.body) for n in TicketNote.select()] == [(None, "Cliente ana@example.com quer falar de seguro.")]
    history = TicketEvent.select().where(TicketEvent.ticket == ticket.id).order_by(TicketEvent.id)
    assert (ticket.priority, [e.kind for e in history][-1]) == (4, "prioritised")
    told = [event for event, _ in realtime()]
    assert "ticket:note" in told and "contact:update" in told and "ticket:update" in told
