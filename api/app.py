"""The Flask app factories: granian serves the API (`create_app`, see supervisord.conf), `wharf realtime`
the same app with Socket.IO (`create_realtime_app`)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

from api.errors import register_error_handlers
from api.resources import BLUEPRINTS
from api.schemas import BIGINT_MAX
from api.security import init_jwt
from dashboards.views import blueprint as dashboard_blueprint
from db.base import connect_database, database
from wharf.logs import configure_logging, install_request_ids
from wharf.settings import settings


class RowIdConverter(IntegerConverter):
    """`<int:...>` in every route: a number past BIGINT names no row, so the route does not match (a 404)
    rather than sending the database a number it cannot compare with its ids."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", BIGINT_MAX)
        super().__init__(map, *args, **kwargs)


def create_app() -> Flask:
    configure_logging(settings.log_level, settings.log_json)
    if database.obj is None:
        connect_database(settings.database_url, settings.database_pool_size, settings.database_pool_wait_seconds)
    app = Flask(__name__)
    app.url_map.converters["int"] = RowIdConverter  # before any route is added: rules bind it when added
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SECRET_KEY=settings.jwt_secret,  # signs the dashboard's session cookie
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.json.sort_keys = False
    init_jwt(app)
    register_error_handlers(app)
    install_request_ids(app)

    @app.before_request
    def open_connection() -> None:
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def close_connection(_error: BaseException | None) -> None:
        if not database.is_closed():
            database.close()

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.register_blueprint(dashboard_blueprint)
    return app


def create_realtime_app() -> Flask:
    """The API app with the Socket.IO server at /socket.io; serve it from one process (see api/realtime.py)."""
    from api.realtime import attach_realtime

    app = create_app()
    attach_realtime(app)
    return app
