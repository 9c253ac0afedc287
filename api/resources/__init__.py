"""One blueprint module per resource; `BLUEPRINTS` is what the app registers."""

from api.resources import auth, companies, jobs, system, users

BLUEPRINTS = [system.blueprint, auth.blueprint, users.blueprint, companies.blueprint, jobs.blueprint]
