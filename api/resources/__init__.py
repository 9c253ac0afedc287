"""One blueprint module per resource; `BLUEPRINTS` is what the app registers."""

from api.resources import (
    audit_logs,
    auth,
    companies,
    connections,
    jobs,
    messages,
    profile,
    queues,
    quick_messages,
    settings,
    simulator,
    system,
    tickets,
    users,
    webhooks,
)

BLUEPRINTS = [
    system.blueprint,
    auth.blueprint,
    users.blueprint,
    profile.blueprint,
    companies.blueprint,
    queues.blueprint,
    quick_messages.blueprint,
    settings.blueprint,
    audit_logs.blueprint,
    connections.blueprint,
    messages.blueprint,
    tickets.blueprint,
    simulator.blueprint,
    jobs.blueprint,
    webhooks.blueprint,
]
