"""Media URLs of outgoing messages, downloaded off the gateway's send threads and kept a while.

A connection's sends go out from one thread, in batches (workers/gateway/send_consumer.py). A media
URL fetched on that thread held every send of the connection for as long as the URL took (up to
`fetch_remote`'s 30 s), and again at each retry. Downloads now run in a pool of their own: a batch
waits `BATCH_WAIT_SECONDS` at most for its files, and a message whose file is not in yet is retried
(`MediaUnavailable`, not permanent) while the download goes on, so the retry finds it. A download is
kept `KEEP_SECONDS` (a campaign's messages, over many batches, share one) within `KEEP_BYTES` in all;
a failed one `FAILED_KEEP_SECONDS`, so that a retry downloads again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from wharf.media import MediaUnavailable, fetch_remote

BATCH_WAIT_SECONDS = 2.0
KEEP_SECONDS = 600
FAILED_KEEP_SECONDS = 5
KEEP_BYTES = 64 * 1024 * 1024
DOWNLOADERS = 4


class Download:
    def __init__(self, future: Future) -> None:
        self.future = future
        self.finished_at: float | None = None
        future.add_done_callback(lambda _: setattr(self, "finished_at", time.monotonic()))

    @property
    def size(self) -> int:
        return len(self.future.result()[0]) if self.finished_at is not None and not self.future.exception() else 0

    def expired(self, now: float) -> bool:
        if self.finished_at is None:
            return False
        keep = FAILED_KEEP_SECONDS if self.future.exception() else KEEP_SECONDS
        return now - self.finished_at > keep


class RemoteMedia:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(DOWNLOADERS, thread_name_prefix="media-download")
        self._lock = threading.Lock()
        self._downloads: OrderedDict[str, Download] = OrderedDict()  # least recently used first

    def prefetch(self, urls: Iterable[str], wait_seconds: float = BATCH_WAIT_SECONDS) -> None:
        """Start the downloads of `urls` not under way or kept, then wait for them, `wait_seconds` at most."""
        futures = [self._download(url).future for url in set(urls)]
        if futures:
            wait(futures, timeout=wait_seconds)

    def take(self, url: str) -> dict:
        """The file at `url` as a transport sends it ({mimetype, filename, data}); raises what its
        download met, or `MediaUnavailable` (not permanent) while it is still under way."""
        future = self._download(url).future
        if not future.done():
            raise MediaUnavailable(f"{url} is still downloading", permanent=False)
        data, mimetype, filename = future.result()  # or its error
        return {"mimetype": mimetype, "filename": filename, "data": data}

    def _download(self, url: str) -> Download:
        with self._lock:
            self._forget_old()
            download = self._downloads.get(url)
            if download is None:
                download = self._downloads[url] = Download(self._pool.submit(fetch_remote, url))
            self._downloads.move_to_end(url)
            return download

    def _forget_old(self) -> None:
        now = time.monotonic()
        for url in [url for url, download in self._downloads.items() if download.expired(now)]:
            del self._downloads[url]
        kept = sum(download.size for download in self._downloads.values())
        for url in list(self._downloads):
            if kept <= KEEP_BYTES:
                break
            if self._downloads[url].finished_at is not None:
                kept -= self._downloads.pop(url).size


remote_media = RemoteMedia()
