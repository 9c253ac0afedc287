"""`wharf`: the admin command and the entry point of the gateway, scheduler and local Redis."""

from __future__ import annotations

import datetime as dt
import mimetypes
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from wharf.settings import settings

if TYPE_CHECKING:
    from workers.transports.base import ContactCard


def log_as_a_service() -> None:
    """A long-running program logs JSON lines when LOG_JSON is on (the admin commands stay plain text)."""
    from wharf.logs import format_as_json_lines

    if settings.log_json:
        format_as_json_lines(settings.log_level)


def bind_database():
    from db.base import connect_database, database

    if database.obj is not None:  # bound already: the command runs inside another program (a test)
        return database.obj
    return connect_database(settings.database_url, settings.database_pool_size, settings.database_pool_wait_seconds)


@click.group()
def main() -> None:
    """Wharf: customer service and marketing over WhatsApp."""
    from wharf.logs import configure_logging

    configure_logging(settings.log_level, as_json=False)


@main.command("rotate-encryption")
def rotate_encryption() -> None:
    """Encrypt every stored secret (AI keys, users' authenticator secrets) under ENCRYPTION_SECRET, from
    ENCRYPTION_SECRET_PREVIOUS (exit 1 when some decrypt under neither: their owners set them again)."""
    from db.ai_settings import AiSettings
    from db.encrypted import reencrypt_column
    from db.users import User

    bind_database()
    keys_done, lost_keys = reencrypt_column(AiSettings.api_key_encrypted)
    mfa_done, lost_mfa = reencrypt_column(User.mfa_secret_encrypted)
    click.echo(f"{keys_done + mfa_done} stored secret(s) encrypted under the current ENCRYPTION_SECRET")
    if lost_keys:
        click.echo("not decryptable, to be set again: the AI keys of companies "
                   f"{', '.join(str(row.company_id) for row in lost_keys)}")
    if lost_mfa:
        click.echo("not decryptable, two-step login to be reset by an admin (DELETE /api/users/:id/mfa): users "
                   f"{', '.join(row.email for row in lost_mfa)}")
    if lost_keys or lost_mfa:
        sys.exit(1)


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


@main.command("reset-mfa")
@click.argument("email")
def reset_mfa(email: str) -> None:
    """Turn off a user's two-step login: for a company whose only admin lost their phone and recovery codes (any
    other admin can do it with DELETE /api/users/:id/mfa). Audited."""
    from api.mfa import turn_off
    from db.users import User

    bind_database()
    user = User.get_or_none(User.email == email.strip().lower())
    if user is None or not user.mfa_enabled:
        click.echo(f"{email}: no such user" if user is None else f"{email}: two-step login is off already")
        sys.exit(1)
    turn_off(user)
    click.echo(f"{user.email}: two-step login off; they log in with their password until they turn it on again")


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

    log_as_a_service()
    bind_database()
    run_gateway()


@main.command()
def realtime() -> None:
    """Run the Socket.IO server on REALTIME_PORT: one gunicorn worker with threads (no sticky sessions needed)."""
    from wharf.realtime_server import run_realtime

    log_as_a_service()
    run_realtime(port=settings.realtime_port, threads=settings.realtime_threads)


@main.group()
def simulate() -> None:
    """Talk to the simulated WhatsApp network of a `simulator` connection (the gateway must run)."""


def coordinates(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[float, float] | None:
    """LAT,LNG as two numbers on the globe."""
    if value is None:
        return None
    try:
        latitude, longitude = (float(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter("give LAT,LNG, two numbers: -23.5613,-46.6565") from None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise click.BadParameter("a latitude is within ±90 and a longitude within ±180")
    return latitude, longitude


def shared_card(ctx: click.Context, param: click.Parameter, value: tuple[str, str] | None) -> ContactCard | None:
    """NAME PHONE as a contact card, its number in E.164."""
    from wharf.phones import InvalidPhone, to_e164
    from workers.transports.base import ContactCard

    if value is None:
        return None
    try:
        return ContactCard(value[0], to_e164(value[1], None))
    except InvalidPhone as error:
        raise click.BadParameter(str(error)) from None


@simulate.command("inbound")
@click.argument("connection_id", type=int)
@click.option("--from", "phone", required=True, help="the contact's number, E.164 (+5511...)")
@click.option("--name", default=None, help="the contact's WhatsApp name")
@click.option("--group", default=None, metavar="ID",
              help="the group the contact writes in, as a member (its id, 120363012345678901@g.us, or its digits)")
@click.option("--group-name", default=None, help="the group's subject (its name), from now on")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a file to send (its type by its name: .jpg, .ogg, .pdf...), BODY its caption")
@click.option("--location", metavar="LAT,LNG", callback=coordinates, help="a place to share, with no BODY")
@click.option("--place", default=None, help="the shared place's name")
@click.option("--address", default=None, help="the shared place's address")
@click.option("--contact-card", nargs=2, metavar="NAME PHONE", callback=shared_card,
              help="a contact card to share (PHONE in E.164), with no BODY")
@click.argument("body", default="")
def simulate_inbound(connection_id: int, phone: str, name: str | None, group: str | None, group_name: str | None,
                     path: Path | None, location: tuple[float, float] | None, place: str | None, address: str | None,
                     contact_card: ContactCard | None, body: str) -> None:
    """A contact sends BODY to the connection, or a file (BODY its caption), a location or a contact card; in a group
    with --group."""
    from wharf.media import MediaRejected
    from wharf.redis_client import redis_client
    from workers.transports import simulator
    from workers.transports.base import Location

    if (place or address) and location is None:
        raise click.UsageError("--place and --address describe a --location")
    if group_name and group is None:
        raise click.UsageError("--group-name names a --group")
    media = None
    if path is not None:
        media = {"mimetype": mimetypes.guess_type(path.name)[0], "filename": path.name, "data": path.read_bytes()}
    try:
        wa_id = simulator.inject_inbound(redis_client(), connection_id, phone, body, name, media=media,
                                         location=Location(*location, place, address) if location else None,
                                         contact_card=contact_card, group=group, group_name=group_name)
    except MediaRejected as error:
        raise click.BadParameter(str(error), param_hint="--file") from None
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"sent {wa_id} from {phone}" + (f" in {simulator.group_id(group)}" if group else ""))


@simulate.command("outbox")
@click.argument("connection_id", type=int)
@click.option("--to", default=None, help="only what went to this number (E.164)")
@click.option("--last", default=20, show_default=True, help="how many of the latest to show")
def simulate_outbox(connection_id: int, to: str | None, last: int) -> None:
    """What the network received from the connection, latest last."""
    from wharf.redis_client import redis_client
    from workers.transports import simulator

    _, total = simulator.outbox(redis_client(), connection_id, to, 0, 1)
    entries, _ = simulator.outbox(redis_client(), connection_id, to, max(0, total - last), last)
    for entry in entries:
        edited = "  (edited)" if entry["editedAt"] else ""
        click.echo(f"{entry['waId']}  {entry['to']}  [{entry['type']}]  {outbox_text(entry)}{edited}")
    click.echo(f"{total} received in all")


def outbox_text(entry: dict) -> str:
    """What an outbox entry says, on its line: a place or a contact card in a few words, not its body's lines."""
    from workers.transports.base import Location

    if entry.get("location"):
        return Location(**entry["location"]).text().replace("\n", " · ")
    if entry.get("contact"):
        return f"{entry['contact']['name']} {entry['contact']['phone']}"
    if entry.get("poll"):
        return entry["body"].replace("\n", " · ")
    return entry["body"]


@simulate.command("revoke")
@click.argument("connection_id", type=int)
@click.option("--from", "phone", required=True, help="the contact's number, E.164 (+5511...)")
@click.argument("wa_id")
def simulate_revoke(connection_id: int, phone: str, wa_id: str) -> None:
    """A contact deletes their message WA_ID for everyone."""
    from wharf.redis_client import redis_client
    from workers.transports import simulator

    simulator.inject_revoke(redis_client(), connection_id, phone, wa_id)
    click.echo(f"{phone} deleted {wa_id}")


@simulate.command("edit")
@click.argument("connection_id", type=int)
@click.option("--from", "phone", required=True, help="the contact's number, E.164 (+5511...)")
@click.argument("wa_id")
@click.argument("body")
def simulate_edit(connection_id: int, phone: str, wa_id: str, body: str) -> None:
    """A contact edits their message WA_ID: its text becomes BODY."""
    from wharf.redis_client import redis_client
    from workers.transports import simulator

    simulator.inject_edit(redis_client(), connection_id, phone, wa_id, body)
    click.echo(f"{phone} edited {wa_id}")


@simulate.command("react")
@click.argument("connection_id", type=int)
@click.option("--from", "phone", required=True, help="the contact's number, E.164 (+5511...)")
@click.argument("wa_id")
@click.argument("emoji")
def simulate_react(connection_id: int, phone: str, wa_id: str, emoji: str) -> None:
    """A contact reacts to the message WA_ID (theirs or ours) with EMOJI; "" takes their reaction back."""
    from wharf.redis_client import redis_client
    from workers.transports import simulator

    simulator.inject_reaction(redis_client(), connection_id, phone, wa_id, emoji)
    click.echo(f"{phone} reacted to {wa_id} with {emoji}" if emoji else f"{phone} took back their reaction to {wa_id}")


@simulate.command("vote")
@click.argument("connection_id", type=int)
@click.option("--from", "phone", required=True, help="the contact's number, E.164 (+5511...)")
@click.argument("wa_id")
@click.argument("options", nargs=-1)
def simulate_vote(connection_id: int, phone: str, wa_id: str, options: tuple[str, ...]) -> None:
    """A contact votes on the poll WA_ID (theirs or ours) for OPTIONS, by their text; none withdraws their vote."""
    from wharf.redis_client import redis_client
    from workers.transports import simulator

    simulator.inject_vote(redis_client(), connection_id, phone, wa_id, list(options))
    click.echo(f"{phone} voted on {wa_id} for {', '.join(options)}" if options
               else f"{phone} withdrew their vote on {wa_id}")


@simulate.command("call")
@click.argument("connection_id", type=int)
@click.option("--from", "phone", required=True, help="the contact's number, E.164 (+5511...)")
@click.option("--video", is_flag=True, help="a video call (a voice call without)")
def simulate_call(connection_id: int, phone: str, video: bool) -> None:
    """A contact calls the connection's number."""
    from wharf.redis_client import redis_client
    from workers.transports import simulator

    call_id = simulator.inject_call(redis_client(), connection_id, phone, video)
    click.echo(f"{phone} is calling ({'video' if video else 'voice'}): call {call_id}")


@simulate.command("typing")
@click.argument("connection_id", type=int)
@click.option("--from", "phone", required=True, help="the contact's number, E.164 (+5511...)")
@click.option("--stop", is_flag=True, help="they stopped typing")
@click.option("--recording", is_flag=True, help="recording a voice note rather than typing")
def simulate_typing(connection_id: int, phone: str, stop: bool, recording: bool) -> None:
    """A contact types in their chat (agents with their ticket open see it), records a voice note, or stops."""
    from wharf.redis_client import redis_client
    from workers.transports import simulator

    heard = simulator.inject_typing(redis_client(), connection_id, phone, not stop, recording)
    doing = "stopped typing" if stop else "is recording audio" if recording else "is typing"
    click.echo(f"{phone} {doing}" + ("" if heard else " (unheard: no agent opened their ticket since the session "
                                                     "connected)"))


@simulate.command("group-change")
@click.argument("connection_id", type=int)
@click.option("--from", "phone", required=True, help="the member who makes the change, E.164 (+5511...)")
@click.option("--group", required=True, metavar="ID", help="the group (its id, 120363012345678901@g.us, or its digits)")
@click.option("--name", default=None, help="its new subject")
@click.option("--add", multiple=True, metavar="PHONE", help="a number added; \"me\": the connection's own")
@click.option("--remove", multiple=True, metavar="PHONE", help="a number removed; \"me\": the connection is out")
@click.option("--promote", multiple=True, metavar="PHONE", help="a member made an admin")
@click.option("--demote", multiple=True, metavar="PHONE", help="an admin made a member")
def simulate_group_change(connection_id: int, phone: str, group: str, name: str | None, **members: tuple[str, ...]) -> None:
    """A member renames a group or changes its members, as WhatsApp tells the session."""
    from wharf.redis_client import redis_client
    from workers.transports import simulator

    if name is None and not any(members.values()):
        raise click.UsageError("give --name, or members to --add, --remove, --promote or --demote")
    me = simulator.session_number(connection_id)
    try:
        chat = simulator.group_id(group)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--group") from None
    numbers = {change: [me if number == "me" else number.lstrip("+") for number in listed]
               for change, listed in members.items()}
    simulator.inject_group_change(redis_client(), connection_id, chat, phone.lstrip("+"), name, **numbers)
    done = [f"{change} {', '.join(listed)}" for change, listed in members.items() if listed]
    click.echo(f"{phone} changed {chat}: " + "; ".join(([f"named {name!r}"] if name else []) + done))


@simulate.command("read-receipts")
@click.argument("connection_id", type=int)
@click.option("--contact", default=None, help="only the blue ticks this number got (E.164)")
def simulate_read_receipts(connection_id: int, contact: str | None) -> None:
    """The blue ticks the contacts got from the connection (agents who read their messages), oldest first."""
    from wharf.redis_client import redis_client
    from workers.transports import simulator
    from workers.transports.base import e164_or_id

    entries = simulator.read_receipts(redis_client(), connection_id, contact.lstrip("+") if contact else None)
    for entry in entries:
        at = dt.datetime.fromtimestamp(entry["at"], dt.UTC).isoformat(timespec="seconds")
        member = f"  (member {e164_or_id(entry['sender'])})" if entry.get("sender") else ""
        click.echo(f"{entry['waId']}  {e164_or_id(entry['chat'])}{member}  {at}")
    click.echo(f"{len(entries)} read receipts")


@simulate.command("configure")
@click.argument("connection_id", type=int)
@click.option("--delivered-after-ms", type=int, default=None)
@click.option("--read-after-ms", type=int, default=None)
@click.option("--fail-rate", type=click.FloatRange(0, 1), default=None)
@click.option("--auto-reply", default=None, help="every contact answers each message with this text")
@click.option("--require-qr/--no-require-qr", default=None)
def simulate_configure(connection_id: int, **options) -> None:
    """Change the network's delays, failures and behaviour for the connection."""
    from wharf.redis_client import redis_client
    from workers.transports import simulator

    names = {"delivered_after_ms": "deliveredAfterMs", "read_after_ms": "readAfterMs", "fail_rate": "failRate",
             "auto_reply": "autoReply", "require_qr": "requireQr"}
    changes = {names[name]: value for name, value in options.items() if value is not None}
    click.echo(simulator.configure(redis_client(), connection_id, **changes))


@main.command()
def scheduler() -> None:
    """Run the scheduler (one leader at a time across processes)."""
    from scheduler.process import run_scheduler

    log_as_a_service()
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
