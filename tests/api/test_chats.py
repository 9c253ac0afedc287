"""Internal chat: colleagues write to each other in direct chats (one per pair) and titled group chats; only members see
a chat, each message reaches every member's realtime room, and each member's unread count is what others wrote since
they last read it."""

from __future__ import annotations

import json

import pytest

from wharf.realtime import CHANNEL, user_room


@pytest.fixture
def people(app, factories, company):
    """Ana (an agent), Bruno (an agent) and Sara (a supervisor), each with their headers."""
    users = {name: factories.user(company, role=role, name=name)
             for name, role in (("Ana", "agent"), ("Bruno", "agent"), ("Sara", "supervisor"))}
    return {name: (user, factories.auth_headers(app, user)) for name, user in users.items()}


@pytest.fixture
def rooms(redis_client):
    """{event: [rooms]} of the realtime events published, read when called."""
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    pubsub.get_message(timeout=5)
    yield lambda: [(item["event"], item["room"], item["data"][0]) for item in
                   (json.loads(m["data"]) for m in iter(lambda: pubsub.get_message(timeout=0.2), None))]
    pubsub.close()


def test_a_direct_chat_is_one_per_pair_and_each_message_reaches_both(client, people, rooms):
    (ana, as_ana), (bruno, as_bruno) = people["Ana"], people["Bruno"]

    started = client.post("/api/chats", json={"userIds": [bruno.id]}, headers=as_ana)
    again = client.post("/api/chats", json={"userIds": [ana.id]}, headers=as_bruno)
    chat = started.get_json()
    assert (started.status_code, again.status_code, again.get_json()["id"]) == (201, 200, chat["id"])
    assert (chat["direct"], chat["title"], [m["name"] for m in chat["members"]]) == (True, None, ["Ana", "Bruno"])

    sent = client.post(f"/api/chats/{chat['id']}/messages", json={"body": "Pode ver o ticket 42?"}, headers=as_ana)

    assert sent.status_code == 201
    pushed = [(room, data["body"]) for event, room, data in rooms() if event == "chat:message"]
    assert sorted(pushed) == sorted([([user_room(ana.id)], "Pode ver o ticket 42?"),
                                     ([user_room(bruno.id)], "Pode ver o ticket 42?")])
    seen_by_bruno = client.get("/api/chats", headers=as_bruno).get_json()["items"]
    assert [(c["id"], c["unread"], c["lastMessage"]["body"]) for c in seen_by_bruno] == [
        (chat["id"], 1, "Pode ver o ticket 42?")]
    assert client.get(f"/api/chats/{chat['id']}", headers=as_ana).get_json()["unread"] == 0  # her own
    assert client.post(f"/api/chats/{chat['id']}/read", headers=as_bruno).get_json()["unread"] == 0
    messages = client.get(f"/api/chats/{chat['id']}/messages", headers=as_bruno).get_json()["items"]
    assert [(m["userId"], m["body"]) for m in messages] == [(ana.id, "Pode ver o ticket 42?")]


def test_only_members_see_a_chat(client, people):
    (_, as_ana), (bruno, _), (_, as_sara) = people["Ana"], people["Bruno"], people["Sara"]
    chat = client.post("/api/chats", json={"userIds": [bruno.id]}, headers=as_ana).get_json()

    assert client.get(f"/api/chats/{chat['id']}", headers=as_sara).status_code == 404
    assert client.post(f"/api/chats/{chat['id']}/messages", json={"body": "oi"}, headers=as_sara).status_code == 404
    assert client.get("/api/chats", headers=as_sara).get_json()["total"] == 0


def test_a_group_chat_is_changed_by_its_creator_and_managers_and_left_by_anyone(client, people):
    (_, as_ana), (bruno, as_bruno), (sara, as_sara) = people["Ana"], people["Bruno"], people["Sara"]
    chat = client.post("/api/chats", json={"userIds": [bruno.id], "title": "Plantão"}, headers=as_ana).get_json()
    assert chat["direct"] is False

    assert client.patch(f"/api/chats/{chat['id']}", json={"title": "x"}, headers=as_bruno).status_code == 403
    changed = client.patch(f"/api/chats/{chat['id']}", json={"title": "Plantão de sábado", "addUserIds": [sara.id]},
                           headers=as_ana).get_json()
    assert (changed["title"], [m["name"] for m in changed["members"]]) == ("Plantão de sábado", ["Ana", "Bruno", "Sara"])
    assert client.patch(f"/api/chats/{chat['id']}", json={"removeUserIds": [bruno.id]},
                        headers=as_sara).status_code == 200
    assert client.get(f"/api/chats/{chat['id']}", headers=as_bruno).status_code == 404
    assert client.post(f"/api/chats/{chat['id']}/leave", headers=as_sara).status_code == 204
    assert [m["name"] for m in client.get(f"/api/chats/{chat['id']}", headers=as_ana).get_json()["members"]] == ["Ana"]


def test_who_a_chat_names_must_be_active_colleagues(client, factories, company, people):
    (_, as_ana), (bruno, _) = people["Ana"], people["Bruno"]
    stranger = factories.user(factories.company())
    gone = factories.user(company, active=False)

    def refused(body: dict) -> dict:
        answer = client.post("/api/chats", json=body, headers=as_ana)
        assert answer.status_code == 400, answer.get_json()
        return answer.get_json()["details"]

    assert "userIds" in refused({"userIds": [stranger.id]})
    assert "userIds" in refused({"userIds": [gone.id]})
    assert "userIds" in refused({"userIds": [people["Ana"][0].id]})  # only you
    assert refused({"userIds": [bruno.id, people["Sara"][0].id]}) == {"body": "a chat of several people has a title"}


def test_programs_have_no_chats(client, factories, company):
    assert client.get("/api/chats", headers={"X-API-Key": factories.api_key(company, ["tickets:read"])}
                      ).status_code == 403
