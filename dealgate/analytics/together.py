"""Independent figures computed at once, each on its own database connection.

A page of analytics is a dozen queries that do not depend on each other. Asked one after the other,
the database works on one at a time, and a query that it cannot spread over its parallel workers
(a large grouping, an ordered-set aggregate) leaves the other cores idle meanwhile. `together` runs
them side by side in threads: each thread has its own connection (Django's connections are per
thread), computes its figure (which lands in the figure cache, dealgate.analytics.cache, where the
page's ordinary sequential code then finds it) and closes its connection.

A process never has more than DEALGATE_ANALYTICS_THREADS such threads (so never more than that many
extra connections), however many requests or nested `together` calls there are. The caller works
through the calls too, with whatever threads were free, so nobody ever waits for a thread. 1 turns
it off.

Only where another connection sees the same data: not inside a transaction (a test's, or a request
that wrote something first: other connections cannot see its uncommitted rows), and not on an
in-memory SQLite database (private to its connection). Elsewhere the calls run one after the other,
with the same results.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.db import DatabaseError, connection, connections

_threads: dict[int, threading.BoundedSemaphore] = {}  # limit -> the free threads under that limit
_threads_lock = threading.Lock()


def can_run_together() -> bool:
    if settings.DEALGATE_ANALYTICS_THREADS < 2 or connection.in_atomic_block:
        return False
    if isinstance(caches["default"], DummyCache):  # nowhere to leave a figure for the page
        return False
    if connection.vendor == "sqlite":
        return not connection.is_in_memory_db()
    return True


def together(*calls: Callable[[], Any]) -> list[Any]:
    """The calls' results, in order; computed at once where `can_run_together`, else in turn.
    An error in any call is raised here, as it would be by the call itself."""
    if len(calls) < 2 or not can_run_together():
        return [call() for call in calls]
    free = _free_threads()
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)
    pending = iter(range(len(calls)))  # shared: each thread, and the caller, takes the next call
    take = threading.Lock()

    def work() -> None:
        while True:
            with take:
                index = next(pending, None)
            if index is None:
                return
            try:
                results[index] = calls[index]()
            except BaseException as exc:  # noqa: BLE001 - raised by the caller, after all are done
                errors[index] = exc

    helpers = []
    while len(helpers) < len(calls) - 1 and free.acquire(blocking=False):
        helpers.append(threading.Thread(target=_on_own_connection, args=(work, free), name="dealgate-figure",
                                        daemon=True))
        helpers[-1].start()
    work()  # the caller works too, on its own connection
    for thread in helpers:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results


def _free_threads() -> threading.BoundedSemaphore:
    limit = settings.DEALGATE_ANALYTICS_THREADS
    with _threads_lock:
        if limit not in _threads:
            _threads[limit] = threading.BoundedSemaphore(limit)
        return _threads[limit]


def _on_own_connection(work: Callable[[], None], free: threading.BoundedSemaphore) -> None:
    """Help only once this thread has a connection: when the database has none to spare ("too many
    clients"), the caller computes the figures in turn on its own connection instead."""
    try:
        try:
            connection.ensure_connection()
        except DatabaseError:
            return
        work()
    finally:
        connections.close_all()  # this thread's connections only
        free.release()
