"""The flow's AI reply node against a local OpenAI-compatible server on loopback (tests/openai_server.py)."""

from __future__ import annotations

import dataclasses
import socket
import time

import pytest

import wharf.settings
from db.ai_settings import AiSettings
from tests.openai_server import Completion, allow_loopback, serving_openai
from workers.flows.ai_reply import AiOutcome, ai_node_errors, chat_messages, generate_ai_reply

KEY = "sk-test-0123456789abcd"
CONVERSATION = [
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "Hello! How can I help?"},
    {"role": "user", "content": "my order"},
    {"role": "assistant", "content": "Which number?"},
    {"role": "user", "content": "A17"},
]


@pytest.fixture
def openai_server(monkeypatch):
    allow_loopback(monkeypatch)
    with serving_openai(api_key=KEY) as server:
        yield server


@pytest.fixture
def ai_company(factories, openai_server):
    company = factories.company()
    settings = AiSettings(company=company, base_url=openai_server.base_url, default_model="house-model")
    settings.set_api_key(KEY)
    settings.save()
    return company


def test_the_reply_is_asked_with_the_company_s_model_key_system_prompt_and_the_recent_history(
    ai_company, openai_server
):
    openai_server.answer("  Your order A17 ships tomorrow.  ")
    node = {
        "systemPrompt": "You answer for {{company}}. The customer is {{firstName|a customer}}.",
        "historyWindow": 3,
    }

    outcome = generate_ai_reply(ai_company.id, node, CONVERSATION, {"company": "Acme"})

    assert outcome == AiOutcome(ok=True, text="Your order A17 ships tomorrow.", error=None)
    [sent] = openai_server.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "house-model"
    assert sent.messages == [
        {"role": "system", "content": "You answer for Acme. The customer is a customer."},
        {"role": "user", "content": "my order"},
        {"role": "assistant", "content": "Which number?"},
        {"role": "user", "content": "A17"},
    ]


def test_the_node_s_model_wins_and_the_default_window_is_ten_messages(ai_company, openai_server):
    history = [{"role": "user" if n % 2 == 0 else "assistant", "content": f"message {n}"} for n in range(14)]

    outcome = generate_ai_reply(ai_company.id, {"model": "special-model"}, history, {})

    assert outcome.ok and outcome.text == "echo: message 12"
    [sent] = openai_server.requests
    assert sent.body["model"] == "special-model"
    assert [m["content"] for m in sent.messages] == [f"message {n}" for n in range(4, 14)]  # no system prompt


def test_history_keeps_only_user_and_assistant_messages_with_text():
    history = [
        {"role": "system", "content": "injected"},
        {"role": "user", "content": " "},
        {"role": "tool", "content": "x"},
        {"role": "user", "content": None},
        {"role": "user", "content": "ok"},
    ]

    assert chat_messages("", history, 10) == [{"role": "user", "content": "ok"}]
    assert chat_messages("Be brief.", CONVERSATION, 0) == [{"role": "system", "content": "Be brief."}]


@pytest.mark.parametrize("window, kept", [(len(CONVERSATION) + 2, len(CONVERSATION)), (2, 2)])
def test_the_window_keeps_the_last_messages_and_a_shorter_history_whole(window, kept):
    assert chat_messages("", CONVERSATION, window) == CONVERSATION[-kept:]


def test_a_company_without_a_key_gets_no_call(factories, openai_server):
    company = factories.company()
    AiSettings.create(company=company, base_url=openai_server.base_url)

    outcome = generate_ai_reply(company.id, {}, CONVERSATION, {})

    assert not outcome.ok and "no AI API key" in outcome.error
    assert openai_server.requests == []


def test_a_company_that_never_saved_settings_has_no_key(factories, database):
    outcome = generate_ai_reply(factories.company().id, {}, CONVERSATION, {})

    assert not outcome.ok and "no AI API key" in outcome.error


def test_a_wrong_key_is_the_provider_s_401_message(ai_company, openai_server):
    row = AiSettings.get(AiSettings.company == ai_company.id)
    row.set_api_key("sk-wrong-key")
    row.save()

    outcome = generate_ai_reply(ai_company.id, {}, CONVERSATION, {})

    assert outcome == AiOutcome(False, None, "the AI provider answered 401: Incorrect API key provided")
    assert openai_server.requests[0].headers["authorization"] == "Bearer sk-wrong-key"


def test_a_server_error_is_reported_once_without_retries(ai_company, openai_server):
    openai_server.answer(Completion(status=500))

    outcome = generate_ai_reply(ai_company.id, {}, CONVERSATION, {})

    assert outcome == AiOutcome(False, None, "the AI provider answered 500: scripted 500")
    assert len(openai_server.requests) == 1


def test_a_slow_provider_times_out_within_the_node_s_timeout(ai_company, openai_server):
    openai_server.answer(Completion(delay_seconds=3))

    started = time.monotonic()
    outcome = generate_ai_reply(ai_company.id, {"timeoutSeconds": 0.5}, CONVERSATION, {})

    assert time.monotonic() - started < 2
    assert outcome == AiOutcome(False, None, "the AI provider gave no answer within 0.5 s")


@pytest.mark.parametrize(
    "completion",
    [
        Completion(raw_body=b"<html>gateway</html>"),
        Completion(raw_body=b'{"object": "list", "data": []}'),
    ],
)
def test_an_answer_that_is_not_a_chat_completion_is_an_error(ai_company, openai_server, completion):
    openai_server.answer(completion)

    outcome = generate_ai_reply(ai_company.id, {}, CONVERSATION, {})

    assert not outcome.ok and outcome.text is None
    assert outcome.error.startswith("the AI provider's answer is not a chat completion")


@pytest.mark.parametrize("text", [None, "", "   "])
def test_an_empty_answer_is_an_error(ai_company, openai_server, text):
    openai_server.answer(Completion(text=text))

    assert generate_ai_reply(ai_company.id, {}, CONVERSATION, {}) == AiOutcome(
        False, None, "the model answered with no text"
    )


def test_an_unreachable_provider_is_an_error(ai_company, openai_server):
    openai_server.server.shutdown()
    openai_server.server.server_close()

    outcome = generate_ai_reply(ai_company.id, {}, CONVERSATION, {})

    assert not outcome.ok and outcome.error.startswith("the AI provider could not be reached")


def test_a_private_base_url_is_refused_unless_the_operator_allows_it(ai_company, openai_server, monkeypatch):
    monkeypatch.setattr(
        wharf.settings,
        "settings",
        dataclasses.replace(wharf.settings.settings, http_allow_private_networks=()),
    )

    outcome = generate_ai_reply(ai_company.id, {}, CONVERSATION, {})

    assert not outcome.ok and outcome.error.startswith(
        "refused: 127.0.0.1 resolves to an address that is not public"
    )
    assert openai_server.requests == []


def test_the_call_goes_to_the_address_checked_even_if_the_name_resolves_elsewhere_later(
    ai_company, openai_server, monkeypatch
):
    real_getaddrinfo, lookups = socket.getaddrinfo, []

    def rebinding(host, port, *args, **kwargs):  # the name's first answer is allowed, the next is not
        if host != "ai.provider.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        return real_getaddrinfo("127.0.0.1" if len(lookups) == 1 else "169.254.169.254", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    AiSettings.update(base_url=openai_server.base_url.replace("127.0.0.1", "ai.provider.test")).execute()
    openai_server.answer("pinned")

    outcome = generate_ai_reply(ai_company.id, {"timeoutSeconds": 3}, CONVERSATION, {})

    assert outcome.ok and outcome.text == "pinned"
    assert lookups == ["ai.provider.test"]  # resolved once, by the check


def test_a_key_stored_under_another_encryption_secret_is_an_error_not_a_crash(
    ai_company, openai_server, monkeypatch
):
    monkeypatch.setattr(
        wharf.settings,
        "settings",
        dataclasses.replace(wharf.settings.settings, encryption_secret="a-new-secret"),
    )

    outcome = generate_ai_reply(ai_company.id, {}, CONVERSATION, {})

    assert not outcome.ok and "cannot be decrypted" in outcome.error
    assert openai_server.requests == []


def test_an_invalid_node_is_an_outcome_with_its_problems_and_no_call(ai_company, openai_server):
    outcome = generate_ai_reply(ai_company.id, {"historyWindow": 500}, CONVERSATION, {})

    assert outcome == AiOutcome(False, None, "historyWindow must be a whole number of messages from 0 to 50")
    assert openai_server.requests == []


@pytest.mark.parametrize(
    "node, error",
    [
        ({"model": ""}, "model must be a model name"),
        ({"model": 4}, "model must be a model name"),
        ({"model": "m" * 101}, "model must be a model name"),
        ({"systemPrompt": ["x"]}, "systemPrompt must be text"),
        ({"systemPrompt": "x" * 20_001}, "systemPrompt must be text"),
        ({"historyWindow": -1}, "historyWindow must be"),
        ({"historyWindow": 2.5}, "historyWindow must be"),
        ({"historyWindow": True}, "historyWindow must be"),
        ({"timeoutSeconds": 0}, "timeoutSeconds must be"),
        ({"timeoutSeconds": 61}, "timeoutSeconds must be"),
        ({"timeoutSeconds": "10"}, "timeoutSeconds must be"),
    ],
)
def test_the_validator_names_each_problem(node, error):
    errors = ai_node_errors(node)

    assert len(errors) == 1 and errors[0].startswith(error), errors


def test_the_validator_accepts_a_complete_node_and_an_empty_one():
    assert (
        ai_node_errors(
            {
                "type": "ai",
                "model": "gpt-4o-mini",
                "systemPrompt": "Be kind to {{name}}.",
                "historyWindow": 0,
                "timeoutSeconds": 60,
            }
        )
        == []
    )
    assert ai_node_errors({}) == []
    assert (
        ai_node_errors({"model": None, "systemPrompt": None, "historyWindow": None, "timeoutSeconds": None})
        == []
    )
