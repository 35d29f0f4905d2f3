"""Two people acting on the same deal at the same moment, on real concurrent PostgreSQL connections.

Each thread opens its own connection; a barrier releases them together so both reach the row lock
while the other holds it. SQLite serialises writers for the whole file, so these run on PostgreSQL.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from dealgate.deals.models import Deal, FieldChange, StageHistory
from dealgate.deals.services import move_deal, update_deal
from dealgate.errors import Conflict

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def run_together(*calls):
    """Run each call in its own thread and connection, all released at once; return result or exception."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck on a lock"
    return outcomes


def test_two_simultaneous_moves_to_the_same_stage_give_one_move_and_one_conflict(make_deal, gates, world):
    deal = make_deal(amount="5000")
    gates.qualify_exit(deal)
    gates.propose_entry(deal)
    version = Deal.objects.get(pk=deal.pk).version
    history = StageHistory.objects.filter(deal=deal).count()

    outcomes = run_together(
        lambda: move_deal(Deal.objects.get(pk=deal.pk), "propose", by=world.alice),
        lambda: move_deal(Deal.objects.get(pk=deal.pk), "propose", by=world.bob),
    )

    moved = [o for o in outcomes if isinstance(o, StageHistory)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(moved), len(refused)) == (1, 1), outcomes
    assert refused[0].details["current_stage"] == "propose"
    fresh = Deal.objects.get(pk=deal.pk)
    assert (fresh.stage.key, fresh.version) == ("propose", version + 1)
    assert StageHistory.objects.filter(deal=deal).count() == history + 1
    assert StageHistory.objects.filter(deal=deal, to_stage__key="propose").count() == 1


def test_two_simultaneous_amount_changes_lose_no_update(make_deal, world):
    deal = make_deal(amount="100")
    version = Deal.objects.get(pk=deal.pk).version

    outcomes = run_together(
        lambda: update_deal(Deal.objects.get(pk=deal.pk), by=world.alice, amount="200"),
        lambda: update_deal(Deal.objects.get(pk=deal.pk), by=world.bob, amount="300"),
    )

    assert all(isinstance(o, Deal) for o in outcomes), outcomes
    fresh = Deal.objects.get(pk=deal.pk)
    assert fresh.version == version + 2
    changes = list(FieldChange.objects.filter(deal=deal, field="amount").order_by("id").values_list(
        "old_value", "new_value"))
    assert len(changes) == 2
    # The second writer saw the first one's value: the changes chain with no gap.
    assert changes[0][0] == "100.00" and changes[1][0] == changes[0][1]
    assert fresh.amount == Decimal(changes[1][1])


def test_a_move_and_an_amount_change_at_once_both_land(make_deal, world):
    deal = make_deal(amount="100")
    version = Deal.objects.get(pk=deal.pk).version

    outcomes = run_together(
        lambda: move_deal(Deal.objects.get(pk=deal.pk), "lost", by=world.alice, lost_reason="price"),
        lambda: update_deal(Deal.objects.get(pk=deal.pk), by=world.bob, amount="900"),
    )

    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    fresh = Deal.objects.get(pk=deal.pk)
    assert (fresh.stage.key, fresh.amount, fresh.version) == ("lost", Decimal("900.00"), version + 2)
