"""What each node does, as one pure step over a session's state; the world is behind `Effects`.

`run_step` runs the current node once: entering it (event None), or resuming it with the event
that woke the session (`{"kind": "input", "text": ...}` or `{"kind": "timeout"}`). It moves
`state.node` on, makes the session wait (for an answer or a delay), or ends it with a reason.
The engine runs it inside a transaction with effects that write rows; the dry run with effects
that only write a transcript. Both therefore walk a flow exactly alike.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from wharf.custom_fields import ordered
from wharf.patterns import found_in
from wharf.phones import InvalidPhone, to_e164
from workers.flows.definition import POLL_QUESTION_MAX, menu_options, nodes_by_id
from workers.templating import render_template
from workers.transports.base import Poll

DEFAULT_QUESTION_RETRIES = 2
DEFAULT_MENU_RETRIES = 3
DEFAULT_RETRY_MESSAGE = "Sorry, I did not understand that."
DEFAULT_INVALID_CHOICE = "Please answer with one of the options:"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")


@dataclass
class FlowState:
    """Where a session is: `node` is None once it ended (`end_reason` says why)."""

    node: str | None
    variables: dict[str, str]
    waiting: str | None = None  # "input" or "delay" after a step that waits
    wait_seconds: float | None = None  # when the wait times out (None: never)
    retries: int = 0
    end_reason: str | None = None


@dataclass(frozen=True)
class Attachment:
    """The file a bot's message carries: a URL, fetched when it is sent (made a voice note: `voice_note`), or a quick
    message's own file (`quick_message_id`)."""

    url: str | None = None
    voice_note: bool = False
    quick_message_id: int | None = None

    def described(self) -> dict[str, Any]:
        """The attachment as a step's log and a dry run's transcript show it."""
        if self.quick_message_id is not None:
            return {"quickMessageFile": self.quick_message_id}
        return {"mediaUrl": self.url, **({"voiceNote": True} if self.voice_note else {})}


@dataclass(frozen=True)
class ExternalOutcome:
    """What an HTTP or AI node got: the fields both `HttpOutcome` and `AiOutcome` share, plus their own."""

    ok: bool
    error: str | None = None
    text: str | None = None
    status: int | None = None
    saved: dict[str, str] = field(default_factory=dict)


class Effects(Protocol):
    """What a step may do to, or ask of, the world around the session."""

    country: str

    def send(self, text: str, attachment: Attachment | None = None, typing_ms: int = 0) -> None: ...
    def send_poll(self, poll: Poll, typing_ms: int = 0) -> None: ...
    def quick_message(self, quick_message_id: int) -> tuple[str, bool] | None: ...  # its text, and if it has a file
    def change_tag(self, name: str, add: bool) -> None: ...
    def save_contact_field(self, field: str, value: str) -> str | None: ...  # why not, when it is not saved
    def save_ticket_field(self, field: str, value: str) -> str | None: ...  # likewise
    def add_note(self, text: str) -> None: ...
    def set_priority(self, priority: str | None) -> None: ...
    def has_tag(self, name: str) -> bool: ...
    def contact_field(self, key: str) -> Any: ...
    def is_open(self, rule: Mapping[str, Any]) -> bool: ...
    def transfer(self, queue_id: int | None, user_id: int | None) -> None: ...
    def close(self) -> None: ...
    def external(self, node: Mapping[str, Any], variables: Mapping[str, str]) -> ExternalOutcome: ...


@dataclass
class Step:
    definition: Mapping[str, Any]
    node: Mapping[str, Any]
    state: FlowState
    event: Mapping[str, Any] | None
    effects: Effects

    def render(self, text: Any) -> str:
        return render_template(str(text or ""), self.state.variables)

    @property
    def typing_ms(self) -> int:
        """How long the contact sees "typing…" before each message the node sends (its `typingMs`)."""
        return int(self.node.get("typingMs") or 0)

    def say(self, text: Any, attachment: Attachment | None = None) -> None:
        if text or attachment:
            self.effects.send(self.render(text), attachment, self.typing_ms)

    def edge_to(self, branch: str | None) -> str | None:
        edges = [edge for edge in self.definition.get("edges", []) if edge["from"] == self.node["id"]]
        exact = next(
            (edge["to"] for edge in edges if branch is not None and str(edge.get("when")) == branch), None
        )
        return exact or next((edge["to"] for edge in edges if edge.get("when") is None), None)

    def go(self, branch: str | None = None) -> None:
        """On by the branch's edge, else the default edge; a node with neither ends the flow."""
        target = self.edge_to(branch)
        self.state.retries, self.state.waiting, self.state.wait_seconds = 0, None, None
        if target is None:
            self.end("completed")
        else:
            self.state.node = target

    def go_or_end(self, branch: str, reason: str) -> None:
        """Only the branch's own edge; without one the session ends (a timeout is no answer)."""
        if any(
            e["from"] == self.node["id"] and str(e.get("when")) == branch for e in self.definition["edges"]
        ):
            self.go(branch)
        else:
            self.end(reason)

    def wait(self, kind: str, seconds: float | None) -> None:
        self.state.waiting, self.state.wait_seconds = kind, seconds

    def end(self, reason: str) -> None:
        self.state.node, self.state.end_reason, self.state.waiting, self.state.wait_seconds = (
            None,
            reason,
            None,
            None,
        )

    @property
    def answer(self) -> str | None:
        if self.event and self.event.get("kind") == "input":
            return str(self.event.get("text") or "").strip()
        return None

    @property
    def timed_out(self) -> bool:
        return bool(self.event) and self.event.get("kind") == "timeout"


def parse_answer(node: Mapping[str, Any], answer: str, country: str) -> str | None:
    """The answer as stored in the variable, or None when it is not what the question asks."""
    kind = node.get("validation", "text")
    if not answer:
        return None
    if kind == "number":
        try:
            number = float(answer.replace(",", "."))
        except ValueError:
            return None
        return f"{number:g}" if number == number else None  # NaN is no number
    if kind == "email":
        return answer.lower() if _EMAIL.match(answer) else None
    if kind == "phone":
        try:
            return to_e164(answer, country)
        except InvalidPhone:
            return None
    if kind == "date":
        for pattern in _DATE_FORMATS:
            try:
                return dt.datetime.strptime(answer, pattern).date().isoformat()
            except ValueError:
                continue
        return None
    if kind == "option":
        return next(
            (str(option) for option in node["options"] if str(option).casefold() == answer.casefold()), None
        )
    return answer


def compare(left: Any, operator: str, right: Any) -> bool:
    left_text, right_text = (
        str(left if left is not None else "").strip(),
        str(right if right is not None else ""),
    )
    if operator in ("greater_than", "less_than"):
        order = ordered(left_text, right_text)
        return order is not None and order == (1 if operator == "greater_than" else -1)
    a, b = left_text.casefold(), right_text.strip().casefold()
    return {
        "equals": a == b,
        "not_equals": a != b,
        "contains": b in a,
        "not_contains": b not in a,
        "starts_with": a.startswith(b),
        "is_set": bool(a),
        "is_empty": not a,
    }[operator]


def rule_holds(step: Step, rule: Mapping[str, Any]) -> bool:
    kind = rule.get("kind", "variable")
    variables = step.state.variables
    if kind == "variable":
        result = compare(
            variables.get(rule["variable"]), rule.get("operator", "equals"), step.render(rule.get("value"))
        )
    elif kind == "regex":
        result = found_in(rule["pattern"], str(variables.get(rule["variable"], "")))
    elif kind == "business_hours":
        result = step.effects.is_open(rule)
    elif kind == "tag":
        result = step.effects.has_tag(rule["tag"])
    else:
        result = compare(
            step.effects.contact_field(rule["field"]),
            rule.get("operator", "equals"),
            step.render(rule.get("value")),
        )
    return result != bool(rule.get("negate"))


def options_text(node: Mapping[str, Any]) -> str:
    return "\n".join(f"{key} - {label}" for key, label in menu_options(node).items())


def run_message(step: Step) -> None:
    node = step.node
    text, attachment = node.get("text"), None
    if node.get("mediaUrl"):
        attachment = Attachment(url=step.render(node["mediaUrl"]), voice_note=node.get("voiceNote") is True)
    if node.get("quickMessageId") is not None:
        quick = step.effects.quick_message(node["quickMessageId"])
        if quick is not None:
            text = text or quick[0]
            if attachment is None and quick[1]:
                attachment = Attachment(quick_message_id=node["quickMessageId"])
    step.say(text, attachment)
    step.go()


def run_question(step: Step) -> None:
    node = step.node
    timeout = node.get("timeoutSeconds")
    if step.timed_out:
        return step.go_or_end("timeout", "timeout")
    if step.answer is None:
        step.say(node["text"])
        return step.wait("input", timeout)
    value = parse_answer(node, step.answer, step.effects.country)
    if value is not None:
        step.state.variables[node["variable"]] = value
        return step.go()
    step.state.retries += 1
    if step.state.retries > node.get("retries", DEFAULT_QUESTION_RETRIES):
        return step.go_or_end("invalid", "invalid_answer")
    step.say(node.get("retryMessage") or f"{DEFAULT_RETRY_MESSAGE} {node['text']}")
    step.wait("input", timeout)


def ask_poll(step: Step) -> None:
    """The menu as a WhatsApp poll: its text the question, its labels the options, one to choose. A vote comes back
    as the label written (workers/flows/engine.py, `answer_with_vote`)."""
    question = step.render(step.node["text"])
    if len(question) > POLL_QUESTION_MAX:  # its variables made it longer
        question = question[: POLL_QUESTION_MAX - 1] + "…"
    step.effects.send_poll(Poll(question, tuple(menu_options(step.node).values()), 1), step.typing_ms)


def run_menu(step: Step) -> None:
    node = step.node
    options = menu_options(node)
    timeout = node.get("timeoutSeconds")
    if step.timed_out:
        return step.go_or_end("timeout", "timeout")
    if step.answer is None:
        if node.get("poll"):
            ask_poll(step)
        elif node.get("text"):
            step.say(
                f"{node['text']}\n\n{options_text(node)}" if node.get("listOptions", True) else node["text"]
            )
        return step.wait("input", timeout)
    answer = step.answer.casefold()
    chosen = next(
        (key for key, label in options.items() if answer in (key.casefold(), label.casefold())), None
    )
    if chosen is not None:
        step.state.variables[node.get("variable") or f"{node['id']}"] = chosen
        return step.go(chosen)
    step.state.retries += 1
    if step.state.retries > node.get("retries", DEFAULT_MENU_RETRIES):
        return step.go_or_end("invalid", "invalid_answer")
    if node.get("poll"):
        step.say(node.get("invalidMessage") or DEFAULT_INVALID_CHOICE)
        ask_poll(step)
    else:
        step.say(f"{node.get('invalidMessage') or DEFAULT_INVALID_CHOICE}\n\n{options_text(node)}")
    step.wait("input", timeout)


def run_condition(step: Step) -> None:
    results = (rule_holds(step, rule) for rule in step.node["rules"])
    holds = all(results) if step.node.get("match", "all") == "all" else any(results)
    step.go("true" if holds else "false")


def run_set_variable(step: Step) -> None:
    step.state.variables[step.node["variable"]] = step.render(step.node.get("value"))
    step.go()


def run_tag(step: Step) -> None:
    step.effects.change_tag(step.render(step.node["tag"]), add=step.node["type"] == "add_tag")
    step.go()


def run_save(step: Step) -> None:
    """The contact's name, e-mail or a contact field (`save_contact`), or a field of the ticket (`save_ticket`: what
    the agent who takes over reads, an order number say), takes the value (an answer); one it does not take (not an
    e-mail, not a number for a number field...) goes the `invalid` way, and is in `contactFieldError` (or
    `ticketFieldError`)."""
    on_ticket = step.node["type"] == "save_ticket"
    save = step.effects.save_ticket_field if on_ticket else step.effects.save_contact_field
    problem = save(step.node["field"], step.render(step.node.get("value")))
    step.state.variables["ticketFieldError" if on_ticket else "contactFieldError"] = problem or ""
    step.go("invalid" if problem else None)


def run_note(step: Step) -> None:
    step.effects.add_note(step.render(step.node["text"]))
    step.go()


def run_priority(step: Step) -> None:
    step.effects.set_priority(step.node["priority"])
    step.go()


def run_delay(step: Step) -> None:
    if step.event is None and step.node["seconds"] > 0:
        return step.wait("delay", step.node["seconds"])
    step.go()


def run_http(step: Step) -> None:
    outcome = step.effects.external(step.node, dict(step.state.variables))
    variables = step.state.variables
    variables.update(outcome.saved)
    variables["httpStatus"] = "" if outcome.status is None else str(outcome.status)
    variables["httpError"] = outcome.error or ""
    step.go("ok" if outcome.ok else "error")


def run_ai(step: Step) -> None:
    outcome = step.effects.external(step.node, dict(step.state.variables))
    if outcome.ok and outcome.text:
        step.effects.send(outcome.text, None, step.typing_ms)
        if step.node.get("variable"):
            step.state.variables[step.node["variable"]] = outcome.text
    step.state.variables["aiError"] = outcome.error or ""
    step.go("ok" if outcome.ok else "error")


def run_transfer(step: Step) -> None:
    step.say(step.node.get("text"))
    step.effects.transfer(step.node.get("queueId"), step.node.get("userId"))
    step.end("transferred")


def run_close(step: Step) -> None:
    step.say(step.node.get("text"))
    step.effects.close()
    step.end("closed")


def run_end(step: Step) -> None:
    step.say(step.node.get("text"))
    step.end("completed")


HANDLERS: dict[str, Callable[[Step], None]] = {
    "start": lambda step: step.go(),
    "message": run_message,
    "question": run_question,
    "menu": run_menu,
    "condition": run_condition,
    "set_variable": run_set_variable,
    "add_tag": run_tag,
    "remove_tag": run_tag,
    "delay": run_delay,
    "http": run_http,
    "transfer": run_transfer,
    "save_contact": run_save,
    "save_ticket": run_save,
    "note": run_note,
    "priority": run_priority,
    "ai": run_ai,
    "close": run_close,
    "end": run_end,
}


def run_step(
    definition: Mapping[str, Any], state: FlowState, event: Mapping[str, Any] | None, effects: Effects
) -> Mapping[str, Any]:
    """Run the current node once; returns the node that ran."""
    node = nodes_by_id(definition)[state.node]
    if event is not None and event.get("kind") == "input":
        state.variables["lastMessage"] = str(event.get("text") or "")
    state.waiting, state.wait_seconds = None, None
    HANDLERS[node["type"]](Step(definition, node, state, event, effects))
    return node
