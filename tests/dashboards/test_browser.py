"""The dashboard in a real browser: Playwright drives Debian's Chromium (`wharf services ensure`
installs it) against the app served on loopback, with real messages in Redis and a real worker
process. Screenshots are kept in tests/artifacts/."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from dashboards.queues import minutes
from db.campaigns import Campaign
from db.jobs import Job
from tests import processes
from tests.conftest import free_port
from tests.factories import PASSWORD
from tests.waiting import wait_for
from workers.campaigns import cancel_queued_shippings
from workers.jobs import record_job, send_tracked
from workers.maintenance import prune_finished_jobs
from workers.middleware import WORKERS_KEY

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING_CAMPAIGN = 999_999


@pytest.fixture
def served(app):
    """The app on a loopback port, as a browser reaches it."""
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def worker_process(broker):
    program = processes.workers(processes=1, threads=2).start()
    try:
        assert wait_for(lambda: broker.client.hlen(WORKERS_KEY) > 0, timeout=30), "the worker did not start"
        yield program
    finally:
        program.stop()


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("dialog", lambda dialog: dialog.accept())
        yield page
        browser.close()


def test_an_operator_requeues_a_dead_job_and_sees_it_run(
    client, app, factories, broker, served, worker_process, browser_page
):
    root = factories.user(role="super")
    connection = factories.connection(root.company, is_default=True)  # no gateway runs: its sends wait, ready
    sent = client.post(
        "/api/messages",
        json={"connectionId": connection.id, "to": "+5511987654321", "body": "Oi"},
        headers=factories.auth_headers(app, root),
    )
    assert sent.status_code == 202
    prune_finished_jobs.send_with_options(delay=3_600_000)
    # a job that dies: its campaign does not exist (yet), and it may not be retried
    job, message = record_job(cancel_queued_shippings, MISSING_CAMPAIGN, company_id=root.company_id)
    send_tracked(broker, message.copy(options={"max_retries": 0}))
    assert wait_for(lambda: Job.get_by_id(job.id).status == "failed", timeout=15)
    # the worker writes its counts every 2 s
    assert wait_for(lambda: sum(minute.processed for minute in minutes(broker.client)) == 1, timeout=10)
    page = browser_page

    page.goto(f"{served}/dashboard/")
    page.fill("input[name=email]", root.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("text=Log in")
    page.wait_for_selector("#queues")
    page.screenshot(path=ARTIFACTS / "dashboard-overview.png", full_page=True)

    gateway_queue = f"gw.{connection.id}"
    assert page.inner_text(f'tr[data-queue="{gateway_queue}"] td:nth-child(2)') == "1"
    assert page.inner_text('tr[data-queue="maintenance"] td:nth-child(4)') == "1"
    assert page.inner_text('tr[data-queue="campaigns"] td:nth-child(5)') == "1"
    assert "1 processed" in page.inner_html("#throughput-chart") or "last hour: 1," in page.inner_text("body")
    assert page.locator("#workers tr").count() >= 2  # the header and the worker process

    page.click('tr[data-queue="campaigns"] td:nth-child(5) a')
    row = page.locator(f'tr[data-message-id="{job.id}"]')
    assert "cancel_queued_shippings" in row.inner_text() and "DoesNotExist" in row.inner_text()
    page.screenshot(path=ARTIFACTS / "dashboard-dead-letters.png", full_page=True)

    Campaign.create(id=MISSING_CAMPAIGN, company=root.company, name="Restored", status="cancelled")  # the fix
    row.locator("button[data-action=requeue]").click()
    page.wait_for_selector("text=Requeued 1 dead letter.")

    assert wait_for(lambda: Job.get_by_id(job.id).status == "done", timeout=15)
    assert Job.get_by_id(job.id).result == {"campaignId": MISSING_CAMPAIGN, "cancelled": 0}
    page.reload()
    assert page.locator(f'tr[data-message-id="{job.id}"]').count() == 0
    assert "dead (0)" in page.inner_text(".tabs")
    page.screenshot(path=ARTIFACTS / "dashboard-after-requeue.png", full_page=True)
