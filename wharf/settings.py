"""Every setting Wharf reads from the environment, read once, with safe defaults.

Typed parsers reject bad values at start-up instead of failing later in a request or a job.
Secrets that are not given are generated once and kept under the var directory, so a
fresh installation is safe without a default secret in the code.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """An environment variable holds a value Wharf cannot use."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip() or default


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def env_list(name: str, default: str = "") -> tuple[str, ...]:
    """A comma-separated list, its items stripped, empty ones dropped."""
    return tuple(item.strip() for item in env_str(name, default).split(",") if item.strip())


def env_origins(name: str) -> tuple[str, ...] | str:
    """"*" (any origin: clients authenticate with a token, not a cookie) or a comma-separated list."""
    return "*" if env_str(name, "*") == "*" else env_list(name)


def env_networks(name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """A comma-separated list of CIDR networks ("10.0.0.0/8, fd00::/8"); empty when unset."""
    items = env_list(name)
    try:
        return tuple(ipaddress.ip_network(item) for item in items)
    except ValueError as error:
        raise SettingsError(f"{name} must list CIDR networks like 10.0.0.0/8: {error}") from None


def env_secret(name: str, var_dir: Path) -> str:
    """The secret from NAME, or NAME_FILE, or else one generated once and kept in var_dir."""
    value = env_str(name)
    if value:
        return value
    file_name = env_str(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    kept = var_dir / "secrets" / name.lower()
    if not kept.exists():
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.touch(mode=0o600)
        kept.write_text(secrets.token_urlsafe(48))
    return kept.read_text().strip()


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    database_url: str
    database_pool_size: int
    database_pool_wait_seconds: int
    redis_url: str
    api_port: int
    realtime_port: int
    realtime_threads: int
    realtime_cors_origins: tuple[str, ...] | str
    max_body_bytes: int
    jwt_secret: str
    encryption_secret: str
    encryption_secret_previous: tuple[str, ...]
    jwt_access_minutes: int
    jwt_refresh_days: int
    smtp_host: str
    smtp_port: int
    smtp_user: str
    smtp_password: str
    smtp_from: str
    smtp_starttls: bool
    log_level: str
    log_json: bool
    default_transport: str
    login_attempts_per_minute: int
    api_key_rate_limit_per_minute: int
    job_retention_days: int
    public_url: str
    ticket_link: str
    http_allow_private_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    metrics_token: str
    scheduler_lease_seconds: int
    gateway_lease_seconds: int
    lost_job_seconds: int
    stranded_delay_seconds: int
    worker_heartbeat_seconds: int


def load_settings() -> Settings:
    var_dir = Path(env_str("WHARF_VAR_DIR", "var")).resolve()
    redis_port = env_int("WHARF_REDIS_PORT", 6380, minimum=1)
    return Settings(
        var_dir=var_dir,
        database_url=env_str("DATABASE_URL", f"sqlite:///{var_dir / 'wharf.db'}"),
        database_pool_size=env_int("DATABASE_POOL_SIZE", 10, minimum=1),
        database_pool_wait_seconds=env_int("DATABASE_POOL_WAIT_SECONDS", 30, minimum=1),
        redis_url=env_str("REDIS_URL", f"redis://127.0.0.1:{redis_port}/0"),
        api_port=env_int("API_PORT", 8080, minimum=1),
        realtime_port=env_int("REALTIME_PORT", 8081, minimum=1),
        realtime_threads=env_int("REALTIME_THREADS", 200, minimum=4),
        realtime_cors_origins=env_origins("REALTIME_CORS_ORIGINS"),
        max_body_bytes=env_int("MAX_BODY_BYTES", 16 * 1024 * 1024, minimum=1024),
        jwt_secret=env_secret("JWT_SECRET", var_dir),
        encryption_secret=env_secret("ENCRYPTION_SECRET", var_dir),
        encryption_secret_previous=env_list("ENCRYPTION_SECRET_PREVIOUS"),  # newest first, during a rotation
        jwt_access_minutes=env_int("JWT_ACCESS_MINUTES", 15, minimum=1),
        jwt_refresh_days=env_int("JWT_REFRESH_DAYS", 7, minimum=1),
        smtp_host=env_str("SMTP_HOST"),  # empty: e-mail is off
        smtp_port=env_int("SMTP_PORT", 25, minimum=1),
        smtp_user=env_str("SMTP_USER"),
        smtp_password=env_str("SMTP_PASSWORD"),
        smtp_from=env_str("SMTP_FROM", "Wharf <no-reply@localhost>"),
        smtp_starttls=env_bool("SMTP_STARTTLS", False),
        log_level=env_str("LOG_LEVEL", "INFO").upper(),
        log_json=env_bool("LOG_JSON", True),
        default_transport=env_str("WHARF_DEFAULT_TRANSPORT", "simulator"),
        login_attempts_per_minute=env_int("LOGIN_ATTEMPTS_PER_MINUTE", 10, minimum=1),
        api_key_rate_limit_per_minute=env_int("API_KEY_RATE_LIMIT_PER_MINUTE", 600, minimum=1),
        job_retention_days=env_int("JOB_RETENTION_DAYS", 30, minimum=1),
        public_url=env_str("PUBLIC_URL", "http://localhost:8080"),
        ticket_link=env_str("TICKET_LINK"),  # the agents' client's page of a ticket, with {ticketId}; empty: none
        http_allow_private_networks=env_networks("HTTP_ALLOW_PRIVATE_NETWORKS"),
        metrics_token=env_str("METRICS_TOKEN"),
        # A standby scheduler takes the lead within this long of the leader dying.
        scheduler_lease_seconds=env_int("SCHEDULER_LEASE_SECONDS", 15, minimum=3),
        # A dead gateway's connections are taken over within this long (plus one 2 s reconcile).
        gateway_lease_seconds=env_int("GATEWAY_LEASE_SECONDS", 20, minimum=6),
        lost_job_seconds=env_int("LOST_JOB_SECONDS", 120, minimum=10),
        # A delayed message a live worker dropped (a Redis restart) is put back this long after its time.
        stranded_delay_seconds=env_int("STRANDED_DELAY_SECONDS", 30, minimum=3),
        # A killed worker's (or gateway's) unacknowledged messages go back to their queue once it has
        # been silent this long. Its consumers poll Redis every second, so a live one never is.
        worker_heartbeat_seconds=env_int("WORKER_HEARTBEAT_SECONDS", 15, minimum=3),
    )


settings = load_settings()
