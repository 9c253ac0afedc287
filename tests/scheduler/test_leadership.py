"""Two scheduler processes together: only the leader fires, each job once per tick; a standby takes over."""

from __future__ import annotations

import collections
import time

from scheduler.jobs import PERIODIC_JOBS
from scheduler.status import LAST_RUNS_KEY, LEADER_KEY, last_runs, leader, recent_runs
from tests.conftest import answers
from tests.processes import scheduler
from tests.waiting import wait_for

JOB_IDS = {job.id for job in PERIODIC_JOBS}
LEASE_SECONDS = 3


def runs_since(moment: float) -> list[dict]:
    return [run for run in recent_runs() if run["at"] >= moment]


def pid_of(token: str) -> int:
    return int(token.split(":")[1])


def test_two_schedulers_fire_every_job_once_and_a_standby_takes_over_from_a_killed_leader(
    database, monkeypatch
):
    monkeypatch.setenv("SCHEDULER_LEASE_SECONDS", str(LEASE_SECONDS))
    started = time.time()
    programs = [scheduler().start(), scheduler().start()]
    try:
        # Given two schedulers started together
        assert wait_for(lambda: JOB_IDS <= set(last_runs()), timeout=30), (
            f"never ran: {JOB_IDS - set(last_runs())}; leader {leader()}; runs {recent_runs()}"
        )
        time.sleep(3)  # a few ticks of the one-second job

        # Then one of them leads and fired every job; the other fired none
        first_leader = leader()
        runs = runs_since(started)
        assert {run["by"] for run in runs} == {first_leader}
        counts = collections.Counter(run["job"] for run in runs)
        elapsed = time.time() - started
        for job in PERIODIC_JOBS:
            assert 1 <= counts[job.id] <= elapsed / job.seconds + 1, (job.id, counts[job.id])
        assert all(run["ok"] for run in runs), [run for run in runs if not run["ok"]]

        # When the leader is killed
        by_pid = {program.popen.pid: program for program in programs}
        by_pid[pid_of(first_leader)].kill_hard()
        killed_at = time.time()

        # Then the standby leads within the lease and fires every job at once
        assert wait_for(lambda: leader() not in (None, first_leader), timeout=LEASE_SECONDS + 5)
        new_leader = leader()
        assert pid_of(new_leader) in by_pid and pid_of(new_leader) != pid_of(first_leader)
        assert wait_for(lambda: {run["job"] for run in runs_since(killed_at)} >= JOB_IDS, timeout=10)
        assert {run["by"] for run in runs_since(killed_at)} == {new_leader}
    finally:
        for program in programs:
            program.stop()


def test_a_scheduler_started_while_redis_is_down_waits_for_it_and_then_leads(database, own_redis):
    client, redis_program = own_redis
    redis_program.kill_hard()
    program = scheduler().start()
    try:
        time.sleep(4)  # it has tried to take the lead, and tried again
        assert program.popen.poll() is None, "the scheduler exited"

        redis_program.start()

        assert wait_for(lambda: answers(client) and client.get(LEADER_KEY) is not None, timeout=20)
        assert wait_for(lambda: client.hexists(LAST_RUNS_KEY, "check_dependencies"), timeout=10)
    finally:
        program.stop()
