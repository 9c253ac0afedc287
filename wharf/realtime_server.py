"""`wharf realtime`: the Socket.IO server under gunicorn, one worker with threads.

One worker, because Engine.IO keeps each client's session in the process that opened it and
long-polling sends a client's requests one after another: with several workers they would land
on processes that do not know the session. Threads, because Flask-SocketIO's threading mode
holds one thread per open WebSocket (simple-websocket takes over gunicorn's socket), so
`threads` bounds the clients one process serves at once. Scale out with more processes behind a
load balancer with sticky sessions; they share events through Redis.
"""

from __future__ import annotations

from gunicorn.app.base import BaseApplication


class RealtimeServer(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from api.app import create_realtime_app

        return create_realtime_app()


def run_realtime(port: int, threads: int) -> None:
    RealtimeServer({
        "bind": f"0.0.0.0:{port}",
        "workers": 1,
        "worker_class": "gthread",
        "threads": threads,
        "worker_connections": threads * 4,
        "control_socket_disable": True,  # several realtime processes on a machine would share its default path
        "graceful_timeout": 5,  # open WebSockets never finish on their own: do not wait long at a stop
    }).run()
