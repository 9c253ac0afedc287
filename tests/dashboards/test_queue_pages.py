"""The queue pages read Dramatiq's Redis keys: counts, the message browser, workers, throughput."""

from __future__ import annotations

import re

from db.jobs import Job
from tests.dashboards.actors import TEST_QUEUE, count_run, runs
from tests.dashboards.conftest import QUEUE, dead_letter, demo_message
from tests.waiting import wait_for


def counts_row(page: str, queue: str) -> list[int]:
    row = re.search(rf'<tr data-queue="{re.escape(queue)}">(.*?)</tr>', page).group(1)
    return [int(n) for n in re.findall(r'class="n[^"]*">(?:<a [^>]+>)?(\d+)', row)]


def test_the_overview_counts_ready_in_progress_delayed_and_dead(client, broker, root):
    dead_letter(broker, demo_message("nothing", "dead one"))
    for n in range(3):
        broker.enqueue(demo_message("nothing", n))
    broker.enqueue(demo_message("nothing", "later"), delay=3_600_000)
    consumer = broker.consume(QUEUE, prefetch=1, timeout=100)
    next(m for m in consumer if m is not None)  # a worker holds one: in progress

    page = client.get("/dashboard/").get_data(as_text=True)
    consumer.close()

    assert counts_row(page, QUEUE) == [2, 1, 1, 1]  # ready, in progress, delayed, dead


def test_the_browser_shows_actor_arguments_times_retries_and_the_last_error(client, broker, root):
    message = demo_message(
        "send_report",
        42,
        "weekly",
        retries=3,
        traceback="Traceback (most recent call last):\n  ...\nValueError: report 42 is empty\n",
    )
    dead_letter(broker, message)
    broker.enqueue(demo_message("send_report", 7), delay=60_000)
    broker.enqueue(demo_message("send_report", 8))

    dead = client.get(f"/dashboard/queues/{QUEUE}?state=dead").get_data(as_text=True)
    delayed = client.get(f"/dashboard/queues/{QUEUE}?state=delayed").get_data(as_text=True)
    ready = client.get(f"/dashboard/queues/{QUEUE}").get_data(as_text=True)

    assert f'data-message-id="{message.message_id}"' in dead
    assert "send_report" in dead and "[42, &#34;weekly&#34;]" in dead
    assert "ValueError: report 42 is empty" in dead and '<td class="n">3</td>' in dead
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td>", dead)  # enqueued and died
    assert "<code>[7]</code>" in delayed and "Run now" in delayed
    assert "<code>[8]</code>" in ready and "<code>[7]</code>" not in ready
    assert client.get("/dashboard/queues/no-such-queue").status_code == 404
    for state in ("ready", "delayed", "dead"):  # a page past any integer Redis takes is only empty
        assert client.get(f"/dashboard/queues/{QUEUE}?state={state}&page={10**20}").status_code == 200
    assert client.get(f"/dashboard/queues/{QUEUE}?state=bogus").status_code == 404


def test_a_dead_tracked_job_shows_the_error_its_job_row_recorded(client, broker, root, worker):
    from workers.jobs import enqueue_job

    job = enqueue_job(count_run, "dash:runs", True, company_id=None)

    assert wait_for(lambda: Job.get_by_id(job.id).status == "failed")
    page = client.get(f"/dashboard/queues/{TEST_QUEUE}?state=dead").get_data(as_text=True)

    assert f'data-message-id="{job.id}"' in page and "ValueError: asked to fail" in page


def test_workers_appear_with_their_queues_and_throughput_is_charted(client, broker, root, worker):
    import os

    for n in range(5):
        count_run.send("dash:runs", n == 0)

    assert wait_for(lambda: runs("dash:runs") == 5)
    assert wait_for(lambda: "last hour: 5," in client.get("/dashboard/").get_data(as_text=True), timeout=10)
    page = client.get("/dashboard/").get_data(as_text=True)
    workers = re.search(r'<table id="workers">(.*?)</table>', page, re.S).group(1)

    assert f":{os.getpid()}" in workers and TEST_QUEUE in workers and "(gone)" not in workers
    assert 'Failure rate <span class="muted">(last hour: 20.0 %)' in page
