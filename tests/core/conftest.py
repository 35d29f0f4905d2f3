"""Helpers for the core tests: satisfy the test pipeline's gates one criterion at a time.

Everything goes through the services, as a rep or manager would, so a test that reaches a stage
has also exercised every gate on the way. `postgres_only` tests are skipped (not failed) on SQLite,
which cannot hold two concurrent writers.
"""

from __future__ import annotations

import pytest
from django.db import connection

from dealgate.deals import services
from dealgate.deals.models import Deal, StageHistory


def pytest_collection_modifyitems(config, items):
    needs_postgres = pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs real concurrent connections: run with DATABASE_URL=postgres://...",
    )
    for item in items:
        if item.get_closest_marker("postgres_only"):
            item.add_marker(needs_postgres)


class Gates:
    """Makes each criterion of the test pipeline (see tests/conftest.py) hold for a deal."""

    def __init__(self, world):
        self.world = world

    def qualify_exit(self, deal: Deal) -> None:
        if not deal.amount:
            services.update_deal(deal, by=deal.owner, amount="5000")
        services.record_checklist_answer(deal, "budget", by=deal.owner, evidence="CFO confirmed 50k budget")

    def propose_entry(self, deal: Deal) -> None:
        buyer = services.create_contact(by=deal.owner, name="Dana Buyer", account=deal.account)
        services.link_contact(deal, buyer, "decision_maker", by=deal.owner)

    def propose_exit(self, deal: Deal) -> None:
        services.log_activity(by=deal.owner, kind="meeting", subject="Proposal walk-through", deal=deal,
                              outcome="held")

    def won_entry(self, deal: Deal) -> None:
        services.approve_condition(deal, "pricing_approved", by=self.world.bob)

    def reach(self, deal: Deal, stage_key: str) -> Deal:
        """Walk the deal forward through real gates until it stands in `stage_key`."""
        path = {"propose": ["propose"], "negotiate": ["propose", "negotiate"],
                "won": ["propose", "negotiate", "won"]}[stage_key]
        for step in path:
            if step == "propose":
                self.qualify_exit(deal)
                self.propose_entry(deal)
            elif step == "negotiate":
                self.propose_exit(deal)
            else:
                self.won_entry(deal)
            services.move_deal(deal, step, by=deal.owner)
        deal.refresh_from_db()
        assert deal.stage.key == stage_key
        return deal


@pytest.fixture
def gates(world):
    return Gates(world)


def _snapshot(deal: Deal) -> dict:
    """What a refused write must leave untouched."""
    fresh = Deal.objects.get(pk=deal.pk)
    return {
        "stage": fresh.stage_id, "stage_entered_at": fresh.stage_entered_at, "version": fresh.version,
        "closed_at": fresh.closed_at, "lost_reason": fresh.lost_reason_id, "amount": fresh.amount,
        "expected_close_date": fresh.expected_close_date, "history": StageHistory.objects.filter(deal=deal).count(),
    }


@pytest.fixture
def snapshot():
    """snapshot(deal) -> the deal's stage, dates, version, amount and history count, read fresh."""
    return _snapshot
