"""A real HTTP server on loopback serving files by path, as the web servers media URLs point to do."""

from __future__ import annotations

import collections
import contextlib
import http.server
import threading
from collections.abc import Iterator

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00"
slow_file_released = threading.Event()  # /slow.pdf answers once this is set
FILES = {  # path (before any query) -> what the file server answers
    "/invoice.pdf": ("application/pdf", PDF),
    "/slow.pdf": ("application/pdf", PDF),
    "/download.pdf": ("application/octet-stream", PDF),  # as many servers say
    "/photo.png": ("image/png", EXE),
    "/banner.png": ("image/png", PNG),
}
served: collections.Counter[str] = collections.Counter()  # requests per path


class Files(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the http.server API)
        served[self.path] += 1
        if self.path == "/slow.pdf":
            slow_file_released.wait(20)
        if self.path.partition("?")[0] not in FILES:
            self.send_error(404)
            return
        mimetype, data = FILES[self.path.partition("?")[0]]
        self.send_response(200)
        self.send_header("Content-Type", mimetype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving_files() -> Iterator[str]:
    """Serve `FILES` (/slow.pdf once `slow_file_released` is set), 404 for anything else; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    slow_file_released.clear()
    served.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        slow_file_released.set()
        server.shutdown()
