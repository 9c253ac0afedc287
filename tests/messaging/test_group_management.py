"""Managing the groups a connection's number is in through the API (api/resources/groups.py): each call is a job on
the connection's session (workers/groups.py) whose result is WhatsApp's answer; the groups are kept as group contacts
with their participants, and a send reaches a group by its id."""

from __future__ import annotations

from io import BytesIO

from dramatiq.middleware import CurrentMessage
from PIL import Image

from db.connections import Connection
from db.contacts import Contact
from db.jobs import Job
from tests.waiting import finished_job, wait_for
from workers import groups
from workers.transports import simulator

ANA, BRUNO, CARLA = "+5511900000001", "+5511900000002", "+5511900000003"


def job_of(client, headers, method: str, path: str, **options) -> Job:
    return finished_job(client.open(path, method=method, headers=headers, **options))


def connected(connection) -> None:
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)


def test_a_group_made_changed_and_synced_shows_with_the_contacts_and_its_participants(
        client, admin_headers, connection, redis_client, worker, gateway):
    simulator.configure(redis_client, connection.id, notOnWhatsapp=[BRUNO], refuseGroupAdds=[CARLA.lstrip("+")])
    me = "+" + simulator.session_number(connection.id)
    groups = f"/api/connections/{connection.id}/groups"
    connected(connection)

    created = job_of(client, admin_headers, "POST", groups,
                     json={"subject": "Clientes VIP", "participants": ["(11) 90000-0001", BRUNO, CARLA]})
    group = created.result["group"]
    changed = job_of(client, admin_headers, "POST", f"{groups}/{group['id'].removesuffix('@g.us')}/participants",
                     json={"action": "add", "participants": [CARLA, "+5511900000004", ANA]})
    renamed = job_of(client, admin_headers, "PATCH", f"{groups}/{group['id']}",
                     json={"subject": "Clientes VIP 2025", "description": "Ofertas da semana"})
    announcing = job_of(client, admin_headers, "PATCH", f"{groups}/{group['id']}", json={"announce": True,
                                                                                         "locked": True})
    nothing = client.patch(f"{groups}/{group['id']}", json={}, headers=admin_headers)
    link = job_of(client, admin_headers, "GET", f"{groups}/{group['id']}/invite-link?reset=true")
    synced = job_of(client, admin_headers, "POST", f"{groups}/sync")

    assert created.status == "done", created.error
    assert created.result["participants"] == [{"phone": ANA, "result": "added"},
                                              {"phone": BRUNO, "result": "not_on_whatsapp"},
                                              {"phone": CARLA, "result": "privacy"}]
    assert changed.result["participants"] == [{"phone": CARLA, "result": "privacy"},
                                              {"phone": "+5511900000004", "result": "added"},
                                              {"phone": ANA, "result": "already_in_group"}]
    assert (renamed.result["group"]["subject"], renamed.result["group"]["description"]) == (
        "Clientes VIP 2025", "Ofertas da semana")
    assert (announcing.result["group"]["announce"], announcing.result["group"]["locked"]) == (True, True)
    assert nothing.status_code == 400
    assert link.result["inviteLink"].startswith("https://chat.whatsapp.com/")
    assert synced.result["count"] == 1 and synced.result["groups"][0]["contactId"] == group["contactId"]
    shown = client.get("/api/contacts?isGroup=true", headers=admin_headers).get_json()["items"]
    assert [(c["id"], c["name"], c["phone"]) for c in shown] == [(group["contactId"], "Clientes VIP 2025", group["id"])]
    assert sorted((p["phone"], p["admin"], p["superAdmin"]) for p in shown[0]["participants"]) == sorted([
        (me, True, True), (ANA, False, False), ("+5511900000004", False, False)])
    assert client.get("/api/contacts?isGroup=false", headers=admin_headers).get_json()["items"] == []


def test_a_group_s_picture_is_set_on_whatsapp_and_shown_on_its_contact(client, admin_headers, connection,
                                                                       redis_client, worker, gateway):
    connected(connection)
    groups = f"/api/connections/{connection.id}/groups"
    group = job_of(client, admin_headers, "POST", groups, json={"subject": "Equipe", "participants": [ANA]}).result[
        "group"]
    picture = BytesIO()
    Image.new("RGB", (800, 600), "navy").save(picture, format="PNG")

    set_ = job_of(client, admin_headers, "PUT", f"{groups}/{group['id']}/picture",
                  data={"file": (BytesIO(picture.getvalue()), "logo.png", "image/png")})
    no_file = client.put(f"{groups}/{group['id']}/picture", data={}, headers=admin_headers)

    assert set_.status == "done" and set_.result["pictureId"], set_.error
    shown = simulator.group_picture(redis_client, connection.id, group["id"])
    assert Image.open(BytesIO(shown)).size == (640, 640)  # cut square, as WhatsApp's apps do
    assert client.get(f"/api/contacts/{group['contactId']}", headers=admin_headers).get_json()["profilePicUrl"]
    assert (no_file.status_code, list(no_file.get_json()["details"])) == (400, ["file"])


def test_a_message_goes_to_a_group_by_its_id(client, admin_headers, connection, redis_client, worker, gateway):
    connected(connection)
    group = job_of(client, admin_headers, "POST", f"/api/connections/{connection.id}/groups",
                   json={"subject": "Equipe", "participants": [ANA]}).result["group"]

    sent = client.post("/api/messages", json={"to": group["id"], "body": "Bom dia, equipe"}, headers=admin_headers)
    bad = client.post("/api/messages", json={"to": "sales@g.us", "body": "oi"}, headers=admin_headers)

    assert sent.status_code == 202, sent.get_json()
    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 1, timeout=20)
    assert simulator.outbox(redis_client, connection.id)[0][0]["to"] == group["id"]
    assert Contact.get_by_id(group["contactId"]).is_group
    assert (bad.status_code, list(bad.get_json()["details"])) == (400, ["to"])


def run_as_worker(broker, message) -> dict:
    """The message's actor run as a worker runs it, with the message as the current one."""
    current = CurrentMessage()
    current.before_process_message(broker, message)
    try:
        return groups.create_group.fn(*message.args)
    finally:
        current.after_process_message(broker, message)


def test_a_create_run_again_after_asking_finds_its_group_and_makes_no_second(
        broker, company, connection, redis_client, worker, gateway):
    connected(connection)
    create = groups.create_group.message(connection.id, company.id, "Equipe", [ANA, "+5511900000004"])
    another = groups.create_group.message(connection.id, company.id, "Equipe", [ANA])

    first = run_as_worker(broker, create)
    again = run_as_worker(broker, create)  # redelivered: the worker died before its result was kept
    second_request = run_as_worker(broker, another)

    assert again["group"]["id"] == first["group"]["id"]
    assert again["participants"] == first["participants"] == [{"phone": ANA, "result": "added"},
                                                              {"phone": "+5511900000004", "result": "added"}]
    assert second_request["group"]["id"] != first["group"]["id"]  # a request of its own is a group of its own
    assert redis_client.hlen(simulator.key(connection.id, "groups")) == 2
    assert Contact.select().where(Contact.is_group == True).count() == 2  # noqa: E712


def test_whatsapps_refusal_for_good_fails_the_job_and_leaving_forgets_the_participants(
        client, admin_headers, connection, redis_client, worker, gateway):
    simulator.inject_inbound(redis_client, connection.id, ANA, "oi", group="120363012345678901", group_name="Vendas")
    groups = f"/api/connections/{connection.id}/groups"
    connected(connection)
    assert wait_for(lambda: Contact.get_or_none(Contact.phone == "120363012345678901@g.us") is not None, timeout=20)
    job_of(client, admin_headers, "POST", f"{groups}/sync")

    not_admin = job_of(client, admin_headers, "POST", f"{groups}/120363012345678901/participants",
                       json={"action": "remove", "participants": [ANA]})
    left = job_of(client, admin_headers, "POST", f"{groups}/120363012345678901/leave")
    gone = job_of(client, admin_headers, "GET", f"{groups}/120363012345678901/invite-link")
    left_again = job_of(client, admin_headers, "POST", f"{groups}/120363012345678901/leave")  # out already: done

    assert (not_admin.status, not_admin.attempts) == ("failed", 1) and "not_admin" in not_admin.error
    assert left.status == "done"
    assert Contact.get(Contact.phone == "120363012345678901@g.us").participants is None
    assert gone.status == "failed" and "not_in_group" in gone.error
    assert (left_again.status, left_again.result["left"]) == ("done", True)


def test_bad_requests_are_refused_before_anything_is_queued(client, admin_headers, factories, company, connection):
    groups = f"/api/connections/{connection.id}/groups"
    agent = factories.auth_headers(client.application, factories.user(company, role="agent"))
    other = factories.connection(factories.company())

    bad_group = client.post(f"{groups}/sales/leave", headers=admin_headers)
    bad_phone = client.post(groups, json={"subject": "Equipe", "participants": [ANA, "call me"]}, headers=admin_headers)
    bad_action = client.post(f"{groups}/120363012345678901/participants",
                             json={"action": "ban", "participants": [ANA]}, headers=admin_headers)
    nothing = client.patch(f"{groups}/120363012345678901", json={}, headers=admin_headers)
    by_agent = client.post(f"{groups}/sync", headers=agent)
    foreign = client.post(f"/api/connections/{other.id}/groups/sync", headers=admin_headers)
    Connection.update(enabled=False).where(Connection.id == connection.id).execute()
    stopped = client.post(f"{groups}/sync", headers=admin_headers)

    assert (bad_group.status_code, list(bad_group.get_json()["details"])) == (400, ["groupId"])
    assert (bad_phone.status_code, list(bad_phone.get_json()["details"])) == (400, ["participants[1]"])
    assert bad_action.status_code == 400 and nothing.status_code == 400
    assert (by_agent.status_code, foreign.status_code, stopped.status_code) == (403, 404, 409)
    assert Job.select().count() == 0


def participants_of(client, headers, group: str) -> list[tuple[str, bool]] | None:
    [contact] = client.get(f"/api/contacts?isGroup=true&search={group[:12]}", headers=headers).get_json()["items"]
    members = contact["participants"]
    return None if members is None else sorted((member["phone"], member["admin"]) for member in members)


def test_members_changed_on_whatsapp_are_kept_as_the_group_is_then_and_a_removal_of_ours_forgets_them(
        client, admin_headers, connection, worker, gateway):
    group, me = "120363012345678901@g.us", "+" + simulator.session_number(connection.id)
    change = f"/api/simulator/{connection.id}/group-change"
    connected(connection)

    def changed(**body) -> None:
        answer = client.post(change, json={"group": group, "from": ANA, **body}, headers=admin_headers)
        assert answer.status_code == 202, answer.get_json()

    changed(name="Vendas", add=["me", BRUNO])  # Ana adds the number to her group: it comes with its members
    assert wait_for(lambda: Contact.get_or_none(Contact.phone == group) is not None
                    and Contact.get(Contact.phone == group).participants is not None, timeout=20)
    assert participants_of(client, admin_headers, group) == sorted([(ANA, False), (BRUNO, False), (me, False)])

    changed(promote=[BRUNO], add=[CARLA])
    changed(remove=[ANA], name="Vendas 2025")
    assert wait_for(lambda: participants_of(client, admin_headers, group) == sorted([
        (BRUNO, True), (CARLA, False), (me, False)]), timeout=20)
    assert Contact.get(Contact.phone == group).name == "Vendas 2025"

    changed(remove=["me"])  # the number is out of the group: its contact stays, its members no longer known
    assert wait_for(lambda: participants_of(client, admin_headers, group) is None, timeout=20)


def test_a_group_change_with_nothing_to_change_or_a_bad_number_is_a_400(client, admin_headers, connection,
                                                                        redis_client):
    change = f"/api/simulator/{connection.id}/group-change"

    nothing = client.post(change, json={"group": "120363012345678901", "from": ANA}, headers=admin_headers)
    bad = client.post(change, json={"group": "120363012345678901", "from": ANA, "add": [BRUNO, "call me"]},
                      headers=admin_headers)

    assert nothing.status_code == 400
    assert (bad.status_code, list(bad.get_json()["details"])) == (400, ["add[1]"])
    assert simulator.outbox(redis_client, connection.id)[1] == 0
    assert redis_client.llen(simulator.key(connection.id, "commands")) == 0
