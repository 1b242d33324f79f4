"""Generic thread primitives of the export: a prefetching producer thread, an in-order worker.

Without a seed and at float32 the rows stream from SQLite into Lance: a reader thread
(:class:`Prefetch`) fills record batches, Lance writes them in another, a third
(:class:`InOrder`) computes the content hash, and the caller's thread reports progress (and
sees Ctrl-C at once, see :func:`wait_get`). Nothing here knows about SQLite or Lance: an item
is anything with a ``num_rows``.

The rule that keeps Ctrl-C safe: the producer thread alone uses the database connection
until :meth:`Prefetch.close` returns, and after that it never will, even when Ctrl-C came
while the thread was being started.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

PREFETCH = 3  # record batches made ahead of Lance by the reader thread


class InOrder:
    """Runs ``work(item)`` for each submitted item in one background thread, in submission
    order, at most ``PREFETCH`` items behind; :meth:`finish` waits and raises its error.

    SHA-256 (hashlib) releases the GIL, so the content hash is computed while the reader
    thread reads SQLite and Lance writes: three streams of work on as many cores.
    """

    def __init__(self, work: Callable[[Any], None]):
        self.work = work
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="galaxlite-export")
        self.slots = threading.BoundedSemaphore(PREFETCH)
        self.futures: list[concurrent.futures.Future] = []

    def _run(self, item: Any) -> None:
        try:
            self.work(item)
        finally:
            self.slots.release()

    def submit(self, item: Any) -> None:
        self.slots.acquire()
        self.futures.append(self.pool.submit(self._run, item))

    def finish(self) -> None:
        self.pool.shutdown(wait=True)
        for future in self.futures:
            future.result()

    def close(self) -> None:
        """Stop without waiting for the rest (after an error elsewhere)."""
        self.pool.shutdown(wait=True, cancel_futures=True)


def wait_get(source: queue.Queue) -> Any:
    """``source.get()``, waking up now and then so that Ctrl-C is seen at once."""
    while True:
        with contextlib.suppress(queue.Empty):
            return source.get(timeout=0.1)


class Cancelled(Exception):
    """The export was given up (an error or Ctrl-C in the caller's thread): stop Lance."""


class Prefetch:
    """Runs a batch generator in a thread, ``PREFETCH`` batches ahead of the consumer.

    SQLite (apsw) and the vector encoders release the GIL, so reading and building the next
    batches overlaps Lance writing the previous ones. The thread alone uses the database
    connection until :meth:`close` returns.
    """

    END = object()

    def __init__(self, make: Callable[[], Iterator[Any]]):
        self.queue: queue.Queue = queue.Queue(PREFETCH)
        self.stop = threading.Event()
        self.finished = threading.Event()
        # The thread claims the connection under this lock unless stop is already set: then
        # close() knows whether it must wait. (Ctrl-C during thread.start() leaves a thread
        # that is_alive() does not report yet, and that would still go on to use the
        # connection after close() returned.)
        self.claim = threading.Lock()
        self.claimed = False
        self.failure: BaseException | None = None
        self.rows = 0
        self.thread = threading.Thread(target=self._run, args=(make,), name="galaxlite-reader", daemon=True)
        try:
            self.thread.start()
        except BaseException:  # Ctrl-C while start() waits for the thread: the caller has no
            self.close()       # reader to close, so stop the thread here, off the connection
            raise

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, make: Callable[[], Iterator[Any]]) -> None:
        with self.claim:
            self.claimed = not self.stop.is_set()
        if not self.claimed:
            return
        source = None
        try:
            source = make()
            for item in source:
                if not self._put(item):
                    break
        except BaseException as exc:  # handed to the consumer, raised there
            self.failure = exc
        finally:
            if source is not None and hasattr(source, "close"):
                with contextlib.suppress(Exception):
                    source.close()  # finalize its cursor here, in the thread that used it
            self._put(self.END)
            self.finished.set()

    def consume(self, handed: Callable[[Any], None]) -> Iterator[Any]:
        """The items, in order (``handed(item)`` first), then the thread's error if any;
        :class:`Cancelled` once :meth:`close` was called."""
        while True:
            if self.stop.is_set():
                raise Cancelled
            with contextlib.suppress(queue.Empty):
                item = self.queue.get(timeout=0.05)
                if item is self.END:
                    break
                self.rows += item.num_rows
                handed(item)
                yield item
        if self.failure is not None:
            raise self.failure

    def close(self) -> None:
        """Stop the thread; on return, it no longer uses (or will ever use) the connection."""
        self.stop.set()
        with self.claim:
            claimed = self.claimed
        while claimed and not self.finished.is_set():
            with contextlib.suppress(queue.Empty):
                self.queue.get(timeout=0.05)
