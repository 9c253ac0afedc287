"""GET /api/analytics/leads: new per local day, by status/source/category, conversion rate and value won."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from db.base import utcnow

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def local_midnight_utc(days_ago: int) -> dt.datetime:
    """Midnight in São Paulo `days_ago` days before today there, as naive UTC."""
    today = dt.datetime.now(SAO_PAULO).date()
    midnight = dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(), tzinfo=SAO_PAULO)
    return midnight.astimezone(dt.UTC).replace(tzinfo=None)


def test_the_window_counts_local_days_and_converts_what_was_created_in_it(client, factories, app):
    company = factories.company(timezone="America/Sao_Paulo")
    user = factories.user(company=company)
    now = utcnow()
    today, yesterday = local_midnight_utc(0), local_midnight_utc(1)
    factories.lead(company, status="won", source="website", category="hot", value=500, created_at=today,
                   won_at=now)
    factories.lead(company, status="new", source="website", created_at=today - dt.timedelta(minutes=1))
    factories.lead(company, status="lost", source="referral", created_at=yesterday)
    factories.lead(company, status="won", value=1000, created_at=yesterday - dt.timedelta(minutes=1),
                   won_at=yesterday - dt.timedelta(minutes=1))  # before the window
    factories.lead(factories.company(), status="won", value=7, won_at=now)  # another company

    response = client.get("/api/analytics/leads?days=2", headers=factories.auth_headers(app, user))

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    local_today = dt.datetime.now(SAO_PAULO).date()
    assert body["newPerDay"] == [{"date": (local_today - dt.timedelta(days=1)).isoformat(), "count": 2},
                                 {"date": local_today.isoformat(), "count": 1}]
    assert body["total"] == 3 and body["won"] == 1 and body["conversionRate"] == 0.3333
    assert body["valueWon"] == 500
    assert body["byStatus"] == {"new": 1, "contacted": 0, "qualified": 0, "proposal": 0, "won": 1, "lost": 1}
    assert body["bySource"]["website"] == 2 and body["bySource"]["referral"] == 1 and body["bySource"]["other"] == 0
    assert body["byCategory"] == {"hot": 1, "warm": 2, "cold": 0}
    assert body["timezone"] == "America/Sao_Paulo" and body["since"] == yesterday.isoformat(timespec="milliseconds") + "Z"


def test_no_leads_is_zeros_and_days_is_validated(client, factories, app):
    user = factories.user()
    headers = factories.auth_headers(app, user)

    body = client.get("/api/analytics/leads", headers=headers).get_json()

    assert body["days"] == 7 and len(body["newPerDay"]) == 7
    assert body["total"] == 0 and body["conversionRate"] == 0 and body["valueWon"] == 0
    assert client.get("/api/analytics/leads?days=0", headers=headers).status_code == 400
    assert client.get("/api/analytics/leads?days=many", headers=headers).status_code == 400
