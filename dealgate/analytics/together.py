"""Independent figures computed at once, each on its own database connection.

A page of analytics is a dozen queries that do not depend on each other. Asked one after the other,
the database works on one at a time, and a query that it cannot spread over its parallel workers
(a large grouping, an ordered-set aggregate) leaves the other cores idle meanwhile. `together` runs
them side by side in threads: each thread has its own connection (Django's connections are per
thread), computes its figure (which lands in the figure cache, dealgate.analytics.cache, where the
page's ordinary sequential code then finds it) and closes its connection.

Only where another connection sees the same data: not inside a transaction (a test's, or a request
that wrote something first: other connections cannot see its uncommitted rows), and not on an
in-memory SQLite database (private to its connection). Elsewhere the calls run one after the other,
with the same results. DEALGATE_ANALYTICS_THREADS sets how many at once (1: never).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from django.conf import settings
from django.db import connection, connections


def can_run_together() -> bool:
    if settings.DEALGATE_ANALYTICS_THREADS < 2 or connection.in_atomic_block:
        return False
    if connection.vendor == "sqlite":
        return not connection.is_in_memory_db()
    return True


def together(*calls: Callable[[], Any]) -> list[Any]:
    """The calls' results, in order; computed at once where `can_run_together`, else in turn.
    An error in any call is raised here, as it would be by the call itself."""
    if len(calls) < 2 or not can_run_together():
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(len(calls), settings.DEALGATE_ANALYTICS_THREADS)) as pool:
        futures = [pool.submit(_on_own_connection, call) for call in calls]
        return [future.result() for future in futures]


def _on_own_connection(call: Callable[[], Any]) -> Any:
    try:
        return call()
    finally:
        connections.close_all()  # this thread's connections only
