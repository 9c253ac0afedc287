"""The flow's AI reply node: an answer from an OpenAI-compatible chat completions endpoint.

A node looks like

    {"type": "ai", "systemPrompt": "You answer for {{company}}; the customer is {{firstName}}.",
     "model": "gpt-4o-mini", "historyWindow": 10, "timeoutSeconds": 30}

The endpoint, the default model and the key are the company's (`db.ai_settings`, set through
`PUT /api/settings/ai`); the node may name another model. The request carries the system prompt
(variables rendered) and the last `historyWindow` messages of the conversation, oldest first, as
`{"role": "user"|"assistant", "content": ...}`. The base URL passes the same private-address
guard as webhooks before each call, and the HTTP client connects only to the addresses checked
(`wharf.public_http.pinned_http_client`), so a name that resolves elsewhere afterwards cannot
take the request into our network.

`generate_ai_reply` never raises for what the provider, the network or the node may do: a
missing key, a refused address, a timeout, an error status, an empty answer are an `AiOutcome`
with `ok=False` and an error saying which. There is one attempt; retrying is the caller's choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import openai

import wharf.settings
from db.ai_settings import ai_settings_of
from wharf.encryption import UndecryptableSecret
from wharf.public_http import UnsafeUrl, pinned_http_client
from workers.flows.http_request import optional, timeout_error
from workers.templating import render_template

DEFAULT_HISTORY_WINDOW = 10
MAX_HISTORY_WINDOW = 50
DEFAULT_TIMEOUT_SECONDS = 30
MAX_TIMEOUT_SECONDS = 60
MAX_SYSTEM_PROMPT_CHARS = 20_000
MAX_MODEL_CHARS = 100
MAX_ERROR_CHARS = 300
ROLES = ("user", "assistant")


@dataclass(frozen=True)
class AiOutcome:
    ok: bool
    text: str | None  # the model's answer, stripped
    error: str | None


def ai_node_errors(node: Mapping[str, Any]) -> list[str]:
    """What is wrong with an AI reply node's fields, one sentence each; empty when it can run."""
    errors = []
    model = node.get("model")
    if model is not None and (not isinstance(model, str) or not 0 < len(model.strip()) <= MAX_MODEL_CHARS):
        errors.append(
            f"model must be a model name of at most {MAX_MODEL_CHARS} characters (or left out for the "
            "company's default)"
        )
    prompt = optional(node, "systemPrompt", "")
    if not isinstance(prompt, str) or len(prompt) > MAX_SYSTEM_PROMPT_CHARS:
        errors.append(f"systemPrompt must be text of at most {MAX_SYSTEM_PROMPT_CHARS} characters")
    window = optional(node, "historyWindow", DEFAULT_HISTORY_WINDOW)
    if isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= MAX_HISTORY_WINDOW:
        errors.append(f"historyWindow must be a whole number of messages from 0 to {MAX_HISTORY_WINDOW}")
    if error := timeout_error(optional(node, "timeoutSeconds", DEFAULT_TIMEOUT_SECONDS), MAX_TIMEOUT_SECONDS):
        errors.append(error)
    return errors


def chat_messages(system_prompt: str, history: list[dict], window: int) -> list[dict[str, str]]:
    """The system prompt (when there is one) and the last `window` user and assistant messages with text."""
    turns = [
        {"role": item["role"], "content": item["content"]}
        for item in history
        if item.get("role") in ROLES and isinstance(item.get("content"), str) and item["content"].strip()
    ]
    recent = turns[-window:] if window else []
    return ([{"role": "system", "content": system_prompt}] if system_prompt.strip() else []) + recent


def provider_error(error: openai.APIStatusError) -> str:
    """The provider's own message ({"error": {"message": ...}}) when it sent one."""
    body = error.body
    message = body.get("message") if isinstance(body, dict) else None
    detail = f": {message}" if isinstance(message, str) and message else ""
    return f"the AI provider answered {error.status_code}{detail}"[:MAX_ERROR_CHARS]


def generate_ai_reply(
    company_id: int, node: Mapping[str, Any], history: list[dict], variables: Mapping[str, str]
) -> AiOutcome:
    """One chat completion for the conversation so far, with the company's provider."""
    problems = ai_node_errors(node)
    if problems:
        return AiOutcome(False, None, "; ".join(problems))
    provider = ai_settings_of(company_id)
    try:
        api_key = provider.provider_key()
    except UndecryptableSecret as error:
        return AiOutcome(False, None, f"{error} An admin sets the key again with PUT /api/settings/ai.")
    if not api_key:
        return AiOutcome(
            False, None, "the company has no AI API key: an admin sets one with PUT /api/settings/ai"
        )
    timeout = float(optional(node, "timeoutSeconds", DEFAULT_TIMEOUT_SECONDS))
    try:
        http_client = pinned_http_client(provider.base_url, wharf.settings.settings.http_allow_private_networks,
                                         timeout)
    except UnsafeUrl as error:
        return AiOutcome(False, None, f"refused: {error}")
    messages = chat_messages(
        render_template(optional(node, "systemPrompt", ""), variables),
        history,
        optional(node, "historyWindow", DEFAULT_HISTORY_WINDOW),
    )
    model = (node.get("model") or provider.default_model).strip()
    try:
        with http_client, openai.OpenAI(
            api_key=api_key, base_url=provider.base_url, timeout=timeout, max_retries=0, http_client=http_client
        ) as client:
            completion = client.chat.completions.create(model=model, messages=messages)
        text = completion.choices[0].message.content
    except openai.APITimeoutError:
        return AiOutcome(False, None, f"the AI provider gave no answer within {timeout:g} s")
    except openai.APIConnectionError as error:
        return AiOutcome(False, None, f"the AI provider could not be reached: {error.__cause__ or error}")
    except openai.APIStatusError as error:
        return AiOutcome(False, None, provider_error(error))
    except (openai.OpenAIError, ValueError, AttributeError, IndexError, TypeError) as error:
        return AiOutcome(
            False, None, f"the AI provider's answer is not a chat completion ({type(error).__name__})"
        )
    if not isinstance(text, str) or not text.strip():
        return AiOutcome(False, None, "the model answered with no text")
    return AiOutcome(True, text.strip(), None)
