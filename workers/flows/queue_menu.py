"""A queue's greeting and numbered menu (workers/routing.py) as a flow definition.

The platform answers new tickets with the routing rules by itself; this writes the same conversation
as a flow (outside business hours: the out-of-hours message; else the greeting with the menu, each
option a transfer to its queue with that queue's greeting), which a company can publish with a
`new_ticket` trigger and then extend: a published flow takes the ticket before the built-in rules.
"""

from __future__ import annotations

from db.queues import Queue


def queue_menu_definition(queue: Queue) -> dict:
    options = [option for option in queue.menu_options or [] if option.get("queueId")]
    targets = {row.id: row for row in Queue.select().where(Queue.id.in_([o["queueId"] for o in options]))}
    nodes: list[dict] = [
        {"id": "hours", "type": "condition", "rules": [{"kind": "business_hours", "queueId": queue.id}]},
        {"id": "closed", "type": "end", "text": queue.out_of_hours_message},
        {
            "id": "menu",
            "type": "menu",
            "text": queue.greeting or "Choose an option:",
            "retries": 0,
            "options": {str(o["option"]): o["label"] for o in options},
        },
    ]
    edges = [
        {"from": "hours", "to": "menu", "when": "true"},
        {"from": "hours", "to": "closed", "when": "false"},
    ]
    for option in options:
        target = targets.get(option["queueId"])
        node_id = f"to-{option['option']}"
        nodes.append(
            {
                "id": node_id,
                "type": "transfer",
                "queueId": option["queueId"],
                **({"text": target.greeting} if target and target.greeting else {}),
            }
        )
        edges.append({"from": "menu", "to": node_id, "when": str(option["option"])})
    return {"trigger": {"type": "new_ticket", "queueId": queue.id}, "nodes": nodes, "edges": edges}
