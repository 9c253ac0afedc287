"""A flow's definition (trigger, nodes, edges) and the checks it passes before it is saved.

    {"trigger": {"type": "keyword", "value": "menu"},
     "nodes": [{"id": "start", "type": "message", "text": "Hi {{firstName}}!"}, ...],
     "edges": [{"from": "start", "to": "ask"}, {"from": "ask", "to": "sales", "when": "1"}, ...]}

The entry is the `start` node when there is one, else the first node. An edge's `when` names the
branch it takes (a menu option, "true"/"false" of a condition, "ok"/"error" of an HTTP or AI node,
"invalid"/"timeout" of a question or menu); an edge without `when` is the way on otherwise.
`validate_definition` raises `InvalidFlow` naming the node (or edge) at fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from db.tickets import PRIORITIES
from wharf.patterns import pattern_error
from workers.flows.ai_reply import ai_node_errors
from workers.flows.http_request import http_node_errors
from workers.transports.base import LONGEST_TYPING_MS

TRIGGER_TYPES = ("keyword", "regex", "new_ticket", "campaign_reply", "api")
ANSWER_KINDS = ("text", "number", "email", "phone", "date", "option")
CONDITION_KINDS = ("variable", "regex", "business_hours", "tag", "field")
OPERATORS = (
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "greater_than",
    "less_than",
    "is_set",
    "is_empty",
)
MAX_NODES = 500
MAX_DELAY_SECONDS = 30 * 24 * 3600
MAX_WAIT_SECONDS = 30 * 24 * 3600
POLL_QUESTION_MAX, POLL_OPTIONS_MAX, POLL_OPTION_MAX = 255, 12, 100  # what WhatsApp's polls take
_NODE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_VARIABLE = re.compile(r"^[A-Za-z_][\w.]{0,63}$")
_CONTACT_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,49}$")  # name, email, or a contact field's key

# type -> (required fields, branches its edges may name besides its own options)
NODE_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "start": ((), ()),
    "message": ((), ()),
    "question": (("text", "variable"), ("invalid", "timeout")),
    "menu": (("options",), ("invalid", "timeout")),
    "condition": (("rules",), ("true", "false")),
    "set_variable": (("variable",), ()),
    "add_tag": (("tag",), ()),
    "remove_tag": (("tag",), ()),
    "delay": (("seconds",), ()),
    "http": (("url",), ("ok", "error")),
    "transfer": ((), ()),
    "ai": ((), ("ok", "error")),
    "save_contact": (("field",), ("invalid",)),
    "save_ticket": (("field",), ("invalid",)),
    "note": (("text",), ()),
    "priority": ((), ()),
    "close": ((), ()),
    "end": ((), ()),
}
TERMINAL_TYPES = ("transfer", "close", "end")


class InvalidFlow(ValueError):
    """What is wrong, and where: `details` maps "nodes.<id>.<field>" (or "edges.<n>", "trigger") to the problem."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.details = {where: problem}


def entry_node(definition: Mapping[str, Any]) -> str:
    nodes = definition["nodes"]
    return next((node["id"] for node in nodes if node["type"] == "start"), nodes[0]["id"])


def nodes_by_id(definition: Mapping[str, Any]) -> dict[str, dict]:
    return {node["id"]: node for node in definition["nodes"]}


def menu_options(node: Mapping[str, Any]) -> dict[str, str]:
    """A menu's options as {answer: label}; a list of labels is numbered from 1."""
    options = node.get("options") or {}
    if isinstance(options, list):
        return {str(n): str(label) for n, label in enumerate(options, start=1)}
    return {str(key): str(label) for key, label in options.items()}


def _check_regex(where: str, pattern: Any) -> None:
    if not isinstance(pattern, str) or not pattern:
        raise InvalidFlow(where, "a regular expression is required")
    if (error := pattern_error(pattern)) is not None:
        raise InvalidFlow(where, f"not a valid regular expression: {error}")


def _check_number(where: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidFlow(where, f"a number from {low:g} to {high:g} is required")


def check_trigger(trigger: Any) -> None:
    if not isinstance(trigger, Mapping) or trigger.get("type") not in TRIGGER_TYPES:
        raise InvalidFlow("trigger.type", f"one of {', '.join(TRIGGER_TYPES)}")
    kind = trigger["type"]
    if kind == "keyword" and not (isinstance(trigger.get("value"), str) and trigger["value"].strip()):
        raise InvalidFlow("trigger.value", "the keyword (or comma-separated keywords) is required")
    if kind == "regex":
        _check_regex("trigger.value", trigger.get("value"))
    for field in ("connectionId", "queueId", "campaignId"):
        if trigger.get(field) is not None and (
            isinstance(trigger[field], bool) or not isinstance(trigger[field], int)
        ):
            raise InvalidFlow(f"trigger.{field}", "an id (integer) is required")


def _check_rule(where: str, rule: Any) -> None:
    if not isinstance(rule, Mapping) or rule.get("kind", "variable") not in CONDITION_KINDS:
        raise InvalidFlow(where, f"a rule with a kind among {', '.join(CONDITION_KINDS)}")
    kind = rule.get("kind", "variable")
    if kind in ("variable", "regex") and not (isinstance(rule.get("variable"), str) and rule["variable"]):
        raise InvalidFlow(f"{where}.variable", "the variable to test is required")
    if kind == "field" and not (isinstance(rule.get("field"), str) and rule["field"]):
        raise InvalidFlow(f"{where}.field", "the contact field to test is required")
    if kind == "tag" and not (isinstance(rule.get("tag"), str) and rule["tag"]):
        raise InvalidFlow(f"{where}.tag", "the tag name is required")
    if kind == "regex":
        _check_regex(f"{where}.pattern", rule.get("pattern"))
    if kind in ("variable", "field") and rule.get("operator", "equals") not in OPERATORS:
        raise InvalidFlow(f"{where}.operator", f"one of {', '.join(OPERATORS)}")


def _check_voice_note(node: Mapping[str, Any], where: str) -> None:
    """A message node's `voiceNote: true` sends its mediaUrl's audio as a voice note, which goes without text."""
    if node.get("voiceNote") is not True or node["type"] != "message":
        raise InvalidFlow(f"{where}.voiceNote", "true, on a message node, or left out")
    if not node.get("mediaUrl"):
        raise InvalidFlow(f"{where}.mediaUrl", "a voice note needs its audio's URL")
    if node.get("text") or node.get("quickMessageId") is not None:
        raise InvalidFlow(f"{where}.text", "a voice note goes without text")


def _check_poll_menu(node: Mapping[str, Any], where: str) -> None:
    """A menu asked as a WhatsApp poll (`poll: true`): its text the question, its labels the options, as a poll takes
    them; told apart ignoring case, as a written answer is."""
    if node["poll"] is not True:
        raise InvalidFlow(f"{where}.poll", "true, on a menu node, or left out")
    if not node.get("text") or len(str(node["text"])) > POLL_QUESTION_MAX:
        raise InvalidFlow(f"{where}.text", f"the poll's question, 1 to {POLL_QUESTION_MAX} characters")
    labels = [label.casefold() for label in menu_options(node).values()]
    if not 2 <= len(labels) <= POLL_OPTIONS_MAX:
        raise InvalidFlow(f"{where}.options", f"a poll has 2 to {POLL_OPTIONS_MAX} options")
    if any(not 1 <= len(label) <= POLL_OPTION_MAX for label in labels) or len(set(labels)) < len(labels):
        raise InvalidFlow(f"{where}.options", f"a poll's options are 1 to {POLL_OPTION_MAX} characters, all different")


def check_node(node: Mapping[str, Any]) -> None:  # noqa: C901 (one branch per node type reads best)
    node_id = node["id"]
    kind = node["type"]
    where = f"nodes.{node_id}"
    for field in NODE_TYPES[kind][0]:
        if node.get(field) in (None, "", [], {}):
            raise InvalidFlow(f"{where}.{field}", f"required for a {kind} node")
    if kind == "message" and not any(node.get(field) for field in ("text", "mediaUrl", "quickMessageId")):
        raise InvalidFlow(f"{where}.text", "a message node needs text, mediaUrl or quickMessageId")
    if node.get("mediaUrl") is not None and not str(node["mediaUrl"]).startswith(("http://", "https://")):
        raise InvalidFlow(f"{where}.mediaUrl", "an http(s) URL is required")
    if node.get("voiceNote") not in (None, False):
        _check_voice_note(node, where)
    if node.get("typingMs") is not None:  # before each message the node sends
        _check_number(f"{where}.typingMs", node["typingMs"], 0, LONGEST_TYPING_MS)
    if kind in ("question", "set_variable") and not _VARIABLE.match(str(node["variable"])):
        raise InvalidFlow(
            f"{where}.variable", "a variable name: letters, digits, _ and dots, starting with a letter"
        )
    if kind == "question":
        if node.get("validation", "text") not in ANSWER_KINDS:
            raise InvalidFlow(f"{where}.validation", f"one of {', '.join(ANSWER_KINDS)}")
        if node.get("validation") == "option" and not node.get("options"):
            raise InvalidFlow(f"{where}.options", "the accepted answers are required for option validation")
    if kind == "menu" and not isinstance(node["options"], Mapping | list):
        raise InvalidFlow(f"{where}.options", "{answer: label} or a list of labels")
    if node.get("poll") not in (None, False):
        if kind != "menu":
            raise InvalidFlow(f"{where}.poll", "only a menu is asked as a poll")
        _check_poll_menu(node, where)
    if kind in ("question", "menu"):
        if node.get("retries") is not None:
            _check_number(f"{where}.retries", node["retries"], 0, 20)
        if node.get("timeoutSeconds") is not None:
            _check_number(f"{where}.timeoutSeconds", node["timeoutSeconds"], 1, MAX_WAIT_SECONDS)
    if kind == "condition":
        if not isinstance(node["rules"], list):
            raise InvalidFlow(f"{where}.rules", "a list of rules")
        for n, rule in enumerate(node["rules"]):
            _check_rule(f"{where}.rules.{n}", rule)
        if node.get("match", "all") not in ("all", "any"):
            raise InvalidFlow(f"{where}.match", "all or any")
    if kind == "delay":
        _check_number(f"{where}.seconds", node["seconds"], 0, MAX_DELAY_SECONDS)
    if kind in ("add_tag", "remove_tag") and not isinstance(node["tag"], str):
        raise InvalidFlow(f"{where}.tag", "the tag's name")
    if kind == "http" and (errors := http_node_errors(node)):
        raise InvalidFlow(where, "; ".join(errors))
    if kind == "transfer" and node.get("queueId") is None and node.get("userId") is None:
        raise InvalidFlow(f"{where}.queueId", "a transfer needs a queueId or a userId")
    if kind == "ai" and (errors := ai_node_errors(node)):
        raise InvalidFlow(where, "; ".join(errors))
    if kind == "save_contact" and not _CONTACT_FIELD.match(str(node["field"])):
        raise InvalidFlow(f"{where}.field", "name, email or a contact field's key")
    if kind == "save_ticket" and not _CONTACT_FIELD.match(str(node["field"])):
        raise InvalidFlow(f"{where}.field", "a ticket field's key")
    if kind == "priority" and ("priority" not in node or node["priority"] not in (*PRIORITIES, None)):
        raise InvalidFlow(f"{where}.priority", f"one of {', '.join(PRIORITIES)}, or null for none")


def _reachable(entry: str, edges: list[Mapping[str, Any]]) -> set[str]:
    seen, todo = {entry}, [entry]
    while todo:
        current = todo.pop()
        for edge in edges:
            if edge["from"] == current and edge["to"] not in seen:
                seen.add(edge["to"])
                todo.append(edge["to"])
    return seen


def validate_definition(definition: Any) -> dict:
    """The definition, checked; `InvalidFlow` names the first problem."""
    if not isinstance(definition, Mapping):
        raise InvalidFlow("body", "a flow definition is an object")
    check_trigger(definition.get("trigger"))
    nodes, edges = definition.get("nodes"), definition.get("edges", [])
    if not isinstance(nodes, list) or not nodes:
        raise InvalidFlow("nodes", "at least one node is required")
    if len(nodes) > MAX_NODES:
        raise InvalidFlow("nodes", f"at most {MAX_NODES} nodes")
    if not isinstance(edges, list):
        raise InvalidFlow("edges", "a list of {from, to, when?}")
    seen: set[str] = set()
    for n, node in enumerate(nodes):
        if not isinstance(node, Mapping) or not isinstance(node.get("id"), str) or not _NODE_ID.match(node["id"]):
            raise InvalidFlow(f"nodes.{n}.id", "each node needs an id (letters, digits, _ . -)")
        if node["id"] in seen:
            raise InvalidFlow(f"nodes.{node['id']}.id", "two nodes have this id")
        seen.add(node["id"])
        if not isinstance(node.get("type"), str) or node["type"] not in NODE_TYPES:
            raise InvalidFlow(
                f"nodes.{node['id']}.type",
                f"unknown node type {node.get('type')!r}; one of {', '.join(NODE_TYPES)}",
            )
        check_node(node)
    if sum(node["type"] == "start" for node in nodes) > 1:
        raise InvalidFlow("nodes", "a flow has one start node at most")
    by_id = {node["id"]: node for node in nodes}
    for n, edge in enumerate(edges):
        if not isinstance(edge, Mapping):
            raise InvalidFlow(f"edges.{n}", "an edge is {from, to, when?}")
        for end in ("from", "to"):
            if not isinstance(edge.get(end), str) or edge[end] not in by_id:
                raise InvalidFlow(f"edges.{n}.{end}", f"no node has the id {edge.get(end)!r}")
        source = by_id[edge["from"]]
        if source["type"] in TERMINAL_TYPES:
            raise InvalidFlow(
                f"nodes.{source['id']}", f"a {source['type']} node ends the flow; it has no way out"
            )
        when = edge.get("when")
        if when is not None:
            branches = NODE_TYPES[source["type"]][1] + tuple(
                menu_options(source) if source["type"] == "menu" else ()
            )
            if str(when) not in branches:
                raise InvalidFlow(
                    f"edges.{n}.when",
                    f"{source['id']} ({source['type']}) has no branch {when!r}"
                    + (f"; its branches: {', '.join(branches)}" if branches else ""),
                )
    for node in nodes:
        if node["type"] == "menu":
            for option in menu_options(node):
                if not any(
                    e["from"] == node["id"] and str(e.get("when")) == option for e in edges
                ) and not any(e["from"] == node["id"] and e.get("when") is None for e in edges):
                    raise InvalidFlow(
                        f"nodes.{node['id']}.options",
                        f"option {option!r} leads nowhere: add an edge "
                        f"from {node['id']} with when {option!r}",
                    )
    unreachable = [
        node["id"] for node in nodes if node["id"] not in _reachable(entry_node(definition), edges)
    ]
    if unreachable:
        raise InvalidFlow(
            f"nodes.{unreachable[0]}", f"unreachable from the entry node {entry_node(definition)!r}"
        )
    return {
        "trigger": dict(definition["trigger"]),
        "nodes": [dict(node) for node in nodes],
        "edges": [dict(edge) for edge in edges],
    }
