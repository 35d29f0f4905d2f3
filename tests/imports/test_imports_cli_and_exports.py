"""`dealgate import` / `dealgate export`, the other kinds of rows, and export -> import round trips."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dealgate.deals import services as deal_services
from dealgate.deals.models import Account, Activity, Contact, Deal, StageHistory
from dealgate.imports.exports import csv_lines
from dealgate.imports.services import import_file

DATA = Path(__file__).parent / "data"


def export_text(kind: str) -> str:
    return "".join(csv_lines(kind))


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_cli_imports_a_good_file_with_a_ready_mapping(world, pipeline):
    out = io.StringIO()
    call_command("import", "deals", str(DATA / "generic_deals.csv"), "--mapping", "generic", stdout=out)
    assert "3 were created" in out.getvalue()
    assert Deal.objects.count() == 3


def test_cli_exits_with_code_1_and_prints_the_report_for_a_bad_file(world, pipeline, csv_file):
    bad = (DATA / "generic_deals.csv").read_text().replace("2500,EUR", "25OO,EUR")
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("import", "deals", csv_file(bad), "--mapping", "generic", stdout=out)
    assert caught.value.returncode == 1
    assert "row 3, column 'amount', value '25OO'" in out.getvalue()
    assert Deal.objects.count() == 0


def test_cli_dry_run_and_json_report(world, pipeline):
    out = io.StringIO()
    call_command("import", "deals", str(DATA / "generic_deals.csv"), "--mapping", "generic", "--dry-run", "--json",
                 stdout=out)
    assert '"created": 3' in out.getvalue() and '"written": false' in out.getvalue()
    assert Deal.objects.count() == 0


def test_cli_reports_a_bad_mapping_file_by_key(world, pipeline, csv_file, tmp_path):
    mapping = tmp_path / "m.json"
    mapping.write_text('{"columns": {"title": "title"}, "currency": "euros"}')
    with pytest.raises(CommandError) as caught:
        call_command("import", "deals", str(DATA / "generic_deals.csv"), "--mapping", str(mapping))
    assert "currency" in str(caught.value)


def test_cli_export_writes_a_file(world, make_deal, tmp_path):
    make_deal(title="Exported deal", amount="10")
    out = tmp_path / "deals.csv"
    call_command("export", "deals", "--out", str(out), stderr=io.StringIO())
    [row] = rows_of(out.read_text())
    assert row["title"] == "Exported deal" and row["stage"] == "qualify" and row["owner"] == "alice"


def test_export_then_import_changes_nothing_and_edits_come_back_as_updates(world, pipeline, csv_file):
    import_file("deals", str(DATA / "generic_deals.csv"), "generic")
    exported = export_text("deals")
    again = import_file("deals", csv_file(exported), "generic")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3), again.as_text()
    edited = exported.replace("Soylent supply", "Soylent supply (renewal)")
    report = import_file("deals", csv_file(edited), "generic")
    assert (report.created, report.updated) == (0, 1)
    assert Deal.objects.get(external_id="G-1").title == "Soylent supply (renewal)"


def test_an_export_imports_into_an_empty_pipeline_as_the_same_deals(world, pipeline, csv_file):
    import_file("deals", str(DATA / "generic_deals.csv"), "generic")
    before = rows_of(export_text("deals"))
    exported = export_text("deals").replace("G-", "H-")  # as if into another installation
    report = import_file("deals", csv_file(exported), "generic")
    assert report.created == 3
    after = {r["external_id"]: r for r in rows_of(export_text("deals"))}
    for row in before:
        copy = after[row["external_id"].replace("G-", "H-")]
        for column in ("title", "account", "owner", "stage", "amount", "currency", "expected_close_date",
                       "created_at", "closed_at", "lost_reason"):
            assert copy[column] == row[column], column


def test_history_export_lists_every_row_with_the_imported_flag(world, pipeline):
    import_file("deals", str(DATA / "generic_deals.csv"), "generic")
    rows = rows_of(export_text("history"))
    assert len(rows) == StageHistory.objects.count() == 5
    assert {r["imported"] for r in rows} == {"True"}
    assert [r["kind"] for r in rows if r["deal_external_id"] == "G-2"] == ["created", "won"]


def test_exports_defuse_cells_a_spreadsheet_would_run_as_formulas(world, make_deal, csv_file):
    make_deal(title="=HYPERLINK(\"http://x\")")
    [row] = rows_of(export_text("deals"))
    assert row["title"].startswith("'=")


def test_accounts_import_and_reimport_by_external_id(world, csv_file):
    path = csv_file("id,name,segment,owner\nA1,Acme,SMB,alice\nA2,Globex,Enterprise,bob\n")
    mapping = {"external_id": "id", "columns": {"name": "name", "segment": "segment", "owner": "owner"}}
    assert import_file("accounts", path, mapping).created == 2
    edited = csv_file("id,name,segment,owner\nA1,Acme Inc,SMB,alice\nA2,Globex,Enterprise,bob\n")
    report = import_file("accounts", edited, mapping)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert Account.objects.get(external_id="A1").name == "Acme Inc"
    assert Account.objects.get(external_id="A2").owner == world.bob


def test_contacts_match_by_email_without_an_external_id_and_link_accounts(world, csv_file):
    mapping = {"columns": {"First Name": "first_name", "Last Name": "last_name", "Email": "email",
                           "Company": "account"}}
    path = csv_file("First Name,Last Name,Email,Company\nJane,Doe,jane@acme.test,Acme\nJohn,Roe,not-an-email,Acme\n")
    report = import_file("contacts", path, mapping)
    assert report.blocked and [(e.row, e.column) for e in report.errors] == [(3, "Email")]
    good = csv_file("First Name,Last Name,Email,Company\nJane,Doe,jane@acme.test,Acme\n")
    assert import_file("contacts", good, mapping).created == 1
    again = import_file("contacts", good, mapping)
    assert (again.created, again.unchanged) == (0, 1)
    contact = Contact.objects.select_related("account").get()
    assert contact.name == "Jane Doe" and contact.account.name == "Acme"


def test_activities_attach_to_deals_by_external_id_and_are_not_logged_twice(world, pipeline, csv_file):
    import_file("deals", str(DATA / "generic_deals.csv"), "generic")
    text = ("kind,subject,occurred_at,outcome,deal_external_id,by\n"
            "Meeting,Kick-off,2026-10-02 10:00:00,held,G-1,alice\n"
            "call,Follow-up,2026-10-05 15:30:00,connected,G-1,alice\n"
            "email,Ghost,2026-10-05 15:30:00,,G-404,alice\n")
    report = import_file("activities", csv_file(text), "generic", skip_bad_rows=True)
    assert report.created == 2 and [e.row for e in report.errors] == [4]
    assert "import the deals first" in report.errors[0].message
    deal = Deal.objects.get(external_id="G-1")
    assert deal.last_activity_at.isoformat().startswith("2026-10-05T15:30")
    again = import_file("activities", csv_file(text), "generic", skip_bad_rows=True)
    assert (again.created, again.unchanged) == (0, 2)
    assert Activity.objects.count() == 2


def test_activities_export_imports_back_unchanged(world, pipeline, csv_file):
    import_file("deals", csv_file("external_id,title,account,owner,created_at\nE-1,Imported,Acme,alice,2026-01-05\n"),
                "generic")
    imported = Deal.objects.get(external_id="E-1")
    deal_services.log_activity(by=world.alice, kind="call", subject="Intro", deal=imported, outcome="connected")
    report = import_file("activities", csv_file(export_text("activities")), "generic")
    assert (report.created, report.unchanged) == (0, 1)
