"""A ticket's priority (low to urgent, or none): set by whoever may act on the ticket, recorded in its history,
announced, filtered and sorted on."""

from __future__ import annotations

import csv
import io

from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)


def test_a_priority_set_is_shown_recorded_and_announced_and_null_clears_it(client, factories, company, as_admin,
                                                                          realtime):  # noqa: F811
    ticket = factories.ticket(company, status="open")

    urgent = client.patch(f"/api/tickets/{ticket.id}", json={"priority": "urgent"}, headers=as_admin)
    again = client.patch(f"/api/tickets/{ticket.id}", json={"priority": "urgent"}, headers=as_admin)
    cleared = client.patch(f"/api/tickets/{ticket.id}", json={"priority": None}, headers=as_admin)

    assert (urgent.status_code, urgent.get_json()["priority"]) == (200, "urgent")
    assert again.get_json()["priority"] == "urgent" and cleared.get_json()["priority"] is None
    history = client.get(f"/api/tickets/{ticket.id}/history", headers=as_admin).get_json()["events"]
    assert [(e["kind"], e["data"]) for e in history if e["kind"] == "prioritised"] == [
        ("prioritised", {"from": None, "to": "urgent"}), ("prioritised", {"from": "urgent", "to": None})]
    assert [data["priority"] for event, data in realtime() if event == "ticket:update"] == ["urgent", "urgent", None]


def test_an_unknown_priority_is_refused_and_another_agents_ticket_is_not_found(app, client, factories, company,
                                                                              as_admin):
    ticket = factories.ticket(company, status="open", user=factories.user(company, role="agent"))
    agent = factories.auth_headers(app, factories.user(company, role="agent"))

    unknown = client.patch(f"/api/tickets/{ticket.id}", json={"priority": "asap"}, headers=as_admin)
    numeric = client.patch(f"/api/tickets/{ticket.id}", json={"priority": 4}, headers=as_admin)
    not_theirs = client.patch(f"/api/tickets/{ticket.id}", json={"priority": "high"}, headers=agent)

    assert (unknown.status_code, list(unknown.get_json()["details"])) == (400, ["priority"])
    assert numeric.status_code == 400 and not_theirs.status_code == 404
    assert client.get(f"/api/tickets/{ticket.id}", headers=as_admin).get_json()["priority"] is None


def test_the_list_filters_by_priority_and_puts_the_most_urgent_first(client, factories, company, as_admin):
    low, none, urgent, high = (factories.ticket(company, status="open", priority=rank) for rank in (1, 0, 4, 3))

    def ids(query: str) -> list[int]:
        return [t["id"] for t in client.get(f"/api/tickets?{query}", headers=as_admin).get_json()["items"]]

    assert ids("sort=-priority") == [urgent.id, high.id, low.id, none.id]
    assert ids("priority=high") == [high.id] and ids("priority=none") == [none.id]
    assert client.get("/api/tickets?sort=priority", headers=as_admin).status_code == 400
    export = client.get("/api/tickets/export?priority=urgent", headers=as_admin).get_data(as_text=True)
    assert [(row["id"], row["priority"]) for row in csv.DictReader(io.StringIO(export))] == [(str(urgent.id), "urgent")]
