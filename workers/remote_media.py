"""Media URLs of outgoing messages, downloaded off the gateway's send threads and kept a while.

A connection's sends go out from one thread, in batches (workers/gateway/send_consumer.py). A media
URL fetched on that thread held every send of the connection for as long as the URL took (up to
`fetch_remote`'s 30 s), and again at each retry. Downloads now run in a pool of their own: a batch
waits `BATCH_WAIT_SECONDS` at most for its files, and a message whose file is not in yet is retried
(`MediaUnavailable`, not permanent) while the download goes on, so the retry finds it. A download is
kept `KEEP_SECONDS` (a campaign's messages, over many batches, share one) within `KEEP_BYTES` in all;
a failed one `FAILED_KEEP_SECONDS`, so that a retry downloads again. A file that goes as a voice note is made one in
the pool too (wharf/voice_notes.py: up to a second of encoding), once for all the messages that send it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from wharf.media import MediaUnavailable, fetch_remote
from wharf.voice_notes import VOICE_SOURCE_TYPES, sendable_audio

BATCH_WAIT_SECONDS = 2.0
KEEP_SECONDS = 600
FAILED_KEEP_SECONDS = 5
KEEP_BYTES = 64 * 1024 * 1024
DOWNLOADERS = 4
RemoteFile = tuple[str, bool]  # a media URL, and whether its file goes as a voice note


def fetch_sendable(url: str, as_voice_note: bool) -> tuple[bytes, str, str]:
    """The file at `url` as it goes to WhatsApp (data, mimetype, filename): a recording WhatsApp does not take, or
    one asked to go as a voice note, made a voice note (`sendable_audio`)."""
    return sendable_audio(*fetch_remote(url, types=VOICE_SOURCE_TYPES), as_voice_note)


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
        self._downloads: OrderedDict[RemoteFile, Download] = OrderedDict()  # least recently used first
        self._kept_bytes = 0

    def prefetch(self, files: Iterable[RemoteFile], wait_seconds: float = BATCH_WAIT_SECONDS) -> None:
        """Start the downloads of `files` not under way or kept, then wait for them, `wait_seconds` at most."""
        futures = [self._download(file).future for file in set(files)]
        if futures:
            wait(futures, timeout=wait_seconds)

    def take(self, url: str, as_voice_note: bool = False) -> dict:
        """The file at `url` as a transport sends it ({mimetype, filename, data}); raises what its
        download met, or `MediaUnavailable` (not permanent) while it is still under way."""
        future = self._download((url, as_voice_note)).future
        if not future.done():
            raise MediaUnavailable(f"{url} is still downloading", permanent=False)
        data, mimetype, filename = future.result()  # or its error
        return {"mimetype": mimetype, "filename": filename, "data": data}

    def _download(self, file: RemoteFile) -> Download:
        now = time.monotonic()
        with self._lock:
            download = self._downloads.get(file)
            if download is None or download.expired(now):
                if download is not None:
                    self._drop(file)
                download = self._downloads[file] = Download(self._pool.submit(fetch_sendable, *file))
                download.future.add_done_callback(lambda _: self._finished(file, download))
            self._downloads.move_to_end(file)
            self._forget_least_used(now)
            return download

    def _finished(self, file: RemoteFile, download: Download) -> None:
        with self._lock:
            download.finished_at = time.monotonic()
            if download.future.exception() is None and self._downloads.get(file) is download:
                download.size = len(download.future.result()[0])
                self._kept_bytes += download.size

    def _drop(self, file: RemoteFile) -> None:
        self._kept_bytes -= self._downloads.pop(file).size

    def _forget_least_used(self, now: float) -> None:
        """From the least recently used: drop what expired, and what is over once too much is kept."""
        while self._downloads:
            file, download = next(iter(self._downloads.items()))
            too_much = self._kept_bytes > KEEP_BYTES and download.finished_at is not None
            if not (download.expired(now) or too_much):
                return
            self._drop(file)


remote_media = RemoteMedia()
