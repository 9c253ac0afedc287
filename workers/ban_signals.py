"""Ban signals: WhatsApp telling us a number sends too much, is restricted, or is gone.

A rate-limit or restriction error on a send, a ban, or a logout pauses every running campaign on
that number at once (the pump stops at its next tick), with the reason on the campaign, and
raises `connection:ban_signal` (realtime and webhooks). A send error also cools the number down:
no campaign or scheduled send on it for a while, even after a resume (workers/number_limits.py).
"""

from __future__ import annotations

import logging

from db.base import utcnow
from db.campaigns import Campaign, rotation_of
from db.connections import Connection
from workers.events import announcing
from workers.number_limits import cool_down
from workers.transports.base import TransportError

logger = logging.getLogger(__name__)

COOL_DOWN_SECONDS = {"rate_limited": 3600, "restricted": 24 * 3600, "banned": 24 * 3600}
# whatsmeow reports these as plain server errors: 429 rate-overlimit, 463 (new chats restricted), 403/401 bans.
SIGNAL_TEXTS = {
    "rate_limited": ("rate-overlimit", "rate limit", "server returned error 429", "too many"),
    "restricted": ("server returned error 463", "reachout timelock", "restricted"),
    "banned": ("banned", "server returned error 403", "temporary ban"),
}


def signal_of(error: TransportError) -> str | None:
    """rate_limited, restricted or banned when the error is one of those, else None."""
    if error.reason_code in SIGNAL_TEXTS:
        return error.reason_code
    text = str(error).lower()
    return next((signal for signal, texts in SIGNAL_TEXTS.items() if any(t in text for t in texts)), None)


def campaigns_on(connection_id: int, company_id: int) -> list[Campaign]:
    """The running campaigns that send on the number, alone or in a rotation (their ids and numbers)."""
    running = Campaign.select(Campaign.id, Campaign.connection, Campaign.connection_ids).where(
        Campaign.company == company_id, Campaign.status == "running"
    )
    return [c for c in running if c.connection_id == connection_id or connection_id in (c.connection_ids or ())]


def pause_campaigns_on_number(connection_id: int, signal: str, reason: str) -> list[int]:
    """Pause the number's running campaigns with the reason and announce it; returns their ids."""
    connection = Connection.get_or_none(Connection.id == connection_id)
    if connection is None:
        return []
    # A number that keeps failing reports each failed send: announce it once per cool-down.
    fresh = cool_down(connection_id, COOL_DOWN_SECONDS[signal]) if signal in COOL_DOWN_SECONDS else True
    text = f"paused: {signal} on connection {connection.name} ({reason})"[:1000]
    paused = []
    with announcing() as announcements:  # the pauses' and the signal's webhooks commit with the pauses
        for campaign in campaigns_on(connection_id, connection.company_id):
            if (
                Campaign.update(status="paused", reason=text, updated_at=utcnow())
                .where(Campaign.id == campaign.id, Campaign.status == "running")
                .execute()
            ):
                paused.append(campaign.id)
                announcements.add("campaign:update", connection.company_id,
                                  {"id": campaign.id, "status": "paused", "reason": text},
                                  connection_ids=rotation_of(campaign))
        if fresh or paused:
            announcements.add("connection:ban_signal", connection.company_id, {
                "connectionId": connection_id, "signal": signal, "reason": reason, "pausedCampaignIds": paused},
                connection_ids=(connection_id,))
    if fresh or paused:
        logger.warning("connection %s: %s (%s); paused campaigns %s", connection_id, signal, reason, paused)
    return paused


def report_send_error(connection_id: int, error: TransportError) -> None:
    """Called where a send failed: a ban signal pauses the number's campaigns, any other error nothing."""
    signal = signal_of(error)
    if signal is not None:
        pause_campaigns_on_number(connection_id, signal, str(error))


def report_logout(connection_id: int, reason: str) -> None:
    """Called when the number was logged out (from the phone, or banned)."""
    pause_campaigns_on_number(
        connection_id, "banned" if "ban" in reason.lower() else "logged_out", reason or "logged out"
    )
