"""The ticket board (Whaticket's Kanban): lane tags in their order, each live ticket in the column of its first lane
tag or in the first column; a card moved from lane to lane keeps its other tags."""

from __future__ import annotations

import pytest

from db.tickets import TicketTag


@pytest.fixture
def lanes(factories, company):
    """"Follow-up" before "New lead" on the board; "vip" is a tag, not a lane."""
    return (factories.tag(company, name="New lead", board_position=2),
            factories.tag(company, name="Follow-up", board_position=1),
            factories.tag(company, name="vip"))


def tagged(factories, company, *tags, **fields):
    ticket = factories.ticket(company, **fields)
    for tag in tags:
        TicketTag.create(ticket=ticket, tag=tag)
    return ticket


def columns(client, headers, query=""):
    answer = client.get(f"/api/tickets/board{query}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return [((column["tag"] or {}).get("name"), column["total"], [t["id"] for t in column["tickets"]])
            for column in answer.get_json()["columns"]]


def test_each_live_ticket_stands_in_the_column_of_its_first_lane(client, factories, company, as_admin, lanes):
    new_lead, follow_up, vip = lanes
    untagged = tagged(factories, company)
    only_vip = tagged(factories, company, vip)
    lead = tagged(factories, company, new_lead)
    both = tagged(factories, company, new_lead, follow_up)
    tagged(factories, company, follow_up, status="closed")

    board = columns(client, as_admin, "?sort=createdAt")
    paged = columns(client, as_admin, "?sort=createdAt&pageSize=1&page=2")
    closed = columns(client, as_admin, "?status=closed")

    assert board == [(None, 2, [untagged.id, only_vip.id]), ("Follow-up", 1, [both.id]), ("New lead", 1, [lead.id])]
    assert paged == [(None, 2, [only_vip.id]), ("Follow-up", 1, []), ("New lead", 1, [])]
    assert [total for _, total, _ in closed] == [0, 1, 0]


def test_an_agent_s_board_holds_only_the_tickets_they_see(app, client, factories, company, lanes):
    agent = factories.user(company, role="agent")
    theirs = tagged(factories, company, lanes[0], user=agent, status="open")
    tagged(factories, company, lanes[0], user=factories.user(company, role="agent"), status="open")

    assert columns(client, factories.auth_headers(app, agent)) == [
        (None, 0, []), ("Follow-up", 0, []), ("New lead", 1, [theirs.id])]


def test_a_card_moves_between_lanes_keeping_its_other_tags(client, factories, company, as_admin, admin, lanes):
    new_lead, follow_up, vip = lanes
    ticket = tagged(factories, company, new_lead, vip)
    foreign = tagged(factories, factories.company())

    moved = client.put(f"/api/tickets/{ticket.id}/lane", json={"tagId": follow_up.id}, headers=as_admin)
    not_a_lane = client.put(f"/api/tickets/{ticket.id}/lane", json={"tagId": vip.id}, headers=as_admin)
    elsewhere = client.put(f"/api/tickets/{foreign.id}/lane", json={"tagId": follow_up.id}, headers=as_admin)
    kept = {link.tag_id for link in TicketTag.select().where(TicketTag.ticket == ticket.id)}
    out = client.put(f"/api/tickets/{ticket.id}/lane", json={"tagId": None}, headers=as_admin)

    assert moved.status_code == 200 and {t["name"] for t in moved.get_json()["tags"]} == {"Follow-up", "vip"}
    assert kept == {follow_up.id, vip.id}
    assert (not_a_lane.status_code, elsewhere.status_code) == (404, 404)
    assert [t["name"] for t in out.get_json()["tags"]] == ["vip"]
    history = client.get(f"/api/tickets/{ticket.id}/history", headers=as_admin).get_json()["events"]
    assert [(e["kind"], e["data"], e["userId"]) for e in history] == [
        ("tagged", {"added": [follow_up.id], "removed": [new_lead.id]}, admin.id),
        ("tagged", {"added": [], "removed": [follow_up.id]}, admin.id)]  # the card in no lane; a refused move is none


def test_tags_set_added_or_taken_off_are_in_the_ticket_s_history_once_they_change(
        client, factories, company, as_admin, admin, lanes):
    new_lead, follow_up, vip = lanes
    ticket = tagged(factories, company, vip)

    client.put(f"/api/tickets/{ticket.id}/tags", json={"tagIds": [vip.id, new_lead.id]}, headers=as_admin)
    client.put(f"/api/tickets/{ticket.id}/tags", json={"tagIds": [new_lead.id, vip.id]}, headers=as_admin)  # the same
    macro = client.post("/api/macros", json={"name": "m", "actions": [{"type": "remove_tags", "tagIds": [vip.id]}]},
                        headers=as_admin).get_json()
    client.post(f"/api/macros/{macro['id']}/run", json={"ticketIds": [ticket.id]}, headers=as_admin)

    history = client.get(f"/api/tickets/{ticket.id}/history", headers=as_admin).get_json()["events"]
    assert [(e["kind"], e["data"], e["userId"]) for e in history] == [
        ("tagged", {"added": [new_lead.id], "removed": []}, admin.id),
        ("tagged", {"added": [], "removed": [vip.id]}, admin.id)]


def test_a_tag_becomes_a_lane_by_its_position_and_stops_being_one_with_null(client, company, as_admin):
    created = client.post("/api/tags", json={"name": "Proposal", "boardPosition": 3}, headers=as_admin).get_json()
    assert created["boardPosition"] == 3

    cleared = client.patch(f"/api/tags/{created['id']}", json={"boardPosition": None}, headers=as_admin)
    nameless = client.patch(f"/api/tags/{created['id']}", json={"name": None}, headers=as_admin)

    assert (cleared.status_code, cleared.get_json()["boardPosition"]) == (200, None)
    assert (nameless.status_code, nameless.get_json()["details"]) == (400, {"name": "may not be null"})
    assert client.post("/api/tags", json={"name": "Won", "boardPosition": 1000}, headers=as_admin).status_code == 400
