"""One blueprint module per resource; `BLUEPRINTS` is what the app registers."""

from api.resources import (
    audit_logs,
    auth,
    companies,
    jobs,
    profile,
    queues,
    quick_messages,
    settings,
    system,
    users,
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
    jobs.blueprint,
]
