"""Each ready mapping reads a small file laid out as that CRM exports deals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from decimal import Decimal

import pytest

from dealgate.deals.models import Deal, StageHistory
from dealgate.imports.mappings import load_mapping, ready_mapping_names
from dealgate.imports.services import import_file

DATA = Path(__file__).parent / "data"


def deals():
    return {d.external_id: d for d in Deal.objects.select_related("stage", "owner", "account", "lost_reason")}


def test_hubspot_export_imports_with_stage_owner_and_dates(world, b2b7):
    mapping = {"extends": "hubspot", "owners": {"bob@example.com": "bob"}}
    report = import_file("deals", str(DATA / "hubspot_deals.csv"), mapping)
    assert report.written and report.created == 4, report.as_text()
    found = deals()
    assert found["HS-1001"].stage.key == "lead-qualification" and found["HS-1001"].owner == world.alice
    assert found["HS-1002"].stage.key == "negotiation-closing" and found["HS-1002"].owner == world.bob
    assert found["HS-1002"].amount == Decimal("48500.50")
    assert found["HS-1002"].created_at == dt.datetime(2026, 8, 12, 14, 5, tzinfo=dt.timezone.utc)
    assert found["HS-1001"].expected_close_date == dt.date(2026, 12, 15)
    assert found["HS-1003"].stage.kind == "won" and found["HS-1003"].closed_at.date() == dt.date(2026, 7, 20)
    assert found["HS-1004"].stage.kind == "lost"


def test_pipedrive_export_takes_won_and_lost_from_the_status_column(world, b2b7):
    report = import_file("deals", str(DATA / "pipedrive_deals.csv"), "pipedrive")
    assert report.written and report.created == 3, report.as_text()
    found = deals()
    assert found["101"].stage.key == "proposal" and found["101"].currency == "USD"
    assert found["102"].stage.kind == "won"
    assert found["102"].closed_at == dt.datetime(2026, 7, 28, 10, 0, tzinfo=dt.timezone.utc)
    assert found["103"].stage.kind == "lost" and found["103"].lost_reason.key == "price"
    assert found["103"].closed_at.date() == dt.date(2026, 4, 20)
    kinds = list(StageHistory.objects.filter(deal=found["103"]).values_list("kind", "imported"))
    assert kinds == [("created", True), ("lost", True)]


def test_salesforce_report_reads_us_dates_formatted_amounts_and_lead_source(world, b2b7):
    report = import_file("deals", str(DATA / "salesforce_deals.csv"), "salesforce")
    assert report.written and report.created == 3, report.as_text()
    found = deals()
    stark = found["0065g00000AbCdE"]
    assert stark.stage.key == "proposal" and stark.amount == Decimal("250000.00")
    assert stark.expected_close_date == dt.date(2026, 12, 20) and stark.created_at.date() == dt.date(2026, 9, 3)
    assert stark.source == "inbound" and stark.probability_override == 75
    assert found["0065g00000AbCdF"].source == "referral" and found["0065g00000AbCdF"].stage.kind == "won"
    assert found["0065g00000AbCdG"].stage.key == "lead-qualification"


def test_generic_mapping_reads_dealgates_own_columns(world, pipeline):
    report = import_file("deals", str(DATA / "generic_deals.csv"), "generic")
    assert report.written and report.created == 3, report.as_text()
    assert deals()["G-3"].lost_reason.key == "price"


@pytest.mark.parametrize("name", ready_mapping_names())
def test_every_ready_mapping_is_itself_valid(name, db):
    kind = next((k for k in ("accounts", "contacts", "activities", "stage-history") if name.endswith(k)), "deals")
    assert load_mapping(name, kind).columns


def test_a_mapping_can_extend_a_ready_one_and_override_its_stages(world, pipeline, csv_file):
    path = csv_file("Record ID,Deal Name,Deal Stage,Deal owner,Associated Company,Create Date\n"
                    "X1,Acme,Contract Sent,alice,Acme,2026-01-05\n")
    mapping = {"extends": "hubspot", "pipeline": "test", "stages": {"Contract Sent": "negotiate"}}
    report = import_file("deals", path, mapping)
    assert report.created == 1 and deals()["X1"].stage.key == "negotiate"
    assert any("'Amount'" in w for w in report.warnings)  # optional columns absent from the file are named
