"""What the scheduler did and whether its dependencies answer: read by the dashboard and /readyz.

The scheduler records each periodic job's run in Redis (the last run per job, and a short history
of recent runs), so any process can show them without asking the scheduler. The leader is whoever
holds the `LEADER_KEY` lease (wharf/leases.py).
"""

from __future__ import annotations

import json
import time

from db.base import database, utcnow
from wharf.redis_client import probe_client, redis_client
from workers.watchdogs import OVERDUE_ACKS_KEY

LEADER_KEY = "wharf:scheduler:leader"
LAST_RUNS_KEY = "wharf:scheduler:runs"
HISTORY_KEY = "wharf:scheduler:history"
HISTORY_LENGTH = 1000


def record_run(job_id: str, started_at: float, seconds: float, error: str | None, by: str) -> None:
    """Keep `job_id`'s run as its last run and at the head of the history; `by` is the scheduler's token."""
    run = {"at": started_at, "ok": error is None, "seconds": round(seconds, 6), "error": error}
    pipe = redis_client().pipeline()
    pipe.hset(LAST_RUNS_KEY, job_id, json.dumps(run))
    pipe.lpush(HISTORY_KEY, json.dumps({"job": job_id, "by": by, **run}))
    pipe.ltrim(HISTORY_KEY, 0, HISTORY_LENGTH - 1)
    pipe.execute()


def last_runs() -> dict[str, dict]:
    """Job id → {"at": unix seconds, "ok": bool, "seconds": duration, "error": str | None}."""
    return {job_id.decode(): json.loads(run) for job_id, run in redis_client().hgetall(LAST_RUNS_KEY).items()}


def recent_runs(limit: int = HISTORY_LENGTH) -> list[dict]:
    """The latest runs first, each a last-run dict with "job" and "by" (the scheduler that ran it)."""
    return [json.loads(run) for run in redis_client().lrange(HISTORY_KEY, 0, limit - 1)]


def leader() -> str | None:
    """The token ("host:uuid") of the scheduler that fires jobs now; None when none does."""
    value = probe_client().get(LEADER_KEY)
    return value.decode() if value else None


def _check(probe) -> tuple[object, dict]:
    """What `probe()` returned (None when it failed) and {"ok", "seconds", "error"}."""
    started = time.perf_counter()
    try:
        value, error = probe(), None
    except Exception as failure:  # any failure means unhealthy; the reason is reported, not raised
        value, error = None, str(failure) or repr(failure)
    return value, {"ok": error is None, "seconds": round(time.perf_counter() - started, 6), "error": error}


def dependency_checks() -> dict[str, dict]:
    """{"database": check, "redis": check}, checked now."""
    return {
        "database": _check(lambda: database.execute_sql("SELECT 1"))[1],
        "redis": _check(lambda: probe_client().ping())[1],
    }


class DependencyDown(Exception):
    """The database or Redis does not answer."""


def check_dependencies() -> None:
    """Scheduler job: raises when the database or Redis does not answer, so its run is recorded failed, with why."""
    failing = {name: check["error"] for name, check in dependency_checks().items() if not check["ok"]}
    if failing:
        raise DependencyDown("; ".join(f"{name}: {error}" for name, error in failing.items()))


def health() -> dict:
    """Checked now: {"database": check, "redis": check, "scheduler": check with "leader", "checkedAt": iso}.

    A check is {"ok": bool, "seconds": how long it took, "error": str | None}; the scheduler is
    ok while some scheduler holds the lead.
    """
    checks = dependency_checks()
    current, scheduler_check = _check(leader)
    if scheduler_check["ok"] and current is None:
        scheduler_check.update(ok=False, error="no scheduler holds the lead")
    return {**checks, "scheduler": {**scheduler_check, "leader": current}, "checkedAt": utcnow().isoformat()}


def overdue_acks() -> dict[int, int]:
    """Connection id → its sent messages whose receipt is overdue, as the last watchdog run counted them."""
    return {int(key): int(count) for key, count in redis_client().hgetall(OVERDUE_ACKS_KEY).items()}
