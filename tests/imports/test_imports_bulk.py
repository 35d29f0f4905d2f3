"""The bulk writer shared by imports and the demo generator: what it writes reads back through the
ORM exactly as written, ids come back in row order, and chunked lookups find every row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from dealgate.deals import services as deal_services
from dealgate.deals.bulk import CHUNK, BulkWriter, matching
from dealgate.deals.models import Account, Deal


def test_ids_come_back_in_row_order(world):
    names = [f"Account {n:04d}" for n in range(CHUNK + 250)]  # more than one statement on SQLite
    ids = BulkWriter(Account, ["name", "segment", "owner", "external_id", "created_at"]).insert_returning(
        [(name, "", world.alice.pk, f"ext-{name}", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
         for name in names])
    assert len(set(ids)) == len(names)
    assert dict(Account.objects.values_list("id", "name")) == dict(zip(ids, names))


def test_values_read_back_as_the_orm_wrote_them(world, make_deal):
    template = make_deal(owner=world.alice, amount="10")
    created = dt.datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Berlin"))  # not UTC, just after a DST change
    values = {"title": "Bulk", "account": template.account_id, "owner": world.alice.pk, "team": None,
              "pipeline": template.pipeline_id, "stage": template.stage_id, "external_id": "bulk-1",
              "created_at": created, "stage_entered_at": created, "closed_at": None, "lost_reason": None,
              "lost_note": "", "amount": Decimal("1234.50"), "currency": "EUR",
              "expected_close_date": dt.date(2026, 12, 31), "probability_override": None,
              "forecast_category": "commit", "source": "inbound", "next_step": "", "next_step_due": None,
              "custom_fields": {"seats": 12, "region": "DACH"}, "close_date_slips": 0, "version": 1}
    columns, row = list(values), tuple(values.values())
    written = BulkWriter(Deal, columns).insert([row])
    deal = Deal.objects.get(external_id="bulk-1")
    assert written == 1
    assert deal.amount == Decimal("1234.50") and deal.expected_close_date == dt.date(2026, 12, 31)
    assert deal.created_at == created and deal.custom_fields == {"seats": 12, "region": "DACH"}
    assert deal.team_id is None


def test_matching_finds_every_row_across_chunks(world):
    wanted = [f"m-{n}" for n in range(CHUNK + 10)]
    BulkWriter(Account, ["name", "external_id", "created_at", "segment"]).insert(
        [(f"A{n}", f"m-{n}", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "") for n in range(CHUNK + 20)])
    deal_services.create_account(by=world.alice, name="Other", external_id="other")
    found = {ext for part in matching(Account.objects.order_by(), "external_id", wanted)
             for ext in part.values_list("external_id", flat=True)}
    assert found == set(wanted)
    ids = list(Account.objects.filter(external_id__in=wanted[:5]).values_list("id", flat=True))
    by_id = {pk for part in matching(Account.objects.all(), "id", ids) for pk in part.values_list("id", flat=True)}
    assert by_id == set(ids)
