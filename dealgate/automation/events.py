"""What the deal services (and the signal scan) call after a write: queue the rule engine once the
transaction commits.

A rolled-back write queues nothing (`transaction.on_commit`); queueing is one insert into the
task table. `robust=True`: a queue that cannot be reached is logged, the user's write stands.
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def deal_event(event: str, deal_id: int, occurrence: str) -> None:
    """`event` is created, moved or assigned; `occurrence` names it uniquely (e.g. history:42)."""

    def enqueue() -> None:
        from dealgate.automation.jobs import run_rules

        run_rules.enqueue(event, deal_id, occurrence)

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
