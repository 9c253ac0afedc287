"""Number safety over HTTP: opting contacts out and back in, the opt-out list, a number's send limits and
their state, and campaigns that rotate over several numbers."""

from __future__ import annotations

import pytest

from db.campaigns import Campaign
from db.opt_outs import OptOut


def test_a_contact_is_opted_out_and_back_in_explicitly(client, headers, factories, admin):
    contact = factories.contact(admin.company)
    url = f"/api/contacts/{contact.id}"

    out = client.post(f"{url}/opt-out", headers=headers, json={"reason": "asked on the phone"})

    assert out.status_code == 200, out.get_json()
    assert out.get_json()["optedOut"] is True and out.get_json()["optedOutAt"]
    assert client.get(url, headers=headers).get_json()["optedOut"] is True
    listed = client.get("/api/opt-outs", headers=headers).get_json()
    assert listed["total"] == 1 and listed["items"][0]["phone"] == contact.phone
    assert (listed["items"][0]["source"], listed["items"][0]["reason"]) == ("api", "asked on the phone")
    back = client.post(f"{url}/opt-in", headers=headers)
    assert (back.status_code, back.get_json()["optedOut"], back.get_json()["optedOutAt"]) == (
        200,
        False,
        None,
    )
    assert OptOut.select().count() == 0


def test_another_company_s_contact_cannot_be_opted_out(client, headers, factories):
    stranger = factories.contact(factories.company())

    assert client.post(f"/api/contacts/{stranger.id}/opt-out", headers=headers).status_code == 404
    assert client.post(f"/api/contacts/{stranger.id}/opt-in", headers=headers).status_code == 404
    assert OptOut.select().count() == 0


def test_a_connection_takes_send_limits_and_shows_where_it_stands(client, headers, factories, admin):
    connection = factories.connection(admin.company)
    url = f"/api/connections/{connection.id}"

    assert client.get(f"{url}/limits", headers=headers).get_json()["limited"] is False
    changed = client.patch(
        url,
        headers=headers,
        json={"sendLimits": {"perMinute": 6, "dailyCap": 300, "quietStart": "22:00", "quietEnd": "07:00"}},
    )

    assert changed.status_code == 200, changed.get_json()
    limits = changed.get_json()["sendLimits"]
    assert (limits["perMinute"], limits["dailyCap"], limits["hourlyCap"], limits["quietStart"]) == (
        6,
        300,
        200,
        "22:00",
    )
    state = client.get(f"{url}/limits", headers=headers).get_json()
    assert state["limited"] is True and state["tokens"] == 5 and state["sentToday"] == 0
    assert (state["dailyCap"], state["warmupDay"]) == (50, 1)  # a new number warms up
    assert client.patch(url, headers=headers, json={"sendLimits": None}).get_json()["sendLimits"] is None


@pytest.mark.parametrize(
    "limits, field",
    [
        ({"perMinute": 0}, "sendLimits.perMinute"),
        ({"quietStart": "25:00"}, "sendLimits.quietStart"),
        ({"burst": 5, "tokens": 3}, "sendLimits.tokens"),
    ],
)
def test_bad_send_limits_are_a_400_naming_the_field(client, headers, factories, admin, limits, field):
    connection = factories.connection(admin.company)

    answer = client.patch(f"/api/connections/{connection.id}", headers=headers, json={"sendLimits": limits})

    assert answer.status_code == 400
    assert any(key.startswith(field) for key in answer.get_json()["details"]), answer.get_json()


def test_a_campaign_rotates_over_the_company_s_numbers(client, headers, factories, admin):
    first, second = factories.connection(admin.company), factories.connection(admin.company)
    foreign = factories.connection(factories.company())
    body = {"name": "Rotation", "messages": ["hi"]}

    created = client.post(
        "/api/campaigns", headers=headers, json={**body, "connectionIds": [first.id, second.id]}
    )
    refused = client.post(
        "/api/campaigns", headers=headers, json={**body, "connectionIds": [first.id, foreign.id]}
    )
    without = client.post("/api/campaigns", headers=headers, json=body)

    assert created.status_code == 201, created.get_json()
    assert (created.get_json()["connectionIds"], created.get_json()["connectionId"]) == (
        [first.id, second.id],
        first.id,
    )
    assert refused.status_code == 400 and "connectionIds" in refused.get_json()["details"]
    assert without.status_code == 400
    assert Campaign.select().count() == 1
    report = client.get(f"/api/campaigns/{created.get_json()['id']}/report", headers=headers).get_json()
    assert report["replied"] == 0 and report["optedOut"] == 0
