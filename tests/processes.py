"""The platform's programs as real processes, for tests and benchmarks that kill and restart them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


class Program:
    """One program as supervisord would run it, in its own process group (kill -9 takes its children)."""

    def __init__(self, *command: str, quiet: bool = True, log_path: Path | None = None) -> None:
        self.command = command
        self.quiet = quiet
        self.log_path = log_path  # where its output goes, to read it back (else nowhere, or the terminal)
        self.popen: subprocess.Popen | None = None

    def start(self) -> Program:
        output = self.log_path.open("ab") if self.log_path else (subprocess.DEVNULL if self.quiet else None)
        self.popen = subprocess.Popen(self.command, cwd=ROOT, env=os.environ.copy(), start_new_session=True,
                                      stdout=output, stderr=output)
        if self.log_path:
            output.close()  # the program has its own
        return self

    def kill_hard(self) -> None:
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill_hard()


def workers(processes: int = 2, threads: int = 8, log_path: Path | None = None) -> Program:
    command = (str(BIN / "dramatiq"), "workers", "--processes", str(processes), "--threads", str(threads))
    return Program(*command, log_path=log_path)


def gateway() -> Program:
    return Program(str(BIN / "wharf"), "gateway")


def scheduler() -> Program:
    return Program(str(BIN / "wharf"), "scheduler")


def redis_server(port: int, data_dir: Path) -> Program:
    """A Redis of the test's own that keeps every acknowledged write (AOF, fsync always) across a kill -9."""
    from wharf.redis_server import locate_redis_server

    return Program(locate_redis_server(), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir),
                   "--appendonly", "yes", "--appendfsync", "always", "--save", "")
