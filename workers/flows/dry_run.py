"""A dry run: walk a flow with scripted answers and return the transcript; nothing is sent or changed.

The steps are the engine's (`interpreter.run_step`); only the effects differ: messages, tags,
transfers and closes are lines of the transcript, and HTTP and AI nodes take the outcome the
caller scripted for them (`outcomes[nodeId]`), or succeed with nothing saved and a placeholder reply.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from db.companies import Company
from db.contacts import Contact
from db.tickets import TicketField
from workers.flows.definition import entry_node
from workers.flows.engine import MAX_STEPS_PER_INPUT, ContactLookups
from workers.flows.interpreter import Attachment, ExternalOutcome, FlowState, run_step
from workers.transports.base import Poll

AI_PLACEHOLDER = "(AI reply)"


class TranscriptEffects(ContactLookups):
    def __init__(
        self, company: Company, contact: Contact | None, outcomes: Mapping[str, Mapping[str, Any]]
    ) -> None:
        super().__init__(company, contact)
        self.outcomes = outcomes
        self.ticket_fields: dict[str, Any] = {}  # what the run's `save_ticket` nodes set
        self.transcript: list[dict] = []
        self.node_id: str | None = None

    def line(self, **entry: Any) -> None:
        self.transcript.append({"node": self.node_id, **entry})

    def send(self, text: str, attachment: Attachment | None = None, typing_ms: int = 0) -> None:
        self.line(**{"from": "bot", "text": text, **(attachment.described() if attachment else {}),
                     **({"typingMs": typing_ms} if typing_ms else {})})

    def send_poll(self, poll: Poll, typing_ms: int = 0) -> None:
        self.line(**{"from": "bot", "text": poll.text(), "poll": {"name": poll.name, "options": list(poll.options)},
                     **({"typingMs": typing_ms} if typing_ms else {})})

    def save_contact_field(self, field: str, value: str) -> str | None:
        try:
            self.contact_changes(field, value)
        except ValueError as error:
            self.line(**{"from": "system", "action": "save_contact", "field": field, "refused": str(error)})
            return str(error)
        self.line(**{"from": "system", "action": "save_contact", "field": field, "value": value.strip()})
        return None

    def save_ticket_field(self, field: str, value: str) -> str | None:
        try:
            self.ticket_fields = self.fields_with(TicketField, self.ticket_fields, field, value)
        except ValueError as error:
            self.line(**{"from": "system", "action": "save_ticket", "field": field, "refused": str(error)})
            return str(error)
        self.line(**{"from": "system", "action": "save_ticket", "field": field, "value": value.strip()})
        return None

    def add_note(self, text: str) -> None:
        self.line(**{"from": "system", "action": "note", "text": text})

    def set_priority(self, priority: str | None) -> None:
        self.line(**{"from": "system", "action": "priority", "priority": priority})

    def change_tag(self, name: str, add: bool) -> None:
        self.line(**{"from": "system", "action": "add_tag" if add else "remove_tag", "tag": name})

    def transfer(self, queue_id: int | None, user_id: int | None) -> None:
        self.line(**{"from": "system", "action": "transfer", "queueId": queue_id, "userId": user_id})

    def close(self) -> None:
        self.line(**{"from": "system", "action": "close"})

    def external(self, node: Mapping[str, Any], variables: Mapping[str, str]) -> ExternalOutcome:
        scripted = dict(self.outcomes.get(node["id"]) or {})
        outcome = ExternalOutcome(
            ok=bool(scripted.get("ok", True)),
            error=scripted.get("error"),
            status=scripted.get("status"),
            saved={str(k): str(v) for k, v in (scripted.get("saved") or {}).items()},
            text=scripted.get("text", AI_PLACEHOLDER if node["type"] == "ai" else None),
        )
        self.line(**{"from": "system", "action": node["type"], "ok": outcome.ok, "scripted": bool(scripted)})
        return outcome


def dry_run(
    definition: Mapping[str, Any],
    answers: Iterable[str],
    variables: Mapping[str, str],
    effects: TranscriptEffects,
) -> dict:
    """Walk the flow from its entry; stops when it ends, or waits for an answer none is left for."""
    state = FlowState(entry_node(definition), dict(variables))
    pending = deque(answers)
    event: dict | None = None
    steps = since_input = 0
    while state.node is not None:
        if since_input >= MAX_STEPS_PER_INPUT:
            state.node, state.end_reason = None, "step_limit"
            break
        effects.node_id = state.node
        run_step(definition, state, event, effects)
        steps, since_input, event = steps + 1, since_input + 1, None
        if state.waiting == "delay":
            effects.line(**{"from": "system", "action": "delay", "seconds": state.wait_seconds})
            event = {"kind": "timeout"}
        elif state.waiting == "input":
            if not pending:
                break
            text = pending.popleft()
            effects.node_id = state.node
            effects.line(**{"from": "contact", "text": text})
            event, since_input = {"kind": "input", "text": text}, 0
    return {
        "transcript": effects.transcript,
        "status": "ended" if state.node is None else "waiting",
        "endReason": state.end_reason,
        "node": state.node,
        "steps": steps,
        "unusedAnswers": list(pending),
        "variables": state.variables,
    }
