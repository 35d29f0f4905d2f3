"""What the deal services (and the signal scan) call after a write: queue the rule engine.

A rolled-back write queues nothing: a deal event's job row is inserted in the write's own
transaction when the queue is the database (the default), otherwise after the commit
(`transaction.on_commit`, `robust=True`: a queue that cannot be reached is logged, the user's write
stands). Signal scans queue theirs after the commit.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction

logger = logging.getLogger(__name__)


@dataclass
class ImportEvents:
    """What the deal events written during an import became (docs/decisions/016)."""

    run_rules: bool
    queued: int = 0  # events queued for the worker (run_rules)
    held: int = 0  # events no rule will see (the default)


_import: ContextVar[ImportEvents | None] = ContextVar("dealgate_import_events", default=None)


@contextmanager
def import_events(*, run_rules: bool) -> Iterator[ImportEvents]:
    """Inside, deal events (created, moved, assigned) queue the rules only when `run_rules`: an import
    is history from another system, not news. Counted either way, for the import's report."""
    gate = ImportEvents(run_rules=run_rules)
    token = _import.set(gate)
    try:
        yield gate
    finally:
        _import.reset(token)


def queue_is_in_the_database() -> bool:
    """The database task backend keeps its queue in Dealgate's database: a job row inserted in the
    writer's transaction commits or rolls back with it."""
    backend = settings.TASKS["default"]
    return backend["BACKEND"] == "django_tasks_db.DatabaseBackend" and backend.get("OPTIONS", {}).get(
        "database", DEFAULT_DB_ALIAS) == DEFAULT_DB_ALIAS


def deal_event(event: str, deal_id: int, occurrence: str) -> None:
    """`event` is created, moved or assigned; `occurrence` names it uniquely (e.g. history:42).

    With the database queue the job row is inserted now, inside the write's transaction: one commit
    for the write and its job, and a rolled-back write leaves no job. Any other queue (the immediate
    backend runs the job as it is queued) waits for the commit."""
    gate = _import.get()
    if gate is not None:
        if not gate.run_rules:
            gate.held += 1
            return
        gate.queued += 1

    def enqueue() -> None:
        from dealgate.automation.jobs import run_rules

        run_rules.enqueue(event, deal_id, occurrence)

    if queue_is_in_the_database():
        enqueue()
    else:
        transaction.on_commit(enqueue, robust=True)


SIGNALS_PER_JOB = 500


def signals_raised(signal_ids: list[int]) -> None:
    """Signals a scan raised: once it commits, queue the "signal raised" rules, a job per 500 signals."""
    if not signal_ids:
        return

    def enqueue() -> None:
        from dealgate.automation.jobs import run_signal_rules

        for start in range(0, len(signal_ids), SIGNALS_PER_JOB):
            run_signal_rules.enqueue(signal_ids[start:start + SIGNALS_PER_JOB])

    transaction.on_commit(enqueue, robust=True)
