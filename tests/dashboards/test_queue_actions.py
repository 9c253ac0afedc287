"""Requeue and delete dead letters, run delayed messages now or delete them: atomic against workers
and other operators, so a message is never lost nor run twice."""

from __future__ import annotations

import threading
import time

import dramatiq

from dashboards.queue_actions import QueueActions
from db.jobs import Job
from tests.dashboards.actors import TEST_QUEUE, count_run, runs
from tests.dashboards.conftest import QUEUE, dead_letter, demo_message, post_form
from tests.waiting import wait_for
from workers.jobs import enqueue_job, enqueued_marker, record_job


def ready_messages(broker, queue: str = QUEUE) -> list[dramatiq.Message]:
    ids = broker.client.lrange(f"dramatiq:{queue}", 0, -1)
    return [dramatiq.Message.decode(data) for data in broker.client.hmget(f"dramatiq:{queue}.msgs", ids)]


def dead_ids(broker, queue: str = QUEUE) -> list[str]:
    return [raw.decode() for raw in broker.client.zrange(f"dramatiq:{queue}.XQ", 0, -1)]


def delayed_ids(broker, queue: str = TEST_QUEUE) -> list[str]:
    return [raw.decode() for raw in broker.client.hkeys(f"dramatiq:{queue}.DQ.msgs")]


def test_a_requeued_dead_letter_is_ready_again_with_its_retries_and_age_reset(client, broker, root):
    old = int(time.time() * 1000) - 2 * 24 * 3600 * 1000  # older than the broker's one-day age limit
    message = demo_message("send_report", 42, retries=8, traceback="ValueError: x")
    message = message.copy(message_timestamp=old)
    redis_id = dead_letter(broker, message).options["redis_message_id"]
    dead_letter(broker, demo_message("send_report", 43))

    response = post_form(client, f"/dashboard/queues/{QUEUE}/dead/requeue", id=redis_id)

    assert response.status_code == 302
    assert "Requeued 1 dead letter." in client.get(response.headers["Location"]).get_data(as_text=True)
    [requeued] = ready_messages(broker)
    assert requeued.message_id == message.message_id and requeued.args == (42,)
    assert requeued.options["retries"] == 0 and requeued.message_timestamp > old
    assert len(dead_ids(broker)) == 1


def test_ticked_dead_letters_are_deleted_and_all_are_requeued(client, broker, root):
    redis_ids = [dead_letter(broker, demo_message("nothing", n)).options["redis_message_id"] for n in range(4)]

    post_form(client, f"/dashboard/queues/{QUEUE}/dead/delete", id=redis_ids[:2])
    assert sorted(dead_ids(broker)) == sorted(redis_ids[2:])

    post_form(client, f"/dashboard/queues/{QUEUE}/dead/requeue", all="1")
    assert dead_ids(broker) == [] and sorted(m.args[0] for m in ready_messages(broker)) == [2, 3]


def test_deleting_all_dead_letters_empties_the_dead_letter_queue(client, broker, root):
    for n in range(3):
        dead_letter(broker, demo_message("nothing", n))

    post_form(client, f"/dashboard/queues/{QUEUE}/dead/delete", all="1")

    assert dead_ids(broker) == [] and broker.client.hlen(f"dramatiq:{QUEUE}.XQ.msgs") == 0


def test_operators_requeueing_at_once_put_each_dead_letter_back_exactly_once(broker):
    for n in range(200):
        dead_letter(broker, demo_message("nothing", n))
    ids = dead_ids(broker)
    moved = []

    def operator(reverse: bool) -> None:
        actions = QueueActions(broker, QUEUE)
        for redis_id in reversed(ids) if reverse else ids:
            moved.append(actions.requeue_dead([redis_id]))

    threads = [threading.Thread(target=operator, args=(n % 2 == 1,)) for n in range(4)]
    threads += [threading.Thread(target=QueueActions(broker, QUEUE).requeue_all_dead)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    ready = ready_messages(broker)
    assert sorted(m.args[0] for m in ready) == list(range(200))
    assert broker.client.hlen(f"dramatiq:{QUEUE}.msgs") == 200 and dead_ids(broker) == []


def test_a_requeued_dead_job_runs_and_its_job_row_follows(client, broker, root, worker):
    job = enqueue_job(count_run, "dash:fixed", True, company_id=None)
    assert wait_for(lambda: Job.get_by_id(job.id).status == "failed")
    broker.client.delete(enqueued_marker(job.id))
    # the operator fixes the cause: this time the actor is asked not to fail
    [redis_id] = dead_ids(broker, TEST_QUEUE)
    data = dramatiq.Message.decode(broker.client.hget(f"dramatiq:{TEST_QUEUE}.XQ.msgs", redis_id))
    broker.client.hset(
        f"dramatiq:{TEST_QUEUE}.XQ.msgs", redis_id, data.copy(args=("dash:fixed", False)).encode()
    )

    post_form(client, f"/dashboard/queues/{TEST_QUEUE}/dead/requeue", id=redis_id)

    assert wait_for(lambda: Job.get_by_id(job.id).status == "done")
    assert runs("dash:fixed") == 2 and broker.client.exists(enqueued_marker(job.id))


def delay_tracked(broker, key: str, delay_ms: int) -> str:
    """A tracked job of `count_run`, delayed as Retries delays a message; wait until a worker holds it."""
    job, message = record_job(count_run, key, company_id=None)
    broker.enqueue(message, delay=delay_ms)
    assert wait_for(lambda: broker.client.llen(f"dramatiq:{TEST_QUEUE}.DQ") == 0)  # fetched into the worker
    [redis_id] = delayed_ids(broker)
    return job.id, redis_id


def test_a_delayed_message_a_worker_holds_runs_now_once(client, broker, root, worker):
    job_id, redis_id = delay_tracked(broker, "dash:now", 2_500)

    post_form(client, f"/dashboard/queues/{TEST_QUEUE}/delayed/run", id=redis_id)

    assert wait_for(lambda: runs("dash:now") == 1, timeout=2)  # before its eta
    assert wait_for(lambda: Job.get_by_id(job_id).status == "done")
    time.sleep(3)  # past its eta: the worker's own copy came due and was skipped
    assert runs("dash:now") == 1 and Job.get_by_id(job_id).status == "done"
    assert delayed_ids(broker) == [] and broker.client.hlen(f"dramatiq:{TEST_QUEUE}.msgs") == 0


def test_a_deleted_delayed_job_never_runs_and_its_job_fails_with_the_reason(client, broker, root, worker):
    job_id, redis_id = delay_tracked(broker, "dash:never", 1_500)

    first = post_form(client, f"/dashboard/queues/{TEST_QUEUE}/delayed/delete", id=redis_id)
    again = post_form(client, f"/dashboard/queues/{TEST_QUEUE}/delayed/delete", id=redis_id)

    time.sleep(2.5)  # past its eta
    assert runs("dash:never") == 0 and delayed_ids(broker) == []
    job = Job.get_by_id(job_id)
    assert job.status == "failed" and job.error == "deleted in the queue dashboard"
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert first.status_code == 302 and "Deleted." in page and "no longer delayed" in page
