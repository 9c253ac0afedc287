"""`wharf`: the admin command and the entry point of the gateway, scheduler and local Redis."""

from __future__ import annotations

import sys

import click

from wharf.settings import settings


def bind_database():
    from db.base import connect_database

    return connect_database(settings.database_url, settings.database_pool_size, settings.database_pool_wait_seconds)


@click.group()
def main() -> None:
    """Wharf: customer service and marketing over WhatsApp."""
    from wharf.logs import configure_logging

    configure_logging(settings.log_level, as_json=False)


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from db.migrate import upgrade

    applied = upgrade(bind_database())
    click.echo(f"applied: {', '.join(applied)}" if applied else "the database is up to date")


@db.command("status")
def db_status() -> None:
    """List the migrations not applied yet (exit 1 when there are some)."""
    from db.migrate import pending_migrations

    pending = pending_migrations(bind_database())
    click.echo("pending: " + ", ".join(pending) if pending else "the database is up to date")
    sys.exit(1 if pending else 0)


@db.command("makemigration")
@click.argument("name")
def db_makemigration(name: str) -> None:
    """Write a migration for what the models have that the migrations lack."""
    from db.migrate import make_migration

    created = make_migration(bind_database(), name)
    click.echo(f"wrote db/migrations/{created}.py" if created else "no changes")


@main.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", default="Administrator")
@click.option("--company", "company_name", default="Wharf")
@click.option("--role", type=click.Choice(["super", "admin"]), default="admin")
@click.password_option()
def create_admin(email: str, name: str, company_name: str, role: str, password: str) -> None:
    """Create an admin (or, with --role super, the installation's super admin)."""
    from wharf.accounts import create_account

    bind_database()
    user = create_account(company_name, name, email, password, role)
    click.echo(f"created {role} {user.email} in company {user.company.name!r} (id {user.company_id})")


@main.command("seed-demo")
def seed_demo_command() -> None:
    """On an empty database, create a demo company and admin; print the login."""
    from wharf.accounts import seed_demo

    bind_database()
    email, password = seed_demo(settings.var_dir)
    click.echo(f"demo login: {email} / {password}  (API on http://localhost:{settings.api_port})")


@main.command()
def gateway() -> None:
    """Run the gateway: the live WhatsApp sessions of this process."""
    from workers.gateway.process import run_gateway

    bind_database()
    run_gateway()


@main.command()
def scheduler() -> None:
    """Run the scheduler (one leader at a time across processes)."""
    from scheduler.process import run_scheduler

    bind_database()
    run_scheduler()


@main.command()
def redis() -> None:
    """Run the local Redis used when REDIS_URL is unset (supervisord's `redis` program)."""
    from wharf.redis_server import run

    run(port=int(settings.redis_url.rsplit(":", 1)[1].split("/")[0]), data_dir=settings.var_dir / "redis")


@main.group()
def services() -> None:
    """Development services."""


@services.command("ensure")
def services_ensure() -> None:
    """Make sure the test PostgreSQL and Redis answer, starting them if needed."""
    from wharf.devservices import main as ensure

    ensure()
