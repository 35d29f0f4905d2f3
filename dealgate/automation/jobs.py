"""Background jobs (django-tasks), run by `dealgate worker`.

Named `jobs` rather than `tasks` so they are not confused with the Task model (a person's to-do).
"""

from __future__ import annotations

from django_tasks import task

from dealgate.automation.engine import handle_event, handle_signals
from dealgate.automation.webhooks import attempt_delivery


@task()
def run_rules(event: str, deal_id: int, occurrence: str) -> int:
    """Run the rules an event on a deal triggers; returns how many rules ran now."""
    return len(handle_event(event, deal_id, occurrence))


@task()
def run_signal_rules(signal_ids: list[int]) -> int:
    """Run the "signal raised" rules on signals a scan raised (each rule once per signal); how many ran now."""
    return len(handle_signals(signal_ids))


@task()
def deliver_webhook(delivery_id: int) -> str:
    """One attempt of a webhook delivery (claimed, so two workers never send it twice); its new status."""
    return attempt_delivery(delivery_id)
