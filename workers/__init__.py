"""Dramatiq actors, one module per job family. `dramatiq workers` imports this package.

The broker module comes first so every actor binds to it.
"""

from workers import broker  # noqa: F401  (sets the global broker before any actor is declared)

# isort: split
from workers import (  # noqa: F401
    acks,
    address_book,
    calls,
    campaigns,
    chat_actions,
    connection_events,
    contact_blocks,
    contact_details,
    contact_import,
    emails,
    groups,
    inbound,
    lead_import,
    maintenance,
    message_changes,
    messages,
    number_check,
    own_profile,
    presence,
    profile_pictures,
    sla,
    statuses,
    transcripts,
    watchdogs,
    webhooks,
)
from workers.flows import engine  # noqa: F401,E402  (flow sessions)
