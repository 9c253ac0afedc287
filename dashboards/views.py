"""Dashboard pages: the same users as the API, a session cookie, a CSRF token on every form.

Only admins and super admins get in. The queue overview is installation-wide, so only the
super admin sees it; a company admin sees the operations pages of their own company.
"""

from __future__ import annotations

import secrets
from functools import wraps

from flask import Blueprint, abort, redirect, render_template, request, session, url_for

from api.security import rate_limit, verify_login
from dashboards.queues import queue_counts, worker_beats
from db.connections import Connection
from db.users import User
from wharf.redis_client import redis_client
from wharf.settings import settings
from workers.gateway import HEARTBEAT_PREFIX as GATEWAY_HEARTBEAT_PREFIX

blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder="templates")
ALLOWED_ROLES = ("super", "admin")


def current_operator() -> User | None:
    user_id = session.get("operator_id")
    if user_id is None:
        return None
    user = User.get_or_none(User.id == user_id, User.active == True)  # noqa: E712
    return user if user is not None and user.role in ALLOWED_ROLES else None


def operator_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        operator = current_operator()
        if operator is None:
            return redirect(url_for("dashboard.login", next=request.path))
        return view(operator, *args, **kwargs)

    return wrapper


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@blueprint.before_request
def check_csrf() -> None:
    expected = session.get("csrf")
    if request.method == "POST" and (not expected or not secrets.compare_digest(request.form.get("csrf", ""), expected)):
        abort(400, "the form has expired; reload the page")


@blueprint.app_context_processor
def template_helpers() -> dict:
    return {"csrf_token": csrf_token}


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        rate_limit(f"login:ip:{request.remote_addr}", settings.login_attempts_per_minute * 5, 60)
        user = User.get_or_none(User.email == request.form.get("email", "").strip().lower())
        if verify_login(user, request.form.get("password", "")) and user.active and user.role in ALLOWED_ROLES:
            session.clear()
            session["operator_id"] = user.id
            next_path = request.args.get("next", "")
            return redirect(next_path if next_path.startswith("/dashboard") else url_for("dashboard.overview"))
        error = "Wrong e-mail or password, or not an administrator."
    return render_template("login.html", error=error), 401 if error else 200


@blueprint.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("dashboard.login"))


@blueprint.get("/")
@operator_required
def overview(operator: User):
    client = redis_client()
    is_super = operator.role == "super"
    connections = Connection.select()
    if not is_super:
        connections = connections.where(Connection.company == operator.company_id)
    gateways = {
        key.decode().removeprefix(GATEWAY_HEARTBEAT_PREFIX): (client.get(key) or b"").decode()
        for key in client.scan_iter(match=GATEWAY_HEARTBEAT_PREFIX + "*")
    }
    return render_template(
        "overview.html",
        operator=operator,
        queues=queue_counts(client) if is_super else None,
        workers=worker_beats(client) if is_super else None,
        connections=list(connections.order_by(Connection.id)),
        gateways=gateways,
    )
