"""The scheduler's status as the dashboard and /readyz read it: runs, the leader, health."""

from __future__ import annotations

import time

from scheduler.jobs import PeriodicJob
from scheduler.process import run_if_leader
from scheduler.status import LEADER_KEY, health, last_runs, leader, recent_runs
from wharf.leases import Lease


def failing() -> None:
    raise RuntimeError("the database went away")


def test_a_leaders_runs_are_recorded_with_their_outcome(database, redis_client):
    lock = Lease(redis_client, LEADER_KEY, owner="scheduler-a")
    assert lock.hold()

    run_if_leader(lock, PeriodicJob("quiet", lambda: None, seconds=1))
    try:
        run_if_leader(lock, PeriodicJob("broken", failing, seconds=1))
    except RuntimeError:
        pass

    runs = last_runs()
    assert runs["quiet"]["ok"] is True and runs["quiet"]["error"] is None
    assert runs["broken"] == {**runs["broken"], "ok": False, "error": "the database went away"}
    assert abs(runs["quiet"]["at"] - time.time()) < 5
    assert [(run["job"], run["by"]) for run in recent_runs()] == [
        ("broken", "scheduler-a"),
        ("quiet", "scheduler-a"),
    ]
    assert leader() == "scheduler-a"


def test_a_standby_fires_nothing_and_records_nothing(database, redis_client):
    Lease(redis_client, LEADER_KEY, owner="scheduler-a").hold()
    standby = Lease(redis_client, LEADER_KEY, owner="scheduler-b")
    fired = []

    run_if_leader(standby, PeriodicJob("tick", lambda: fired.append(1), seconds=1))

    assert fired == [] and last_runs() == {} and recent_runs() == []


def test_health_reports_each_dependency_and_whether_a_scheduler_leads(database, redis_client):
    without_leader = health()
    Lease(redis_client, LEADER_KEY, owner="scheduler-a").hold()
    with_leader = health()

    assert without_leader["database"]["ok"] and without_leader["redis"]["ok"]
    assert without_leader["scheduler"] == {**without_leader["scheduler"], "ok": False, "leader": None}
    assert with_leader["scheduler"] == {
        **with_leader["scheduler"],
        "ok": True,
        "leader": "scheduler-a",
        "error": None,
    }
