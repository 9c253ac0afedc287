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

    def __init__(self, *command: str, quiet: bool = True) -> None:
        self.command = command
        self.quiet = quiet
        self.popen: subprocess.Popen | None = None

    def start(self) -> Program:
        output = subprocess.DEVNULL if self.quiet else None
        self.popen = subprocess.Popen(self.command, cwd=ROOT, env=os.environ.copy(), start_new_session=True,
                                      stdout=output, stderr=output)
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


def workers(processes: int = 2, threads: int = 8) -> Program:
    return Program(str(BIN / "dramatiq"), "workers", "--processes", str(processes), "--threads", str(threads))


def gateway() -> Program:
    return Program(str(BIN / "wharf"), "gateway")
