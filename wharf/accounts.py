"""Creating the first accounts from the command line: an admin, a super admin, the demo company."""

from __future__ import annotations

import secrets
from pathlib import Path

from api.security import hash_password
from db.base import database
from db.companies import Company, Plan
from db.users import User

DEMO_EMAIL = "demo@example.com"


def create_account(company_name: str, name: str, email: str, password: str, role: str) -> User:
    """A company (found by name or created) with one user of the given role."""
    with database.atomic():
        company = Company.get_or_none(Company.name == company_name) or Company.create(
            name=company_name, plan=Plan.select().order_by(Plan.price_cents).first()
        )
        return User.create(
            company=company, name=name, email=email.lower(), password_hash=hash_password(password), role=role
        )


def seed_demo(var_dir: Path) -> tuple[str, str]:
    """On an empty database: a Starter plan, a demo company and its admin. Returns the login.

    The generated password is kept in var/demo-login so a restart can print it again.
    """
    kept = var_dir / "demo-login"
    if User.select().exists():
        if kept.exists():
            email, password = kept.read_text().split("\n")[:2]
            return email, password
        return DEMO_EMAIL, "(set when the demo was first seeded)"
    password = secrets.token_urlsafe(12)
    with database.atomic():
        Plan.get_or_create(name="Starter", defaults={"max_users": 10, "max_connections": 3, "max_campaigns": 20})
        create_account("Demo Company", "Demo Admin", DEMO_EMAIL, password, "admin")
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.touch(mode=0o600)
    kept.write_text(f"{DEMO_EMAIL}\n{password}\n")
    return DEMO_EMAIL, password
