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
    """One URL's download: its future and, once it is over, when it ended and the bytes it keeps."""

    def __init__(self, future: Future) -> None:
        self.future = future
        self.finished_at: float | None = None
        self.size = 0

    def expired(self, now: float) -> bool:
        if self.finished_at is None:
            return False
        keep = FAILED_KEEP_SECONDS if self.future.exception() else KEEP_SECONDS
        return now - self.finished_at > keep


class RemoteMedia:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(DOWNLOADERS, thread_name_prefix="media-download")
        # Reentrant: a download over before its callback is added reports in the thread that started it.
        self._lock = threading.RLock()
        self._downloads: OrderedDict[str, Download] = OrderedDict()  # least recently used first
        self._kept_bytes = 0

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
        now = time.monotonic()
        with self._lock:
            download = self._downloads.get(url)
            if download is None or download.expired(now):
                if download is not None:
                    self._drop(url)
                download = self._downloads[url] = Download(self._pool.submit(fetch_remote, url))
                download.future.add_done_callback(lambda _: self._finished(url, download))
            self._downloads.move_to_end(url)
            self._forget_least_used(now)
            return download

    def _finished(self, url: str, download: Download) -> None:
        with self._lock:
            download.finished_at = time.monotonic()
            if download.future.exception() is None and self._downloads.get(url) is download:
                download.size = len(download.future.result()[0])
                self._kept_bytes += download.size

    def _drop(self, url: str) -> None:
        self._kept_bytes -= self._downloads.pop(url).size

    def _forget_least_used(self, now: float) -> None:
        """From the least recently used: drop what expired, and what is over once too much is kept."""
        while self._downloads:
            url, download = next(iter(self._downloads.items()))
            too_much = self._kept_bytes > KEEP_BYTES and download.finished_at is not None
            if not (download.expired(now) or too_much):
                return
            self._drop(url)


remote_media = RemoteMedia()
