"""Group commit: the writes of concurrent requests, made in one transaction.

Under load an API process has several requests writing the same kind of rows at once, and each would
pay for its own transaction (BEGIN, its statements, COMMIT and its WAL flush: round trips and CPU) and its
own Redis round trips. `GroupCommit.run(item)` hands the item to whichever thread is writing at the time
(the leader), which writes what was handed in meanwhile in one transaction and sends it on in one go.
A thread that finds no leader becomes it, so a request alone is written at once, as it would be without
this: nothing waits for a batch to fill. A leader whose own item is written hands the lead to the next
waiting thread, so no request serves others for long.

A batch whose transaction fails is written again one item at a time: a bad item fails alone, and its
request gets its error. What runs after the commit (`after_commit`) is not retried, since the rows are
written: its error is every item's of the batch.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from db.base import database

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclasses.dataclass(eq=False)
class _Handed:
    """An item handed in, and what became of it; `woken` is set when it is done or its thread is to lead."""

    item: Any
    woken: threading.Event = dataclasses.field(default_factory=threading.Event)
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """`run(item)` = `write([item])` in a transaction, then `after_commit` of its result; concurrent calls
    share one transaction and one `after_commit` (at most `most` items each)."""

    def __init__(self, write: Callable[[Sequence[Item]], list[Result]],
                 after_commit: Callable[[Sequence[Result]], None], most: int = 64) -> None:
        self._write = write
        self._after_commit = after_commit
        self._most = most
        self._lock = threading.Lock()
        self._waiting: list[_Handed] = []
        self._leading = False

    def run(self, item: Item) -> Result:
        """Call outside a transaction: the item's rows are committed when this returns."""
        if database.in_transaction():
            raise RuntimeError("GroupCommit.run inside a transaction: its rows would commit with another's")
        handed = _Handed(item)
        with self._lock:
            self._waiting.append(handed)
            leads, self._leading = not self._leading, True
        if not leads:
            handed.woken.wait()
        if not handed.done:  # first, or handed the lead
            self._lead(handed)
        if handed.error is not None:
            raise handed.error
        return handed.result

    def _lead(self, own: _Handed) -> None:
        try:
            while not own.done:
                with self._lock:
                    batch = self._waiting[: self._most]
                    del self._waiting[: self._most]
                self._write_batch(batch)
        finally:
            with self._lock:
                if self._waiting:
                    self._waiting[0].woken.set()  # the next leader
                else:
                    self._leading = False

    def _write_batch(self, batch: list[_Handed]) -> None:
        interrupted = RuntimeError("the group commit was interrupted")  # each item's until it is written
        for handed in batch:
            handed.error = interrupted
        try:
            written = self._committed(batch)
            if written:
                try:
                    self._after_commit([handed.result for handed in written])
                except Exception as error:
                    for handed in written:
                        handed.error = error
        finally:  # even a BaseException leaves no thread waiting for ever
            for handed in batch:
                handed.done = True
                handed.woken.set()

    def _committed(self, batch: list[_Handed]) -> list[_Handed]:
        """Write the batch in one transaction, or each item alone if that fails; those written."""
        try:
            with database.atomic():
                results = self._write([handed.item for handed in batch])
        except Exception as error:
            if len(batch) == 1:
                batch[0].error = error
                return []
            written = []
            for handed in batch:
                written += self._committed([handed])
            return written
        for handed, result in zip(batch, results, strict=True):
            handed.result, handed.error = result, None
        return batch
