"""Campaigns: fan-out of 100,000 recipients, and pacing error against the configured rate.

Fan-out: from `start_campaign` to the ledger holding a row per recipient and the first message
arriving at the simulated network, with `dramatiq workers` (2 processes × 8 threads) and
`wharf gateway` on PostgreSQL.

Pacing: a campaign at `PACING_PER_MINUTE` (with jitter) runs for the given duration; the rate is
what the simulated network received (its log's timestamps), first to last send, against the
configured one. Each figure is printed beside the raw Dramatiq no-op rate of the same run.

Run: `.venv/bin/python bench/campaigns.py [pacing seconds, default 300] [recipients, default 100000]`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bench_services, gateway, wait_until, workers  # noqa: E402

PACING_SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 300.0
RECIPIENTS = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
PACING_PER_MINUTE = 120
PACING_JITTER_SECONDS = 0.2
BATCH = 10_000


def audience(company_id: int, count: int, prefix: str) -> int:
    """A contact list of `count` new contacts; returns its id."""
    from db.base import database, utcnow
    from db.contact_lists import ContactList, ContactListItem
    from db.contacts import Contact

    contact_list = ContactList.create(company=company_id, name=f"bench {prefix}")
    now = utcnow()
    for start in range(0, count, BATCH):
        with database.atomic():
            ids = (
                Contact.insert_many(
                    [
                        {
                            "company": company_id,
                            "name": f"Contact {n}",
                            "phone": f"+{prefix}{n:08d}",
                            "created_at": now,
                            "updated_at": now,
                        }
                        for n in range(start, min(count, start + BATCH))
                    ]
                )
                .returning(Contact.id)
                .tuples()
                .execute()
            )
            ContactListItem.insert_many(
                [{"contact_list": contact_list.id, "contact": contact_id} for (contact_id,) in ids]
            ).execute()
    return contact_list.id


def new_campaign(company_id: int, connection_id: int, list_id: int, throttle: dict):
    from db.campaigns import Campaign

    return Campaign.create(
        company=company_id,
        name="bench",
        connection=connection_id,
        contact_list=list_id,
        messages=["Hello {{firstName}}, a word from us"],
        throttle=throttle,
    )


def sent_times(connection_id: int) -> list[float]:
    from wharf.redis_client import redis_client
    from workers.transports import simulator

    entries, _ = simulator.outbox(redis_client(), connection_id, limit=10_000_000)
    return [entry["at"] for entry in entries]


def fan_out_seconds(company_id: int, connection_id: int) -> tuple[float, float]:
    """(seconds until the fan-out job finished writing the ledger, seconds to the first send) from the start."""
    from db.base import utcnow
    from db.campaigns import CampaignShipping
    from db.jobs import Job
    from workers.campaigns import pause_campaign, start_campaign

    list_id = audience(company_id, RECIPIENTS, "55119")
    campaign = new_campaign(company_id, connection_id, list_id, {"perMinute": 1000, "jitterSeconds": 0})
    started, started_at = time.time(), utcnow()
    job_id = start_campaign(campaign)
    wait_until(lambda: sent_times(connection_id), timeout=120, interval=0.01)
    first_send = sent_times(connection_id)[0] - started
    wait_until(lambda: Job.get_by_id(job_id).status == "done", timeout=120)
    pause_campaign(campaign.id)
    assert CampaignShipping.select().where(CampaignShipping.campaign == campaign.id).count() == RECIPIENTS
    return (Job.get_by_id(job_id).finished_at - started_at).total_seconds(), first_send


def pacing_error(company_id: int, connection_id: int) -> tuple[float, int]:
    """(relative error of the measured rate, sends measured) over PACING_SECONDS."""
    from workers.campaigns import pause_campaign, start_campaign

    count = int(PACING_SECONDS * PACING_PER_MINUTE / 60) + 100
    list_id = audience(company_id, count, "55219")
    campaign = new_campaign(
        company_id,
        connection_id,
        list_id,
        {"perMinute": PACING_PER_MINUTE, "jitterSeconds": PACING_JITTER_SECONDS, "pauseEvery": 0},
    )
    start_campaign(campaign)
    time.sleep(PACING_SECONDS)
    pause_campaign(campaign.id)
    times = sent_times(connection_id)
    rate = (len(times) - 1) / (times[-1] - times[0]) * 60
    return abs(rate - PACING_PER_MINUTE) / PACING_PER_MINUTE, len(times)


def main() -> None:
    with bench_services():
        from baseline import raw_noop_rate

        from db.base import database
        from db.companies import Company
        from db.connections import Connection
        from wharf.redis_client import redis_client
        from wharf.settings import settings
        from workers.transports import simulator

        raw = raw_noop_rate(redis_url=settings.redis_url)
        database.connect(reuse_if_open=True)
        company = Company.create(name="Bench")
        fan_out_number, pacing_number = (
            Connection.create(company=company, name=name, transport="simulator", enabled=True)
            for name in ("fan-out", "pacing")
        )
        for number in (fan_out_number, pacing_number):
            simulator.configure(redis_client(), number.id, deliveredAfterMs=0, readAfterMs=-1)
        running = [workers().start(), gateway().start()]
        try:
            wait_until(
                lambda: Connection.select().where(Connection.status == "connected").count() == 2, timeout=60
            )
            ledger, first_send = fan_out_seconds(company.id, fan_out_number.id)
            error, measured = pacing_error(company.id, pacing_number.id)
        finally:
            for program in running:
                program.stop()
        print(f"raw Dramatiq no-op rate:                 {raw:8,.0f} msg/s")
        print(
            f"fan-out of {RECIPIENTS:,} recipients: ledger {ledger:5.2f} s, first send {first_send:5.2f} s "
            f"(goal ≤ 10 s; {RECIPIENTS / ledger:,.0f} rows/s = {RECIPIENTS / ledger / raw:.1f} × raw)"
        )
        print(
            f"pacing error over {PACING_SECONDS:.0f} s at {PACING_PER_MINUTE}/min (±{PACING_JITTER_SECONDS} s jitter): "
            f"{error:.2%} ({measured} sends; goal ≤ 2 %)"
        )


if __name__ == "__main__":
    main()
