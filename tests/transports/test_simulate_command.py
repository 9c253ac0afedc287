"""`wharf simulate`: the simulated network from the command line."""

from __future__ import annotations

import json

from click.testing import CliRunner

from wharf.cli import main
from workers.transports import simulator


def test_simulate_inbound_configure_and_outbox(redis_client):
    redis_client.flushdb()
    runner = CliRunner()

    sent = runner.invoke(main, ["simulate", "inbound", "3", "--from", "+5511987654321", "--name", "Ana", "oi"])
    configured = runner.invoke(main, ["simulate", "configure", "3", "--read-after-ms", "-1", "--auto-reply", "ok"])
    redis_client.rpush(simulator.key(3, "outbox"), '{"waId": "3EB0X", "to": "+5511987654321", "body": "hello", '
                                                   '"type": "text", "at": 1}')
    listed = runner.invoke(main, ["simulate", "outbox", "3"])

    assert sent.exit_code == 0 and "from +5511987654321" in sent.output
    command = json.loads(redis_client.lindex(simulator.key(3, "commands"), 0))
    assert (command["op"], command["phone"], command["body"], command["name"]) == ("inbound", "5511987654321", "oi",
                                                                                   "Ana")
    assert configured.exit_code == 0
    assert simulator.read_config(redis_client, 3)["readAfterMs"] == -1
    assert simulator.read_config(redis_client, 3)["autoReply"] == "ok"
    assert "3EB0X  +5511987654321  [text]  hello" in listed.output and "1 received in all" in listed.output
