"""Fixtures for automation: rules made through the rule service, and the real worker in batch mode."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from dealgate.automation import services


@pytest.fixture
def run_worker():
    """run_worker() -> runs `dealgate worker --batch` in this process until the queue is empty."""

    def run(**options) -> None:
        call_command("worker", batch=True, interval=0, **options)

    return run


def workers_at_once(count: int = 2, **options) -> list[Exception]:
    """Run `count` `dealgate worker --batch` side by side in threads; return what they raised."""
    import threading

    from django.db import connection

    errors: list[Exception] = []

    def worker(name):
        try:
            call_command("worker", batch=True, interval=0, worker_id=name, **options)
        except Exception as exc:  # returned to the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


@pytest.fixture
def make_rule(pipeline):
    """make_rule(trigger=..., actions=[...], ...) -> an enabled rule on the test pipeline, via the service."""

    def make(**fields):
        fields.setdefault("name", "A rule")
        fields.setdefault("pipeline", pipeline)
        return services.create_rule(by=None, **fields)

    return make


def follow_up(days: int = 3, **extra) -> dict:
    return {"type": "create_task", "title": "Follow up on the proposal for {deal}", "due_in_days": days, **extra}
