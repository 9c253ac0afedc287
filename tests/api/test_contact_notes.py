"""Notes on a contact: every role writes them, newest first; their author or a manager changes or deletes one; they
follow the contact through a merge and go with it."""

from __future__ import annotations

import pytest

from db.contacts import ContactNote


@pytest.fixture
def contact(factories, company):
    return factories.contact(company, name="Ana Lima")


def headers_of(app, factories, company, role: str) -> dict:
    return factories.auth_headers(app, factories.user(company, role=role))


def test_agents_write_notes_read_newest_first_and_only_the_author_or_a_manager_changes_one(
        app, client, factories, company, contact):
    author, colleague, manager = (headers_of(app, factories, company, role) for role in ("agent", "agent", "admin"))
    notes = f"/api/contacts/{contact.id}/notes"

    first = client.post(notes, json={"body": "Prefere contato à tarde"}, headers=author).get_json()
    second = client.post(notes, json={"body": "Cliente VIP desde 2019"}, headers=colleague).get_json()
    listed = client.get(notes, headers=colleague).get_json()["items"]
    by_colleague = client.patch(f"{notes}/{first['id']}", json={"body": "x"}, headers=colleague)
    by_author = client.patch(f"{notes}/{first['id']}", json={"body": "Prefere contato de manhã"}, headers=author)
    by_manager = client.delete(f"{notes}/{second['id']}", headers=manager)
    empty = client.post(notes, json={"body": ""}, headers=author)
    foreign = client.get(f"/api/contacts/{factories.contact(factories.company()).id}/notes", headers=author)

    assert [note["body"] for note in listed] == ["Cliente VIP desde 2019", "Prefere contato à tarde"]
    assert (by_colleague.status_code, by_author.status_code, by_manager.status_code) == (403, 200, 204)
    assert [(note.id, note.body) for note in ContactNote.select()] == [(first["id"], "Prefere contato de manhã")]
    assert (empty.status_code, foreign.status_code) == (400, 404)


def test_notes_follow_a_merge_and_go_with_the_contact(app, client, factories, company, contact):
    admin = headers_of(app, factories, company, "admin")
    duplicate = factories.contact(company, name="Ana L.")
    client.post(f"/api/contacts/{duplicate.id}/notes", json={"body": "Pediu boleto"}, headers=admin)

    assert client.post(f"/api/contacts/{contact.id}/merge", json={"contactId": duplicate.id},
                       headers=admin).status_code == 200
    assert [note["body"] for note in client.get(f"/api/contacts/{contact.id}/notes",
                                                headers=admin).get_json()["items"]] == ["Pediu boleto"]
    assert client.delete(f"/api/contacts/{contact.id}", headers=admin).status_code == 204
    assert ContactNote.select().count() == 0
