"""WhatsApp Status posts: a text on its background, or a file with a caption, posted by the connection's session at
most once; what no Status shows is refused before anything is queued, or fails the job at once."""

from __future__ import annotations

from io import BytesIO

from dramatiq.middleware import CurrentMessage

from api.schemas import iso_utc
from db.base import utcnow
from db.connections import Connection
from db.jobs import Job
from tests.file_server import PNG
from tests.waiting import finished_job, wait_for
from workers import statuses
from workers.schedules import send_due_schedules
from workers.transports import simulator


def posted(client, headers, connection, **options) -> Job:
    return finished_job(client.post(f"/api/connections/{connection.id}/status", headers=headers, **options))


def connected(connection) -> None:
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)


def test_a_text_an_uploaded_image_and_an_image_by_url_are_posted(client, admin_headers, connection, redis_client,
                                                                 worker, gateway, file_server):
    connected(connection)

    text = posted(client, admin_headers, connection, json={"text": "Promoção de Natal!", "backgroundColor": "#FF0000",
                                                            "font": 2})
    upload = posted(client, admin_headers, connection, data={"text": "Nova coleção", "file": (
        BytesIO(PNG), "colecao.png", "image/png")})
    by_url = posted(client, admin_headers, connection, json={"mediaUrl": f"{file_server}/banner.png"})
    document = posted(client, admin_headers, connection, json={"mediaUrl": f"{file_server}/invoice.pdf"})

    assert [job.status for job in (text, upload, by_url)] == ["done"] * 3
    shown = simulator.statuses(redis_client, connection.id)
    assert [(s["waId"], s["type"], s["text"], s["mimetype"]) for s in shown] == [
        (text.result["waId"], "text", "Promoção de Natal!", None),
        (upload.result["waId"], "image", "Nova coleção", "image/png"),
        (by_url.result["waId"], "image", "", "image/png")]
    assert (shown[0]["background"], shown[0]["font"], shown[1]["size"]) == ("#ff0000", 2, len(PNG))
    assert (document.status, document.attempts) == ("failed", 1) and "not application/pdf" in document.error


def test_a_post_run_again_after_asking_is_not_posted_twice(broker, company, connection, redis_client, worker,
                                                          gateway):
    connected(connection)
    message = statuses.post_status.message(connection.id, company.id, {"text": "Oi", "background": "#128c7e",
                                                                        "font": 0, "mediaUrl": None})
    current = CurrentMessage()

    def run() -> dict:
        current.before_process_message(broker, message)
        try:
            return statuses.post_status.fn(*message.args)
        finally:
            current.after_process_message(broker, message)

    first, again = run(), run()

    assert first["waId"] and again["waId"] is None and "not posted twice" in again["unsure"]
    assert len(simulator.statuses(redis_client, connection.id)) == 1


def test_what_no_status_shows_is_a_400_and_only_managers_post(app, client, admin_headers, factories, company,
                                                              connection):
    agent = factories.auth_headers(app, factories.user(company, role="agent"))
    url = f"/api/connections/{connection.id}/status"

    empty = client.post(url, json={}, headers=admin_headers)
    pdf = client.post(url, data={"file": (BytesIO(b"%PDF-1.4\n%%EOF\n"), "menu.pdf", "application/pdf")},
                      headers=admin_headers)
    both = client.post(url, data={"mediaUrl": "https://example.com/a.png", "file": (
        BytesIO(PNG), "a.png", "image/png")}, headers=admin_headers)
    color = client.post(url, json={"text": "Oi", "backgroundColor": "red"}, headers=admin_headers)
    by_agent = client.post(url, json={"text": "Oi"}, headers=agent)

    assert [(r.status_code, list(r.get_json()["details"])) for r in (empty, pdf, both, color)] == [
        (400, ["text"]), (400, ["file"]), (400, ["mediaUrl"]), (400, ["backgroundColor"])]
    assert by_agent.status_code == 403 and Job.select().count() == 0


def test_a_scheduled_status_is_posted_when_due_and_only_managers_schedule_one(app, client, admin_headers, factories,
                                                                              company, connection, redis_client,
                                                                              worker, gateway):
    connected(connection)
    agent = factories.auth_headers(app, factories.user(company, role="agent"))
    status = {"connectionId": connection.id, "statusPost": True, "body": "Bom dia!", "sendAt": iso_utc(utcnow())}

    scheduled = client.post("/api/schedules", json=status, headers=admin_headers)
    to_someone = client.post("/api/schedules", json={**status, "to": "+5511987654321"}, headers=admin_headers)
    by_agent = client.post("/api/schedules", json=status, headers=agent)
    send_due_schedules()

    assert scheduled.status_code == 201 and scheduled.get_json()["statusPost"] is True
    assert (to_someone.status_code, list(to_someone.get_json()["details"])) == (400, ["to"])
    assert by_agent.status_code == 403
    assert wait_for(lambda: [s["text"] for s in simulator.statuses(redis_client, connection.id)] == ["Bom dia!"],
                    timeout=20)
