"""The thinnest `POST /api/messages` this Flask app could serve, as a baseline for `bench/api_send.py`.

`POST /bench/thinnest-send` takes the same body as `POST /api/messages` through the same `@endpoint`
(token and its revocation, the user, the body's validation, the answer) and the same recipient check
(`recipient_phone`), then pushes the send to a Redis list in one round trip: no database write, no
ticket, no Job, no realtime event. It is what any shape of the send (writes moved to a worker, say)
would still cost in this API, so it bounds what such a change could gain.

Served by granian as the `api` program is: `granian --factory bench.thinnest_send:create_app`.
"""

from __future__ import annotations

import json

from flask import Blueprint, Flask

from api.app import create_app as create_wharf_app
from api.endpoint import endpoint
from api.resources.messages import SendIn, SendOut, recipient_phone
from api.security import current_principal
from wharf.redis_client import redis_client

PATH = "/bench/thinnest-send"
LIST_KEY = "bench:thinnest-sends"

blueprint = Blueprint("thinnest_send", __name__)


@blueprint.post(PATH)
@endpoint(summary="Benchmark baseline: a validated send pushed to Redis", tags=["bench"], body=SendIn,
          response=SendOut, status=202, scope="messages:send")
def thinnest_send(body: SendIn):
    principal = current_principal()
    phone = recipient_phone(body.to, principal.company_id)
    redis_client().rpush(LIST_KEY, json.dumps({"company": principal.company_id, "to": phone, "body": body.body}))
    return SendOut(id=0, status="queued", job_id="")


def create_app() -> Flask:
    app = create_wharf_app()
    app.register_blueprint(blueprint)
    return app
