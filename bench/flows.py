"""Flow sessions: 1,000 contacts at once answering a flow of five menus, beside the raw Dramatiq no-op rate.

Each session is started as the API starts one (`create_session`, then `advance_flow_session`), then
every contact answers each menu through the real inbound path (`handle_inbound` → `hand_to_flow` →
`advance_flow_session`), all 1,000 answers of a round sent at once. The programs are those `make run`
starts (`dramatiq workers`, 2 processes × 8 threads) on PostgreSQL; the bot's messages are written and
queued for the gateway, which is not running (sending is measured in bench/messaging.py).

Steps per second: every step of every session (12 each: a welcome, five menus asked and answered,
the goodbye), from the first step's commit to the last's. Step latency: from the moment a step could
run (the contact's answer sent, or the step before it committed) to its own commit; p50 and p99.

Run: `.venv/bin/python bench/flows.py [sessions]`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bench_services, wait_until, workers  # noqa: E402

SESSIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
MENUS = 5


def menu_flow() -> dict:
    menus = [f"menu{n}" for n in range(1, MENUS + 1)]
    nodes = [{"id": "hello", "type": "message", "text": "Olá {{firstName}}!"}]
    nodes += [
        {"id": m, "type": "menu", "text": f"Pergunta {m}", "options": {"1": "Sim", "2": "Não"}} for m in menus
    ]
    nodes.append({"id": "bye", "type": "end", "text": "Obrigado!"})
    path = ["hello", *menus, "bye"]
    edges = [
        {"from": a, "to": b, **({"when": "1"} if a != "hello" else {})}
        for a, b in zip(path, path[1:], strict=False)
    ]
    edges += [{"from": m, "to": "bye", "when": "2"} for m in menus]
    return {"trigger": {"type": "api"}, "nodes": nodes, "edges": edges}


def run() -> tuple[float, float, float, int]:
    from db.companies import Company
    from db.connections import Connection
    from db.flows import Flow, FlowSession, FlowStep, FlowVersion
    from db.tickets import find_or_open_ticket
    from workers.flows.definition import validate_definition
    from workers.flows.engine import advance_flow_session, create_session
    from workers.inbound import handle_inbound, upsert_contact
    from workers.transports.base import InboundMessage

    company = Company.create(name="bench")
    connection = Connection.create(company=company, name="bench", transport="simulator")
    definition = validate_definition(menu_flow())
    flow = Flow.create(company=company, name="menus", definition=definition, published_version=1)
    version = FlowVersion.create(flow=flow, version=1, definition=definition)
    tickets = [
        find_or_open_ticket(upsert_contact(company.id, f"+55119{n:08d}", f"Contact {n}", False), connection)[
            0
        ]
        for n in range(SESSIONS)
    ]
    waiting = FlowSession.select().where(FlowSession.status == "waiting")
    program = workers().start()
    try:
        for ticket in tickets:
            advance_flow_session.send(create_session(version, ticket, ticket.contact, "api").id)
        wait_until(lambda: waiting.count() == SESSIONS, timeout=600, interval=0.2)
        for round_ in range(MENUS):
            for n, ticket in enumerate(tickets):
                event = InboundMessage(
                    connection.id,
                    wa_id=f"B{round_}-{n}",
                    chat=ticket.contact.phone[1:],
                    sender=ticket.contact.phone[1:],
                    sender_name="",
                    body="1",
                    timestamp=time.time(),
                )
                handle_inbound.send(event.to_dict())
            steps_done = SESSIONS * (
                2 + 2 * (round_ + 1)
            )  # hello and menu 1, then an answer and the next ask
            wait_until(lambda d=steps_done: FlowStep.select().count() == d, timeout=600, interval=0.2)
    finally:
        program.stop()
    return step_figures(FlowStep, FlowSession)


def step_figures(step_model, session_model) -> tuple[float, float, float, int]:
    from db.messages import Message

    answered = {
        m.id: m.created_at
        for m in Message.select(Message.id, Message.created_at).where(Message.direction == "in")
    }
    latencies, times = [], []
    previous: dict[int, object] = {}
    for step in step_model.select().order_by(step_model.session, step_model.seq):
        ready = answered.get((step.event or {}).get("messageId")) or previous.get(step.session_id)
        if ready is not None:
            latencies.append((step.created_at - ready).total_seconds())
        previous[step.session_id] = step.created_at
        times.append(step.created_at)
    latencies.sort()
    elapsed = (max(times) - min(times)).total_seconds()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    return len(times) / elapsed, p50 * 1000, p99 * 1000, len(times)


if __name__ == "__main__":
    from baseline import raw_noop_rate

    with bench_services():
        rate, p50, p99, steps = run()
        print(
            f"flow steps: {steps:,} in {SESSIONS:,} sessions of {MENUS} menus: {rate:,.0f} steps/s, "
            f"step latency p50 {p50:,.0f} ms, p99 {p99:,.0f} ms"
        )
        print(f"raw Dramatiq no-op rate, same run: {raw_noop_rate():,.0f} msg/s (1 process, 8 threads)")
