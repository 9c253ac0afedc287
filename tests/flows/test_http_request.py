"""The flow's HTTP request node against a real HTTP server on loopback started by these tests."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import wharf.settings
from tests.openai_server import allow_loopback
from workers.flows.http_request import HttpOutcome, http_node_errors, parse_json_path, perform_http_request


@dataclasses.dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    delay_seconds: float = 0.0


class Api:
    """Answers each path with its scripted reply (200 {} otherwise) and keeps every request."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.replies: dict[str, Reply] = {}
        api = self

        class Handler(BaseHTTPRequestHandler):
            def handle_any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                api.seen.append(Seen(self.command, self.path, headers, body))
                reply = api.replies.get(self.path.split("?")[0], Reply())
                time.sleep(reply.delay_seconds)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any  # noqa: N815 (names http.server calls)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def reply_json(self, path: str, document, status: int = 200) -> None:
        self.replies[path] = Reply(status=status, body=json.dumps(document).encode())


@pytest.fixture
def api():
    server = Api()
    thread = threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def operator_allows_loopback(monkeypatch):
    allow_loopback(monkeypatch)


pytestmark = pytest.mark.usefixtures("operator_allows_loopback")


def test_a_get_renders_variables_into_the_url_and_headers_and_saves_values_from_the_json(api):
    api.reply_json("/orders/A%2017", {"data": {"items": [{"status": "shipped", "eta": 3, "paid": True}]}})
    node = {
        "method": "GET",
        "url": api.url("/orders/{{orderId}}?phone={{phone}}"),
        "headers": {"Authorization": "Bearer {{token}}"},
        "save": {
            "orderStatus": "data.items[0].status",
            "eta": "data.items[0].eta",
            "paid": "data.items.0.paid",
        },
    }

    outcome = perform_http_request(node, {"orderId": "A 17", "phone": "+55 11", "token": "t0k"})

    assert outcome == HttpOutcome(
        ok=True, status=200, saved={"orderStatus": "shipped", "eta": "3", "paid": "true"}, error=None
    )
    [seen] = api.seen
    assert seen.method == "GET" and seen.path == "/orders/A%2017?phone=%2B55%2011"
    assert seen.headers["authorization"] == "Bearer t0k" and seen.body == b""
    assert seen.headers["user-agent"].startswith("Wharf-Flows/")


def test_a_post_sends_a_json_body_with_variables_that_stays_valid_json(api):
    api.reply_json("/leads", {"id": 42, "tags": ["a", "b"], "owner": None})
    node = {
        "method": "POST",
        "url": api.url("/leads"),
        "body": {
            "name": "{{name}}",
            "note": "said: {{answer}}",
            "size": 3,
            "nested": [{"phone": "{{phone}}"}],
        },
        "save": {"leadId": "id", "tags": "tags", "owner": "owner"},
    }

    outcome = perform_http_request(node, {"name": 'Ana "the boss"', "answer": "yes\nplease", "phone": "5511"})

    assert outcome.ok and outcome.saved == {"leadId": "42", "tags": '["a","b"]', "owner": ""}
    [seen] = api.seen
    assert seen.method == "POST" and seen.headers["content-type"] == "application/json"
    assert json.loads(seen.body) == {
        "name": 'Ana "the boss"',
        "note": "said: yes\nplease",
        "size": 3,
        "nested": [{"phone": "5511"}],
    }


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_the_other_methods_send_a_text_body_and_its_own_content_type(api, method):
    node = {
        "method": method,
        "url": api.url("/things/1"),
        "body": "state={{state}}",
        "headers": {"content-type": "application/x-www-form-urlencoded"},
    }

    outcome = perform_http_request(node, {"state": "done"})

    assert outcome == HttpOutcome(ok=True, status=200, saved={}, error=None)
    [seen] = api.seen
    assert seen.method == method and seen.body == b"state=done"
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"


def test_a_server_error_is_not_ok_and_saves_nothing(api):
    api.reply_json("/orders", {"data": {"status": "x"}}, status=500)

    outcome = perform_http_request({"url": api.url("/orders"), "save": {"s": "data.status"}}, {})

    assert outcome == HttpOutcome(ok=False, status=500, saved={}, error="the server answered 500")


def test_a_redirect_is_not_followed(api):
    api.replies["/old"] = Reply(status=302, body=b"")

    outcome = perform_http_request({"url": api.url("/old")}, {})

    assert not outcome.ok and outcome.status == 302 and "not followed" in outcome.error
    assert [seen.path for seen in api.seen] == ["/old"]


def test_an_answer_that_is_not_json_fails_only_when_values_must_be_saved(api):
    api.replies["/page"] = Reply(body=b"<html>hello</html>", content_type="text/html")

    saving = perform_http_request({"url": api.url("/page"), "save": {"x": "a"}}, {})
    not_saving = perform_http_request({"url": api.url("/page")}, {})

    assert saving == HttpOutcome(
        ok=False, status=200, saved={}, error="the answer is not JSON, so no value could be saved"
    )
    assert not_saving == HttpOutcome(ok=True, status=200, saved={}, error=None)


def test_a_missing_path_is_not_ok_but_the_values_found_are_kept(api):
    api.reply_json("/customer", {"name": "Ana", "orders": []})

    outcome = perform_http_request(
        {
            "url": api.url("/customer"),
            "save": {"name": "name", "last": "orders[0].id", "city": "address.city"},
        },
        {},
    )

    assert not outcome.ok and outcome.status == 200
    assert outcome.saved == {"name": "Ana"}
    assert outcome.error == "the answer has no value at orders[0].id, address.city"


def test_a_slow_server_times_out_within_the_node_s_timeout(api):
    api.replies["/slow"] = Reply(delay_seconds=3)

    started = time.monotonic()
    outcome = perform_http_request({"url": api.url("/slow"), "timeoutSeconds": 0.5}, {})

    assert time.monotonic() - started < 2
    assert outcome == HttpOutcome(ok=False, status=None, saved={}, error="no answer within 0.5 s")


def test_a_closed_port_is_a_failed_request_not_an_exception(api):
    url = api.url("/x")
    api.server.shutdown()
    api.server.server_close()

    outcome = perform_http_request({"url": url}, {})

    assert not outcome.ok and outcome.status is None and outcome.error.startswith("the request failed")


def test_a_private_address_is_refused_unless_the_operator_allows_it(api, monkeypatch):
    monkeypatch.setattr(
        wharf.settings,
        "settings",
        dataclasses.replace(wharf.settings.settings, http_allow_private_networks=()),
    )

    outcome = perform_http_request({"url": api.url("/orders")}, {})

    assert not outcome.ok and outcome.status is None
    assert outcome.error.startswith("refused: 127.0.0.1 resolves to an address that is not public")
    assert api.seen == []


def test_a_variable_cannot_inject_a_header(api):
    node = {"url": api.url("/x"), "headers": {"X-Name": "{{name}}"}}

    outcome = perform_http_request(node, {"name": "Ana\r\nX-Admin: yes"})

    assert outcome == HttpOutcome(
        ok=False, status=None, saved={}, error="a variable put a line break into a header"
    )
    assert api.seen == []


def test_a_variable_cannot_change_the_host(api):
    node = {"url": api.url("/search?q={{q}}")}

    perform_http_request(node, {"q": "x&admin=1#@evil.example/"})

    [seen] = api.seen
    assert seen.path == "/search?q=x%26admin%3D1%23%40evil.example%2F"


def test_an_invalid_node_is_an_outcome_with_its_problems_and_no_request(api):
    outcome = perform_http_request({"method": "TRACE", "url": api.url("/x")}, {})

    assert outcome == HttpOutcome(
        ok=False, status=None, saved={}, error="method must be one of GET, POST, PUT, PATCH, DELETE"
    )
    assert api.seen == []


@pytest.mark.parametrize(
    "node, error",
    [
        ({}, "url is required"),
        ({"url": "ftp://example.com/x"}, "url must start with http:// or https://"),
        ({"url": "{{base}}/orders"}, "url must start with http:// or https://"),
        ({"url": "https://{{host}}/orders"}, "url must start with http:// or https://"),
        ({"url": "https://x.example", "method": "get"}, "method must be one of"),
        ({"url": "https://x.example", "headers": ["a"]}, "headers must be an object"),
        ({"url": "https://x.example", "headers": {"Bad Name": "x"}}, "headers: 'Bad Name' is not a header"),
        ({"url": "https://x.example", "headers": {"Host": "internal"}}, "headers: 'Host' is not a header"),
        ({"url": "https://x.example", "headers": {"X-A": 1}}, "headers: the value of X-A must be text"),
        ({"url": "https://x.example", "headers": {"X-A": "a\nb"}}, "headers: the value of X-A must be text"),
        ({"url": "https://x.example", "body": "x"}, "a GET request takes no body"),
        ({"url": "https://x.example", "method": "POST", "body": 5}, "body must be text or JSON"),
        ({"url": "https://x.example", "timeoutSeconds": 31}, "timeoutSeconds must be"),
        ({"url": "https://x.example", "timeoutSeconds": 0}, "timeoutSeconds must be"),
        ({"url": "https://x.example", "timeoutSeconds": "5"}, "timeoutSeconds must be"),
        ({"url": "https://x.example", "timeoutSeconds": True}, "timeoutSeconds must be"),
        ({"url": "https://x.example", "save": ["a"]}, "save must be an object"),
        ({"url": "https://x.example", "save": {"1st": "a"}}, "save: '1st' is not a variable name"),
        ({"url": "https://x.example", "save": {"a": "items..x"}}, "save: the path of a must look like"),
        ({"url": "https://x.example", "save": {"a": 3}}, "save: the path of a must look like"),
    ],
)
def test_the_validator_names_each_problem(node, error):
    errors = http_node_errors(node)

    assert len(errors) == 1 and errors[0].startswith(error), errors


def test_the_validator_accepts_a_complete_node():
    node = {
        "type": "http",
        "method": "POST",
        "url": "https://api.example.com/orders/{{orderId}}?x={{y}}",
        "headers": {"Authorization": "Bearer {{token}}"},
        "body": {"a": "{{b}}"},
        "timeoutSeconds": 30,
        "save": {"order.status": "data.items[0].status"},
    }

    assert http_node_errors(node) == []
    assert http_node_errors({"url": "http://example.com"}) == []
    nulls = {"method": None, "headers": None, "body": None, "timeoutSeconds": None, "save": None}
    assert (
        http_node_errors({"url": "http://example.com", **nulls}) == []
    )  # left out, as the editor may save them


def test_json_paths_parse_into_keys_and_indexes():
    assert parse_json_path("data.items[0].answer") == ["data", "items", 0, "answer"]
    assert parse_json_path("[1][0].id") == [1, 0, "id"]
    assert [parse_json_path(bad) for bad in ("", "a.", ".a", "a..b", "a[0]b", "a[x]")] == [None] * 6
