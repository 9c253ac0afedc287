"""The flow's HTTP request node: call an API with the session's variables, keep values from its JSON answer.

A node looks like

    {"type": "http", "method": "POST", "url": "https://api.example.com/orders/{{orderId}}",
     "headers": {"Authorization": "Bearer {{token}}"}, "body": {"phone": "{{phone}}"},
     "timeoutSeconds": 10, "save": {"status": "data.items[0].status"}}

Variables are rendered into the URL (each value percent-encoded, so an answer cannot change the
host or the path's shape: the scheme and host are written out in the node), the header values and
the body (a string as it is; in a JSON body, every string inside it, so a value with quotes keeps
the JSON valid). The request goes through `wharf.public_http`: public addresses only unless
`HTTP_ALLOW_PRIVATE_NETWORKS` lists them, no redirects, one deadline for the whole request.

`perform_http_request` never raises for what the network, the server or the node may do: a
refused address, a timeout, a non-2xx answer, an answer that is not JSON, a path with no value
are an `HttpOutcome` with `ok=False` and an error saying which. `saved` holds the values found
(strings: JSON strings as they are, numbers and booleans as JSON writes them, null as "",
objects and lists as compact JSON), even when another path was missing.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import wharf.settings
from wharf.public_http import UnsafeUrl, request
from workers.templating import render_template

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DEFAULT_TIMEOUT_SECONDS = 10
MAX_TIMEOUT_SECONDS = 30
MAX_ANSWER_BYTES = 1024 * 1024
MAX_SAVED_CHARS = 4096
USER_AGENT = "Wharf-Flows/1"
# Set by the connection itself: a node that wrote them could desynchronise the request.
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][\w.]*$")
_JSON_PATH = re.compile(r"^(?:\[\d+\]|[^.\[\]]+)(?:\[\d+\]|\.[^.\[\]]+)*$")
_PATH_STEP = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
_LITERAL_ORIGIN = re.compile(r"^https?://[^/?#{}]+(?:[/?#]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class HttpOutcome:
    ok: bool
    status: int | None  # the answer's status; None when no answer came
    saved: dict[str, str]  # variable name → value from the JSON answer
    error: str | None


def parse_json_path(path: str) -> list[str | int] | None:
    """`data.items[0].answer` → ["data", "items", 0, "answer"]; None for a path that is not one."""
    if not _JSON_PATH.match(path):
        return None
    return [int(index) if index else name for index, name in _PATH_STEP.findall(path)]


def optional(node: Mapping[str, Any], name: str, default: Any) -> Any:
    """A node's field that may be left out or null: its default then."""
    value = node.get(name)
    return default if value is None else value


def timeout_error(timeout: Any, maximum: float) -> str | None:
    """Why a node's `timeoutSeconds` is not a number of seconds above 0 and at most `maximum` (None when it is)."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= maximum:
        return f"timeoutSeconds must be a number of seconds above 0 and at most {maximum:g}"
    return None


def http_node_errors(node: Mapping[str, Any]) -> list[str]:
    """What is wrong with an HTTP request node's fields, one sentence each; empty when it can run."""
    errors = []
    method = optional(node, "method", "GET")
    if method not in METHODS:
        errors.append(f"method must be one of {', '.join(METHODS)}")
    url = node.get("url")
    if not isinstance(url, str) or not url.strip():
        errors.append("url is required")
    elif not _LITERAL_ORIGIN.match(url.strip()):
        errors.append(
            "url must start with http:// or https:// and a host written out (variables go in the path "
            "and query only)"
        )
    headers = node.get("headers") or {}
    if not isinstance(headers, dict):
        errors.append("headers must be an object of names to values")
    else:
        for name, value in headers.items():
            if not _HEADER_NAME.match(name) or name.lower() in RESERVED_HEADERS:
                errors.append(f"headers: {name!r} is not a header a node may set")
            elif not isinstance(value, str) or "\r" in value or "\n" in value:
                errors.append(f"headers: the value of {name} must be text on one line")
    body = node.get("body")
    if body is not None:
        if not isinstance(body, str | dict | list):
            errors.append("body must be text or JSON (an object or a list)")
        elif method == "GET":
            errors.append("a GET request takes no body")
    if error := timeout_error(optional(node, "timeoutSeconds", DEFAULT_TIMEOUT_SECONDS), MAX_TIMEOUT_SECONDS):
        errors.append(error)
    save = node.get("save") or {}
    if not isinstance(save, dict):
        errors.append('save must be an object of variable names to JSON paths ("data.items[0].answer")')
    else:
        for name, path in save.items():
            if not _VARIABLE_NAME.match(name):
                errors.append(f"save: {name!r} is not a variable name (letters, digits, _ and .)")
            elif not isinstance(path, str) or parse_json_path(path) is None:
                errors.append(f'save: the path of {name} must look like "data.items[0].answer"')
    return errors


def render_body(
    body: str | dict | list | None, variables: Mapping[str, str]
) -> tuple[bytes | None, str | None]:
    """The body's bytes and its default Content-Type."""
    if body is None:
        return None, None
    if isinstance(body, str):
        return render_template(body, variables).encode(), "text/plain; charset=utf-8"

    def render(value: Any) -> Any:
        if isinstance(value, str):
            return render_template(value, variables)
        if isinstance(value, dict):
            return {render(key): render(item) for key, item in value.items()}
        if isinstance(value, list):
            return [render(item) for item in value]
        return value

    return json.dumps(render(body), ensure_ascii=False).encode(), "application/json"


def build_request(
    node: Mapping[str, Any], variables: Mapping[str, str]
) -> tuple[str, bytes | None, dict[str, str]]:
    """The URL, body and headers to send, with the variables in them."""
    url = render_template(
        node["url"].strip(), {name: quote(str(value), safe="") for name, value in variables.items()}
    )
    body, content_type = render_body(node.get("body"), variables)
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    for name, value in (node.get("headers") or {}).items():
        for existing in [key for key in headers if key.lower() == name.lower()]:
            del headers[existing]
        headers[name] = render_template(value, variables)
    return url, body, headers


def value_at(document: Any, steps: list[str | int]) -> tuple[bool, Any]:
    """(found, value) of the path in a parsed JSON document; a digit step also indexes a list."""
    for step in steps:
        if isinstance(document, dict) and str(step) in document:
            document = document[str(step)]
        elif (
            isinstance(document, list)
            and (isinstance(step, int) or step.isdigit())
            and int(step) < len(document)
        ):
            document = document[int(step)]
        else:
            return False, None
    return True, document


def as_variable(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif value is None:
        text = ""
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text[:MAX_SAVED_CHARS]


def saved_values(answer: bytes, save: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """The values the node saves from a JSON answer, and an error when the answer or a path fails."""
    try:
        document = json.loads(answer)
    except (ValueError, UnicodeDecodeError):
        return {}, "the answer is not JSON, so no value could be saved"
    saved, missing = {}, []
    for name, path in save.items():
        found, value = value_at(document, parse_json_path(path) or [])
        if found:
            saved[name] = as_variable(value)
        else:
            missing.append(path)
    return saved, (f"the answer has no value at {', '.join(missing)}" if missing else None)


def perform_http_request(node: Mapping[str, Any], variables: Mapping[str, str]) -> HttpOutcome:
    """Send the node's request and save what it asks from the answer; `ok` when the answer is 2xx and
    every value to save was found."""
    problems = http_node_errors(node)
    if problems:
        return HttpOutcome(False, None, {}, "; ".join(problems))
    url, body, headers = build_request(node, variables)
    if any("\r" in value or "\n" in value for value in headers.values()):
        return HttpOutcome(False, None, {}, "a variable put a line break into a header")
    timeout = float(optional(node, "timeoutSeconds", DEFAULT_TIMEOUT_SECONDS))
    try:
        answer = request(
            optional(node, "method", "GET"),
            url,
            body,
            headers,
            allowed=wharf.settings.settings.http_allow_private_networks,
            timeout=timeout,
            read_bytes=MAX_ANSWER_BYTES + 1,
        )
    except UnsafeUrl as error:
        return HttpOutcome(False, None, {}, f"refused: {error}")
    except TimeoutError:
        return HttpOutcome(False, None, {}, f"no answer within {timeout:g} s")
    except (OSError, http.client.HTTPException, ValueError) as error:
        return HttpOutcome(False, None, {}, f"the request failed: {str(error) or type(error).__name__}")
    if not 200 <= answer.status < 300:
        hint = " (redirects are not followed)" if 300 <= answer.status < 400 else ""
        return HttpOutcome(False, answer.status, {}, f"the server answered {answer.status}{hint}")
    if len(answer.body) > MAX_ANSWER_BYTES:
        return HttpOutcome(False, answer.status, {}, f"the answer is over {MAX_ANSWER_BYTES // 1024} KiB")
    save = node.get("save") or {}
    if not save:
        return HttpOutcome(True, answer.status, {}, None)
    saved, error = saved_values(answer.body, save)
    return HttpOutcome(error is None, answer.status, saved, error)
