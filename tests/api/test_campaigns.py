"""Campaigns over HTTP: validation and tenancy, the status machine (202s that only change a status and
enqueue), the report and the per-recipient export."""

from __future__ import annotations

import csv
import io

import pytest

from db.base import utcnow
from db.campaigns import Campaign, CampaignShipping
from db.contacts import ContactTag
from db.jobs import Job
from db.messages import Message
from workers.campaigns import write_ledger


@pytest.fixture
def connection(factories, admin):
    return factories.connection(admin.company)


def create(client, headers, **fields):
    return client.post("/api/campaigns", headers=headers, json=fields)


def test_a_campaign_is_created_as_a_draft_with_its_audience_variants_and_throttle(
        client, headers, factories, admin, connection):
    contact_list, tag = factories.contact_list(admin.company), factories.tag(admin.company)
    contact = factories.contact(admin.company)

    answer = create(client, headers, name="Black Friday", connectionId=connection.id, contactListId=contact_list.id,
                    tagId=tag.id, contactIds=[contact.id, contact.id], messages=["Hi {{firstName}}", "Olá {{name}}"],
                    mediaUrl="https://example.com/promo.jpg", cron="0 9 * * 1", timezone="America/Sao_Paulo",
                    throttle={"perMinute": 30, "jitterSeconds": 5, "pauseEvery": 100, "pauseSeconds": 600})

    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "draft" and body["contactIds"] == [contact.id]
    assert body["throttle"] == {"perMinute": 30, "jitterSeconds": 5, "pauseEvery": 100, "pauseSeconds": 600}
    assert (body["contactListId"], body["tagId"], body["timezone"]) == (contact_list.id, tag.id, "America/Sao_Paulo")
    assert client.get(f"/api/campaigns/{body['id']}", headers=headers).get_json() == body


@pytest.mark.parametrize("fields, field", [
    ({"messages": []}, "messages"),
    ({"messages": ["a", "b", "c", "d", "e", "f"]}, "messages"),
    ({"cron": "every day"}, "cron"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"throttle": {"perMinute": 0}}, "throttle.perMinute"),
    ({"contactIds": [999_999]}, "contactIds"),
    ({"poll": {"name": "Sabor?", "options": ["Chocolate"]}}, "poll.options"),
    ({"poll": {"name": "Sabor?", "options": ["Chocolate", "Morango"]}}, "messages"),  # a poll goes alone
])
def test_invalid_fields_are_a_400_naming_the_field(client, headers, connection, fields, field):
    answer = create(client, headers, **{"name": "C", "connectionId": connection.id, "messages": ["hi"], **fields})

    assert answer.status_code == 400
    assert any(key.startswith(field) for key in answer.get_json()["details"]), answer.get_json()
    assert Campaign.select().count() == 0


def test_another_company_s_campaigns_and_connections_are_out_of_reach(client, headers, factories):
    stranger = factories.user()
    foreign = factories.campaign(stranger.company)

    assert client.get(f"/api/campaigns/{foreign.id}", headers=headers).status_code == 404
    assert client.post(f"/api/campaigns/{foreign.id}/start", headers=headers).status_code == 404
    assert client.get(f"/api/campaigns/{foreign.id}/report", headers=headers).status_code == 404
    answer = create(client, headers, name="C", connectionId=factories.connection(stranger.company).id,
                    messages=["hi"])
    assert answer.status_code == 400
    assert client.get("/api/campaigns", headers=headers).get_json()["total"] == 0


def test_agents_neither_run_nor_read_campaigns(client, app, factories, admin):
    """A campaign's ledger is a bulk list of contacts, which agents do not export either."""
    agent = factories.auth_headers(app, factories.user(company=admin.company, role="agent"))
    campaign = factories.campaign(admin.company)

    answers = [create(client, agent, name="C", connectionId=1, messages=["hi"]),
               *(client.get(f"/api/campaigns{path}", headers=agent) for path in (
                   "", f"/{campaign.id}", f"/{campaign.id}/report", f"/{campaign.id}/shippings",
                   f"/{campaign.id}/shippings.csv"))]

    assert [answer.status_code for answer in answers] == [403] * 6


def audience(factories, company) -> list[int]:
    return [factories.contact(company).id]


def test_start_enqueues_the_fan_out_and_answers_202_with_the_job(client, headers, factories, admin, connection):
    campaign = factories.campaign(admin.company, connection=connection, contact_ids=audience(factories, admin.company))

    answer = client.post(f"/api/campaigns/{campaign.id}/start", headers=headers)

    assert answer.status_code == 202, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "running" and body["jobId"]
    assert Job.get_by_id(body["jobId"]).kind == "fan_out_campaign"
    assert client.post(f"/api/campaigns/{campaign.id}/start", headers=headers).status_code == 409


def test_a_campaign_with_a_cron_is_scheduled_for_its_next_time(client, headers, factories, admin, connection):
    campaign = factories.campaign(admin.company, connection=connection, cron="0 9 * * *", timezone="Europe/Lisbon",
                                  contact_ids=audience(factories, admin.company))

    body = client.post(f"/api/campaigns/{campaign.id}/start", headers=headers).get_json()

    assert body["status"] == "scheduled" and body["jobId"] is None
    assert body["scheduledAt"].endswith(":00:00.000Z") and Job.select().count() == 0


def test_pause_resume_and_cancel_change_the_status_and_are_refused_out_of_order(
        client, headers, factories, admin, connection, broker):
    campaign = factories.campaign(admin.company, connection=connection, status="running")
    url = f"/api/campaigns/{campaign.id}"

    assert client.post(f"{url}/resume", headers=headers).status_code == 409
    assert client.post(f"{url}/pause", headers=headers).get_json()["status"] == "paused"
    assert client.patch(url, headers=headers, json={"messages": ["new text"]}).status_code == 200
    resumed = client.post(f"{url}/resume", headers=headers)
    assert (resumed.status_code, resumed.get_json()["status"]) == (202, "running")
    assert Campaign.get_by_id(campaign.id).pump_seq == 1
    assert broker.client.llen("dramatiq:campaigns") == 1  # one pump, under the new turn
    assert client.patch(url, headers=headers, json={"name": "x"}).status_code == 409
    assert client.delete(url, headers=headers).status_code == 409
    cancelled = client.post(f"{url}/cancel", headers=headers).get_json()
    assert cancelled["status"] == "cancelled" and Job.get_by_id(cancelled["jobId"]).kind == "cancel_queued_shippings"
    assert client.post(f"{url}/pause", headers=headers).status_code == 409
    assert client.delete(url, headers=headers).status_code == 204


def test_the_report_and_the_export_show_each_recipient_from_its_receipts(client, headers, factories, admin):
    read, failed, waiting = (factories.contact(admin.company, name=f"N{n}") for n in range(3))
    opted_out = factories.contact(admin.company, opted_out_at=utcnow())
    campaign = factories.campaign(admin.company, status="running",
                                  contact_ids=[read.id, failed.id, waiting.id, opted_out.id])
    write_ledger(campaign)
    ticket = factories.ticket(admin.company)
    for contact, status in ((read, "read"), (failed, "failed")):
        message = Message.create(company=admin.company, ticket=ticket, direction="out", status=status)
        CampaignShipping.update(status="sent", message=message, variant=0, sent_at=utcnow()).where(
            CampaignShipping.contact == contact.id).execute()

    report = client.get(f"/api/campaigns/{campaign.id}/report", headers=headers).get_json()
    page = client.get(f"/api/campaigns/{campaign.id}/shippings?status=read", headers=headers).get_json()
    export = client.get(f"/api/campaigns/{campaign.id}/shippings.csv", headers=headers)

    assert report == {"run": 1, "total": 4, "queued": 1, "sent": 1, "delivered": 1, "read": 1, "replied": 0, "failed": 1,
                      "skipped": 1, "cancelled": 0, "optedOut": 1, "poll": None,
                      "variants": None}
    assert page["total"] == 1 and page["items"][0]["contactId"] == read.id and page["items"][0]["status"] == "read"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert export.mimetype == "text/csv"
    assert {(row["phone"], row["status"], row["reason"]) for row in rows} == {
        (read.phone, "read", ""), (failed.phone, "failed", ""), (waiting.phone, "queued", ""),
        (opted_out.phone, "skipped", "opted_out")}


def test_an_api_key_needs_the_campaigns_scope_to_start_one(client, factories, admin, connection):
    campaign = factories.campaign(admin.company, connection=connection, contact_ids=audience(factories, admin.company))
    reader = factories.api_key(admin.company, ["contacts:read"])
    runner = factories.api_key(admin.company, ["campaigns:write"])

    refused = client.post(f"/api/campaigns/{campaign.id}/start", headers={"X-API-Key": reader})
    started = client.post(f"/api/campaigns/{campaign.id}/start", headers={"X-API-Key": runner})

    assert (refused.status_code, started.status_code) == (403, 202)


def test_a_campaign_without_an_audience_is_not_started(client, headers, factories, admin, connection):
    campaign = factories.campaign(admin.company, connection=connection)

    answer = client.post(f"/api/campaigns/{campaign.id}/start", headers=headers)

    assert answer.status_code == 409
    assert answer.get_json()["details"] == {"audience": "set contactListId, tagId, contactIds or audienceField"}
    assert Campaign.get_by_id(campaign.id).status == "draft" and Job.select().count() == 0


@pytest.mark.parametrize("path", ["/api/campaigns?status=sent", "/api/campaigns/1/shippings?status=done"])
def test_an_unknown_status_filter_is_a_400(client, headers, path):
    answer = client.get(path, headers=headers)

    assert answer.status_code == 400 and list(answer.get_json()["details"]) == ["status"]


def test_a_foreign_connection_is_named_by_its_field_in_the_error(client, headers, factories):
    foreign = factories.connection(factories.user().company)

    answer = create(client, headers, name="C", connectionId=foreign.id, messages=["hi"])

    assert answer.get_json()["details"] == {"connectionId": f"unknown ids: [{foreign.id}]"}


def test_a_throttle_left_out_comes_from_the_company_s_default_and_stays_with_the_campaign(
        client, headers, admin, connection):
    client.patch("/api/settings", headers=headers, json={"campaignThrottle": {"perMinute": 12, "jitterSeconds": 3}})
    given = create(client, headers, name="A", connectionId=connection.id, messages=["hi"],
                   throttle={"perMinute": 30}).get_json()
    left_out = create(client, headers, name="B", connectionId=connection.id, messages=["hi"]).get_json()
    client.patch("/api/settings", headers=headers, json={"campaignThrottle": None})
    changed = client.patch(f"/api/campaigns/{given['id']}", headers=headers, json={"throttle": {"pauseEvery": 0}})
    reset = client.patch(f"/api/campaigns/{left_out['id']}", headers=headers, json={"throttle": None})

    assert given["throttle"] == {"perMinute": 30, "jitterSeconds": 3, "pauseEvery": 50, "pauseSeconds": 60}
    assert left_out["throttle"] == {"perMinute": 12, "jitterSeconds": 3, "pauseEvery": 50, "pauseSeconds": 60}
    assert changed.get_json()["throttle"] == {"perMinute": 30, "jitterSeconds": 3, "pauseEvery": 0, "pauseSeconds": 60}
    assert reset.get_json()["throttle"] == {"perMinute": 20, "jitterSeconds": 10, "pauseEvery": 50, "pauseSeconds": 60}
    assert Campaign.get_by_id(given["id"]).pacing() == changed.get_json()["throttle"]


def test_the_report_and_the_ledger_of_an_earlier_run_are_asked_for_by_its_number(client, headers, factories, admin):
    contact = factories.contact(admin.company)
    campaign = factories.campaign(admin.company, contact_ids=[contact.id], cron="0 9 * * *", status="scheduled", run=2)
    CampaignShipping.create(campaign=campaign, contact=contact, run=1, status="skipped", reason="blocked")
    CampaignShipping.create(campaign=campaign, contact=contact, run=2, status="queued")
    url = f"/api/campaigns/{campaign.id}"

    current, first = (client.get(f"{url}/report{query}", headers=headers).get_json() for query in ("", "?run=1"))
    ledger = client.get(f"{url}/shippings?run=1", headers=headers).get_json()
    export = client.get(f"{url}/shippings.csv?run=1", headers=headers).get_data(as_text=True)

    assert (current["run"], current["queued"], first["run"], first["skipped"]) == (2, 1, 1, 1)
    assert [item["status"] for item in ledger["items"]] == ["skipped"] and ",skipped,blocked," in export
    assert client.get(f"{url}", headers=headers).get_json()["run"] == 2
    assert client.get(f"{url}/report?run=0", headers=headers).status_code == 400


def test_the_plan_limits_the_campaigns(client, headers, admin, connection, factories):
    admin.company.plan = factories.plan(max_campaigns=1)
    admin.company.save()
    create(client, headers, name="A", connectionId=connection.id, messages=["hi"])

    over = create(client, headers, name="B", connectionId=connection.id, messages=["hi"])

    assert over.status_code == 403 and over.get_json()["details"] == {"limit": 1, "resource": "campaigns"}
    assert Campaign.select().count() == 1


def test_the_recipients_who_replied_are_listed_and_exported_apart(client, headers, factories, admin):
    answered, silent = (factories.contact(admin.company, name=name) for name in ("Ana", "Bia"))
    campaign = factories.campaign(admin.company, status="running", contact_ids=[answered.id, silent.id])
    write_ledger(campaign)
    ticket = factories.ticket(admin.company)
    for contact in (answered, silent):
        message = Message.create(company=admin.company, ticket=ticket, direction="out", status="read")
        CampaignShipping.update(status="sent", message=message).where(CampaignShipping.contact == contact.id).execute()
    Message.create(company=admin.company, ticket=ticket, contact=answered, direction="in", body="quero!")

    replied = client.get(f"/api/campaigns/{campaign.id}/shippings?replied=true", headers=headers).get_json()
    not_replied = client.get(f"/api/campaigns/{campaign.id}/shippings?replied=false", headers=headers).get_json()
    export = client.get(f"/api/campaigns/{campaign.id}/shippings.csv?replied=true", headers=headers)

    assert [row["name"] for row in replied["items"]] == ["Ana"]
    assert [row["name"] for row in not_replied["items"]] == ["Bia"]
    assert [row["name"] for row in csv.DictReader(io.StringIO(export.get_data(as_text=True)))] == ["Ana"]


def test_a_test_send_goes_to_one_phone_as_a_recipient_gets_it_and_counts_nowhere(client, headers, factories, admin,
                                                                                connection, broker):
    factories.contact(admin.company, phone="+5511987654321", name="Ana Lima", custom_fields={"city": "Recife"})
    campaign = create(client, headers, name="Black Friday", connectionId=connection.id, contactIds=audience(
        factories, admin.company), messages=["Hi {{firstName}}", "Olá {{firstName}}, de {{city}}!"],
                      mediaUrl="https://example.com/promo.jpg").get_json()

    answer = client.post(f"/api/campaigns/{campaign['id']}/test", headers=headers,
                         json={"to": "11 98765-4321", "variant": 1})
    first = client.post(f"/api/campaigns/{campaign['id']}/test", headers=headers, json={"to": "+5511912345678"})
    no_such = client.post(f"/api/campaigns/{campaign['id']}/test", headers=headers, json={"to": "+5511912345678",
                                                                                          "variant": 2})

    assert answer.status_code == 202, answer.get_json()
    sent = Message.get_by_id(answer.get_json()["id"])
    assert (sent.body, sent.type, sent.media_path) == ("Olá Ana, de Recife!", "image", "https://example.com/promo.jpg")
    assert (sent.ticket.status, sent.connection_id) == ("closed", connection.id)  # no agent's queue fills up
    assert Message.get_by_id(first.get_json()["id"]).body == "Hi"
    assert (no_such.status_code, list(no_such.get_json()["details"])) == (400, ["variant"])
    assert CampaignShipping.select().count() == 0
    assert client.get(f"/api/campaigns/{campaign['id']}", headers=headers).get_json()["status"] == "draft"


def test_the_audience_says_whom_a_campaign_would_reach_and_whom_it_would_skip_as_its_ledger_does(
        client, headers, factories, admin, connection):
    company = admin.company
    people = [factories.contact(company, on_whatsapp=True), factories.contact(company),
              factories.contact(company, blocked=True), factories.contact(company, on_whatsapp=False),
              factories.contact(company, opted_out_at=utcnow()), factories.contact(company, blocked=True)]
    factories.contact(company)  # not in its audience
    campaign = factories.campaign(company, connection=connection, contact_ids=[person.id for person in people])

    reach = client.get(f"/api/campaigns/{campaign.id}/audience", headers=headers).get_json()

    assert reach == {"total": 6, "reachable": 2, "unchecked": 1,
                     "skipped": {"optedOut": 1, "blocked": 2, "invalidNumber": 0, "notOnWhatsapp": 1}}
    write_ledger(campaign)  # what starting it would record
    ledger = CampaignShipping.select(CampaignShipping.status, CampaignShipping.reason)
    assert sorted((row.status, row.reason) for row in ledger) == sorted(
        [("queued", None)] * 2 + [("skipped", "blocked")] * 2 + [("skipped", "not_on_whatsapp"),
                                                                 ("skipped", "opted_out")])
    assert client.get("/api/campaigns/999999/audience", headers=headers).status_code == 404


def test_a_campaign_s_audience_is_narrowed_by_a_contact_field_or_is_every_contact_whose_field_holds_a_value(
        client, headers, factories, admin, connection):
    company = admin.company
    factories.contact_field(company, "plan")
    customers = factories.tag(company)
    gold, silver, gold_untagged = (factories.contact(company, custom_fields={"plan": plan}) for plan in
                                   ("Ouro", "Prata", "ouro"))
    for contact in (gold, silver):
        ContactTag.create(contact=contact, tag=customers)

    narrowed = create(client, headers, name="Gold customers", connectionId=connection.id, tagId=customers.id,
                      audienceField={"key": "plan", "values": ["OURO"]}, messages=["Oi"]).get_json()
    by_field = create(client, headers, name="Gold", connectionId=connection.id, messages=["Oi"],
                      audienceField={"key": "plan", "values": ["ouro", "platina"]}).get_json()
    unknown = create(client, headers, name="?", connectionId=connection.id, messages=["Oi"],
                     audienceField={"key": "shoe", "values": ["42"]})

    assert narrowed["audienceField"] == {"key": "plan", "values": ["OURO"]}
    assert client.get(f"/api/campaigns/{narrowed['id']}/audience", headers=headers).get_json()["total"] == 1
    assert client.get(f"/api/campaigns/{by_field['id']}/audience", headers=headers).get_json()["total"] == 2
    assert (unknown.status_code, list(unknown.get_json()["details"])) == (400, ["audienceField.key"])
    assert client.post(f"/api/campaigns/{by_field['id']}/start", headers=headers).status_code == 202
    write_ledger(Campaign.get_by_id(by_field["id"]))
    assert {row.contact_id for row in CampaignShipping.select()} == {gold.id, gold_untagged.id}
