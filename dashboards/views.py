"""Dashboard pages: the same users as the API, a session cookie, a CSRF token on every form.

Only admins and super admins get in. The queue pages are installation-wide: Dramatiq's messages
carry ids, not companies, so a message cannot be shown to one company and hidden from another;
only the super admin sees them (a company admin follows their own jobs in `/api/jobs`). The
operations page shows a company admin their own connections and campaigns; the super admin sees
every company's, and the scheduler, the gateways and the health of the database and Redis.
"""

from __future__ import annotations

import datetime as dt
import secrets
from functools import wraps

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for

from api.audit import log_change, snapshot
from api.schemas import MAX_PAGE
from api.security import Principal, rate_limit, verify_login
from dashboards import operations
from dashboards.queue_actions import QueueActions
from dashboards.queues import STATES, browse, minutes, queue_counts, queue_names, worker_processes
from db.campaigns import Campaign
from db.users import User
from scheduler.jobs import PERIODIC_JOBS
from scheduler.status import health, last_runs
from wharf.redis_client import redis_client
from wharf.settings import settings
from workers.broker import broker
from workers.campaigns import pause_campaign, resume_campaign

blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder="templates")
ALLOWED_ROLES = ("super", "admin")
PAGE_SIZE = 50


def current_operator() -> User | None:
    user_id = session.get("operator_id")
    if user_id is None:
        return None
    user = User.get_or_none(User.id == user_id, User.active == True)  # noqa: E712
    return user if user is not None and user.role in ALLOWED_ROLES else None


def operator_required(view):
    """The page needs an admin or super admin; as the principal, so the audit log names them."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        operator = current_operator()
        if operator is None:
            return redirect(url_for("dashboard.login", next=request.path))
        g.principal = Principal(user=operator, company_id=operator.company_id, role=operator.role, token={})
        return view(operator, *args, **kwargs)

    return wrapper


def super_required(view):
    @wraps(view)
    @operator_required
    def wrapper(operator: User, *args, **kwargs):
        if operator.role != "super":
            abort(403)
        return view(operator, *args, **kwargs)

    return wrapper


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@blueprint.before_request
def check_csrf() -> None:
    expected = session.get("csrf")
    if request.method == "POST" and (
        not expected or not secrets.compare_digest(request.form.get("csrf", ""), expected)
    ):
        abort(400, "the form has expired; reload the page")


@blueprint.app_context_processor
def template_helpers() -> dict:
    return {"csrf_token": csrf_token}


@blueprint.app_template_filter("timestamp")
def timestamp_filter(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@blueprint.app_template_filter("duration")
def duration_filter(span: dt.timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        rate_limit(f"login:ip:{request.remote_addr}", settings.login_attempts_per_minute * 5, 60)
        user = User.get_or_none(User.email == request.form.get("email", "").strip().lower())
        if (
            verify_login(user, request.form.get("password", ""))
            and user.active
            and user.role in ALLOWED_ROLES
        ):
            session.clear()  # a new session and a new CSRF token at each login
            session["operator_id"] = user.id
            csrf_token()
            next_path = request.args.get("next", "")
            return redirect(
                next_path if next_path.startswith("/dashboard") else url_for("dashboard.overview")
            )
        error = "Wrong e-mail or password, or not an administrator."
    return render_template("login.html", error=error), 401 if error else 200


@blueprint.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("dashboard.login"))


@blueprint.get("/")
@operator_required
def overview(operator: User):
    if operator.role != "super":
        return redirect(url_for("dashboard.operations_page"))
    return render_template(
        "overview.html",
        operator=operator,
        queues=queue_counts(broker.client, broker.namespace, all_queues()),
        workers=worker_processes(broker.client, broker.namespace, broker.heartbeat_timeout),
        minutes=minutes(broker.client),
    )


def all_queues() -> list[str]:
    return queue_names(broker.client, broker.namespace, broker.get_declared_queues())


def known_queue(queue: str) -> str:
    if queue not in all_queues():
        abort(404)
    return queue


@blueprint.get("/queues/<queue>")
@super_required
def queue_page(operator: User, queue: str):
    state = request.args.get("state", "ready")
    if state not in STATES:
        abort(404)
    page = min(max(1, request.args.get("page", 1, type=int)), MAX_PAGE)  # past the data: an empty page
    messages, total = browse(
        broker.client, broker.namespace, known_queue(queue), state, (page - 1) * PAGE_SIZE, PAGE_SIZE
    )
    [counts] = queue_counts(broker.client, broker.namespace, [queue])
    return render_template(
        "queue.html",
        operator=operator,
        queue=queue,
        state=state,
        messages=messages,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        counts=counts,
        minutes=minutes(broker.client, queue=queue),
    )


def back_to(queue: str, state: str):
    return redirect(url_for("dashboard.queue_page", queue=queue, state=state))


@blueprint.post("/queues/<queue>/dead/<action>")
@super_required
def dead_letters(operator: User, queue: str, action: str):
    """Requeue or delete the dead letters ticked (`id`, repeated) or all of them (`all=1`)."""
    actions = QueueActions(broker, known_queue(queue))
    everything = request.form.get("all") == "1"
    ids = request.form.getlist("id")
    if action == "requeue":
        count = actions.requeue_all_dead() if everything else actions.requeue_dead(ids)
        flash(f"Requeued {count} dead letter{'s' * (count != 1)}.")
    elif action == "delete":
        count = actions.delete_all_dead() if everything else actions.delete_dead(ids)
        flash(f"Deleted {count} dead letter{'s' * (count != 1)}.")
    else:
        abort(404)
    return back_to(queue, "dead")


@blueprint.post("/queues/<queue>/delayed/<action>")
@super_required
def delayed_message(operator: User, queue: str, action: str):
    """Run a delayed message (`id`) now, or delete it."""
    actions = QueueActions(broker, known_queue(queue))
    redis_id = request.form.get("id", "")
    if action == "run":
        done = actions.run_delayed_now(redis_id)
        flash("Queued to run now." if done else "That message is no longer delayed: it ran or was removed.")
    elif action == "delete":
        done = actions.delete_delayed(redis_id)
        flash("Deleted." if done else "That message is no longer delayed: it ran or was removed.")
    else:
        abort(404)
    return back_to(queue, "delayed")


@blueprint.get("/operations")
@operator_required
def operations_page(operator: User):
    is_super = operator.role == "super"
    company_id = None if is_super else operator.company_id
    client = redis_client()
    context = {
        "connections": operations.connection_health(client, company_id),
        "campaigns": operations.campaigns_in_progress(company_id),
        "webhooks": operations.webhook_health(company_id),
    }
    if is_super:
        context.update(
            health=health(),
            last_runs=last_runs(),
            jobs=[j.id for j in PERIODIC_JOBS],
            gateways=operations.gateways(client),
            redis_info=operations.redis_info(client),
        )
    return render_template("operations.html", operator=operator, is_super=is_super, **context)


@blueprint.post("/campaigns/<int:campaign_id>/<action>")
@operator_required
def campaign_action(operator: User, campaign_id: int, action: str):
    """Pause or resume, as `POST /api/campaigns/:id/pause|resume` do (the same functions, the audit log)."""
    query = Campaign.select().where(Campaign.id == campaign_id)
    if operator.role != "super":
        query = query.where(Campaign.company == operator.company_id)
    campaign = query.first()
    if campaign is None or action not in ("pause", "resume"):
        abort(404)
    changed = pause_campaign(campaign_id) if action == "pause" else resume_campaign(campaign_id)
    if changed:
        log_change("updated", Campaign.get_by_id(campaign_id), snapshot(campaign))
        flash(f"Campaign {campaign.name!r} {action}d.")
    else:
        flash(
            f"Campaign {campaign.name!r} could not be {action}d: it is {Campaign.get_by_id(campaign_id).status}."
        )
    return redirect(url_for("dashboard.operations_page"))
