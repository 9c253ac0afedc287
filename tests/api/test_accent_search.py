"""Every search ignores case and accents, as agents type: "joao" finds "João", "JOÃO" finds "joão", "acao" finds
"Ação"; `%` and `_` stay plain characters. Contacts, leads, tickets, messages and the other lists, on PostgreSQL and
on SQLite (the embedded default)."""

from __future__ import annotations

import pytest


@pytest.fixture
def admin(factories, database_kind):
    """The admin of a new company, in the database of `database_kind` (with its company, headers and connection)."""
    return factories.user(role="admin")


def found(client, headers, path: str, text: str, shown: str = "id") -> list:
    """`shown` of each item the list at `path` gives for `search=text`, sorted."""
    answer = client.get(path, query_string={"search": text, "pageSize": 100}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return sorted(item[shown] for item in answer.get_json()["items"])


def test_contacts_are_found_whatever_the_accents_and_case(client, factories, company, headers):
    for name in ("João Silva", "JOÃO PEDRO", "joao lima", "Conceição", "Marcos", "Joana", "50% Desconto_Ltda"):
        factories.contact(company, name=name)

    def names(text: str) -> list[str]:
        return found(client, headers, "/api/contacts", text, shown="name")

    assert names("joao") == names("JOÃO") == names("joão") == ["JOÃO PEDRO", "João Silva", "joao lima"]
    assert names("CONCEICAO") == names("conceição") == ["Conceição"]
    assert names("ç") == names("c") == ["50% Desconto_Ltda", "Conceição", "Marcos"]
    assert names("% D") == names("o_l") == ["50% Desconto_Ltda"]
    assert names("%") == ["50% Desconto_Ltda"] and names("_") == ["50% Desconto_Ltda"]


def test_leads_are_found_whatever_the_accents_and_case(client, factories, company, headers):
    action = factories.lead(company, name="Ação Social", company_name="Construções Ávila")
    plain = factories.lead(company, name="acao rapida", email="contato@acao.example")
    bricks = factories.lead(company, name="Ana", company_name="100% Tijolos")

    def leads(text: str) -> list[int]:
        return found(client, headers, "/api/leads", text)

    assert leads("acao") == leads("AÇÃO") == leads("ação") == [action.id, plain.id]
    assert leads("construcoes avila") == leads("CONSTRUÇÕES") == [action.id]
    assert leads("0% t") == [bricks.id] and leads("o_") == []


def test_tickets_are_found_by_name_and_by_what_was_said_whatever_the_accents_and_case(client, factories, company,
                                                                                      connection, headers):
    joao = factories.ticket(company, connection=connection, contact=factories.contact(company, name="João Araújo"))
    installation = factories.ticket(company, connection=connection)
    factories.message(installation, body="A INSTALAÇÃO foi concluída")
    factories.message(factories.ticket(company, connection=connection), body="instalar 50% hoje")

    def tickets(text: str) -> list[int]:
        return found(client, headers, "/api/tickets", text)

    assert tickets("joao") == tickets("JOÃO ARAUJO") == tickets("joão") == [joao.id]
    assert tickets("instalacao") == tickets("Instalação") == tickets("CONCLUIDA") == [installation.id]
    assert tickets("stal_") == tickets("ção%") == []


def test_messages_are_found_whatever_the_accents_and_case(client, factories, company, connection, headers):
    ticket = factories.ticket(company, connection=connection)
    accented = factories.message(ticket, body="Não recebi a CONFIRMAÇÃO do pedido")
    typed_plain = factories.message(ticket, direction="out", body="Sua confirmacao chega hoje")
    discount = factories.message(ticket, body="Promoção: 50% off_hoje")
    plain_discount = factories.message(ticket, body="Promocao 500 of hoje")  # what the wildcards would find

    def messages(text: str) -> list[int]:
        return found(client, headers, "/api/messages", text)

    assert messages("nao recebi") == messages("NÃO RECEBI") == [accented.id]
    assert messages("confirmação") == messages("CONFIRMACAO") == [accented.id, typed_plain.id]
    assert messages("promoçao") == messages("PROMOCAO") == [discount.id, plain_discount.id]
    assert messages("ção: 50%") == messages("50%") == messages("f_h") == [discount.id]
    assert messages("%%%") == messages("o_e") == []


def test_the_other_lists_search_their_names_the_same_way(client, factories, company, headers):
    factories.user(company, name="Sebastião Souza")
    factories.tag(company, name="Promoção")
    factories.queue(company, name="Atenção ao cliente")
    client.post("/api/quick-messages", headers=headers, json={"shortcut": "preco", "body": "Nossos preços"})

    assert found(client, headers, "/api/users", "sebastiao", shown="name") == ["Sebastião Souza"]
    assert found(client, headers, "/api/tags", "PROMOCAO", shown="name") == ["Promoção"]
    assert found(client, headers, "/api/queues", "atencao", shown="name") == ["Atenção ao cliente"]
    assert found(client, headers, "/api/quick-messages", "preços", shown="shortcut") == ["preco"]
