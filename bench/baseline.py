"""The raw Dramatiq rate on this machine: no-op messages through a real Redis broker and worker.

Every Wharf benchmark prints its figure beside this number, measured in the same run, so a
figure reads as "how much of what the engine itself can do" rather than as an absolute.
Run alone: `.venv/bin/python bench/baseline.py`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dramatiq  # noqa: E402
from dramatiq import Worker  # noqa: E402
from dramatiq.brokers.redis import RedisBroker  # noqa: E402

BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")


def raw_noop_rate(count: int = 5000, worker_threads: int = 8, redis_url: str = BENCH_REDIS_URL) -> float:
    """Messages per second for `count` no-op messages, enqueued in bulk and drained by one worker."""
    broker = RedisBroker(url=redis_url)
    broker.flush_all()

    @dramatiq.actor(broker=broker, queue_name="bench-noop", max_retries=0)
    def noop(_: int) -> None:
        return None

    pipe = [noop.message(i) for i in range(count)]
    for message in pipe:
        broker.enqueue(message)
    worker = Worker(broker, worker_threads=worker_threads)
    started = time.perf_counter()
    worker.start()
    broker.join("bench-noop", timeout=600_000)
    worker.join()
    elapsed = time.perf_counter() - started
    worker.stop()
    broker.flush_all()
    broker.close()
    return count / elapsed


if __name__ == "__main__":
    print(f"raw Dramatiq no-op rate: {raw_noop_rate():,.0f} msg/s (1 worker process, 8 threads, Redis)")
