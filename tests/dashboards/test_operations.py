"""The operations page: connections and their health, campaigns in progress with pause and resume,
the scheduler and the health of the database and Redis."""

from __future__ import annotations

import datetime as dt
import re
import time

from db.audit import AuditLog
from db.base import utcnow
from db.campaigns import Campaign, CampaignShipping
from db.webhooks import WebhookDelivery
from scheduler.status import LEADER_KEY, record_run
from tests.dashboards.conftest import log_in, post_form
from wharf.leases import Lease
from workers.gateway.process import lease_key


def running_campaign(factories, company, name: str, recipients: int = 4, sent: int = 0, **fields) -> Campaign:
    campaign = Campaign.create(
        company=company, name=name, status="running", throttle={"perMinute": 30}, **fields
    )
    for n in range(recipients):
        CampaignShipping.create(
            campaign=campaign,
            contact=factories.contact(company),
            status="sent" if n < sent else "queued",
            sent_at=utcnow() if n < sent else None,
        )
    return campaign


def table(page: str, table_id: str) -> str:
    return re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S).group(1)


def test_a_super_admin_sees_health_the_scheduler_connections_and_their_limits(
    client, factories, root, redis_client
):
    connection = factories.connection(
        root.company,
        name="Sales line",
        status="connected",
        reconnects=3,
        last_seen_at=utcnow(),
        send_limits={"hourlyCap": 120},
    )
    Lease(redis_client, LEADER_KEY, owner="sched-host:abc").hold()
    Lease(redis_client, lease_key(connection.id), owner="gw-host:1").hold()
    record_run("send_due_schedules", time.time(), 0.004, None, "sched-host:abc")
    record_run("requeue_lost_jobs", time.time(), 0.01, "the database went away", "sched-host:abc")

    page = client.get("/dashboard/operations").get_data(as_text=True)

    health = table(page, "health")
    assert health.count('class="ok">ok</span>') == 3 and "leader: sched-host:abc" in health
    jobs = table(page, "scheduler-jobs")
    assert re.search(
        r'send_due_schedules</td>\s*<td>[\d-]+ [\d:]+</td><td class="n">4.0 ms</td><td class="ok">ok', jobs
    )
    assert "the database went away" in jobs
    assert re.search(r'prune_finished_jobs</td>\s*<td colspan="3" class="muted">not run yet', jobs)
    connections = table(page, "connections")
    assert (
        "Sales line" in connections and ">connected<" in connections and '<td class="n">3</td>' in connections
    )
    assert "gw-host" in connections and "0/120 this hour" in connections


def test_campaigns_in_progress_show_progress_rate_and_eta(client, factories, root):
    running_campaign(factories, root.company, "Black Friday", recipients=10, sent=4)

    campaigns = table(client.get("/dashboard/operations").get_data(as_text=True), "campaigns")

    assert "Black Friday" in campaigns and "4 / 10" in campaigns
    assert "0.8 (30.0)" in campaigns  # 4 sends in the last five minutes; paced at 30 a minute
    assert "7 min" in campaigns and "Pause" in campaigns  # 6 left at 0.8 a minute


def test_an_admin_pauses_and_resumes_their_campaign_as_the_api_would(client, factories, broker):
    admin = factories.user(role="admin")
    campaign = running_campaign(factories, admin.company, "Welcome")
    log_in(client, admin.email)

    post_form(client, f"/dashboard/campaigns/{campaign.id}/pause")
    paused = Campaign.get_by_id(campaign.id)
    page = client.get("/dashboard/operations").get_data(as_text=True)
    post_form(client, f"/dashboard/campaigns/{campaign.id}/resume")
    resumed = Campaign.get_by_id(campaign.id)

    assert paused.status == "paused" and "Resume" in table(page, "campaigns")
    assert "Campaign &#39;Welcome&#39; paused." in page
    assert resumed.status == "running" and resumed.pump_seq == paused.pump_seq + 1
    assert broker.client.llen("dramatiq:campaigns") == 1  # resume_campaign sent the pump's next tick
    changes = [
        entry.after for entry in AuditLog.select().where(AuditLog.entity == "campaign").order_by(AuditLog.id)
    ]
    assert [change["status"] for change in changes] == ["paused", "running"]
    assert AuditLog.select().where(AuditLog.user == admin.id).count() == 2


def test_another_companys_admin_neither_sees_nor_pauses_our_campaigns(client, factories):
    ours = factories.user(role="admin")
    campaign = running_campaign(factories, ours.company, "Our secret launch")
    factories.connection(ours.company, name="Our line")
    theirs = factories.user(role="admin")
    log_in(client, theirs.email)

    page = client.get("/dashboard/operations").get_data(as_text=True)
    response = post_form(client, f"/dashboard/campaigns/{campaign.id}/pause")

    assert "Our secret launch" not in page and "Our line" not in page
    assert response.status_code == 404 and Campaign.get_by_id(campaign.id).status == "running"


def test_webhooks_show_their_last_hour_of_deliveries_the_failing_first(client, factories, root):
    quiet = factories.webhook(root.company, url="https://crm.example.com/hooks")
    failing = factories.webhook(root.company, url="https://n8n.example.com/hooks")
    factories.webhook(root.company, url="https://off.example.com/hooks", enabled=False)
    for status, error in (("delivered", None), ("failed", "HTTP 500"), ("pending", "timed out")):
        WebhookDelivery.create(webhook=failing, event="message:new", payload={}, status=status, last_error=error)
    WebhookDelivery.create(webhook=quiet, event="message:new", payload={}, status="delivered")
    WebhookDelivery.create(webhook=quiet, event="message:new", payload={}, status="failed", last_error="long ago",
                           created_at=utcnow() - dt.timedelta(hours=2))

    webhooks = table(client.get("/dashboard/operations").get_data(as_text=True), "webhooks")

    rows = re.findall(r"<tr>(.*?)</tr>", webhooks, re.S)[1:]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    assert [(c[1].split(" <")[0], c[2], c[3], c[4], c[5]) for c in cells] == [
        ("https://n8n.example.com/hooks", "1", "1", "1", "timed out"),
        ("https://crm.example.com/hooks", "1", "0", "0", "")]
