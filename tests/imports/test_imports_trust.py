"""An import changes only what the importer may change, says who did it, keeps a deal's stage and
history in agreement, matches Dealgate's own exports by id, holds values to the API's limits, and
every CSV Dealgate writes is safe to open in a spreadsheet (issue 11, sections 2, 3, 4 and 5)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from dealgate.deals import services as deal_services
from dealgate.errors import ValidationFailed
from dealgate.deals.models import Account, Activity, Contact, Deal, FieldChange, StageHistory, StateSpan
from dealgate.imports.exports import csv_lines
from dealgate.imports.mappings import FIELDS
from dealgate.imports.services import import_file

DEALS = {
    "external_id": "ref",
    "columns": {"title": "title", "account": "account", "owner": "owner", "stage": "stage", "amount": "amount",
                "created": "created_at", "entered": "stage_entered_at"},
    "pipeline": "test",
}
HEADER = "ref,title,account,owner,stage,amount,created,entered\n"


def line(ref: str, title: str, account: str, owner: str, stage: str, amount: str = "10", entered: str = "") -> str:
    """One row of HEADER; every deal was created on 2026-01-01 in the other system."""
    return f"{ref},{title},{account},{owner},{stage},{amount},2026-01-01,{entered}\n"


def run(csv_file, *lines: str, **options):
    """Import deal rows (made by `line`) with the DEALS mapping."""
    return import_file("deals", csv_file(HEADER + "".join(lines)), DEALS, **options)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def export_text(kind: str) -> str:
    return "".join(csv_lines(kind))


@pytest.fixture
def carols_deal(world, make_deal):
    """A deal of team West, known to the other system as W-1."""
    deal = make_deal(owner=world.carol, title="West deal", amount="100")
    Deal.objects.filter(pk=deal.pk).update(external_id="W-1")
    deal.refresh_from_db()
    return deal


def assert_untouched(deal: Deal) -> None:
    fresh = Deal.objects.get(pk=deal.pk)
    assert (fresh.title, fresh.amount, fresh.owner_id, fresh.team_id, fresh.stage_id) == (
        deal.title, deal.amount, deal.owner_id, deal.team_id, deal.stage_id)
    assert not FieldChange.objects.filter(deal=deal).exists()
    assert StageHistory.objects.filter(deal=deal).count() == 1  # only its creation


# --- 1. an import changes only what the importer may change -------------------------------------------


def test_it_refuses_a_managers_row_naming_another_teams_deal_and_changes_nothing_about_it(world, carols_deal,
                                                                                          csv_file):
    report = run(csv_file, line("E-1", "East deal", "Acme", "alice", "qualify"),
                 line("W-1", "Taken over", "Globex", "bob", "propose", "999"), by=world.bob, skip_bad_rows=True)
    [error] = report.errors
    assert (error.row, error.column, error.value) == (3, "ref", "W-1")
    assert "bob may not change" in error.message and "another team" in error.message
    assert_untouched(carols_deal)
    assert Deal.objects.get(external_id="E-1").owner == world.alice  # the good row went in
    # An admin may change any team's deal, and so may the system (the CLI without --user).
    run(csv_file, line("W-1", "Renamed by dave", "x", "carol", "qualify"), by=world.dave)
    assert Deal.objects.get(pk=carols_deal.pk).title == "Renamed by dave"
    run(csv_file, line("W-1", "Renamed by the CLI", "x", "carol", "qualify"))
    assert Deal.objects.get(pk=carols_deal.pk).title == "Renamed by the CLI"


def test_it_blocks_the_whole_file_when_bad_rows_are_not_skipped(world, carols_deal, csv_file):
    report = run(csv_file, line("W-1", "Taken over", "Globex", "bob", "propose", "999"), by=world.bob)
    assert report.blocked and not report.written and report.bad_rows == [2]
    assert_untouched(carols_deal)


def test_it_refuses_the_row_through_the_upload_page(client, world, carols_deal, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    assert client.login(username="bob", password=world.password)
    text = (HEADER + line("W-1", "Taken over", "Globex", "bob", "propose", "999")).encode()
    response = client.post("/imports/upload/", {"kind": "deals", "file": SimpleUploadedFile("w.csv", text),
                                                "ready": ""})
    form = {"advanced": '{"pipeline": "test"}', "action": "import", "skip_bad_rows": "on",
            **{f"column:{c}": t for c, t in {**DEALS["columns"], "ref": "external_id"}.items()}}
    page = client.post(response["Location"], form)
    assert page.status_code == 200
    report = page.context["report"]
    assert report.bad_rows == [2] and "may not change" in report.errors[0].message
    assert b"may not change" in page.content
    assert_untouched(carols_deal)


def test_it_refuses_the_row_from_the_command_line_as_the_named_user(world, carols_deal, csv_file):
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import", "deals", csv_file(HEADER + line("W-1", "Taken over", "Globex", "bob", "propose", "999")),
                     "--mapping", _mapping_file(csv_file), "--user", "bob", stdout=out)
    assert "row 2, column 'ref', value 'W-1': names a deal bob may not change" in out.getvalue()
    assert_untouched(carols_deal)


def _mapping_file(csv_file) -> str:
    import json

    return csv_file(json.dumps(DEALS), name="mapping.json")


def test_it_refuses_a_row_naming_another_teams_deal_by_its_dealgate_id(world, carols_deal, csv_file):
    text = f"id,title,account,owner,stage\n{carols_deal.pk},Taken over,{carols_deal.account.name},bob,propose\n"
    mapping = {"columns": {"id": "id", "title": "title", "account": "account", "owner": "owner", "stage": "stage"},
               "pipeline": "test"}
    report = import_file("deals", csv_file(text), mapping, by=world.bob)
    assert [(e.row, e.column) for e in report.errors] == [(2, "id")]
    assert_untouched(carols_deal)


def test_only_an_admin_may_create_users_in_an_import(world, pipeline, csv_file):
    from django.contrib.auth import get_user_model

    from dealgate.errors import NotAllowed

    text = HEADER + line("E-1", "East deal", "Acme", "newbie@example.com", "qualify")
    with pytest.raises(NotAllowed, match="Only an administrator may create users"):
        import_file("deals", csv_file(text), DEALS, by=world.bob, create_users=True)
    assert not get_user_model().objects.filter(email="newbie@example.com").exists()
    report = import_file("deals", csv_file(text), DEALS, by=world.dave, create_users=True)
    assert report.users_created == ["newbie"] and Deal.objects.get().owner.username == "newbie"


def test_it_refuses_an_activity_row_on_another_teams_deal(world, carols_deal, csv_file):
    text = "kind,subject,when,deal\ncall,Friendly chat,2026-03-01 10:00,W-1\n"
    mapping = {"columns": {"kind": "kind", "subject": "subject", "when": "occurred_at", "deal": "deal_external_id"}}
    report = import_file("activities", csv_file(text), mapping, by=world.bob)
    assert [(e.row, e.column, e.value) for e in report.errors] == [(2, "deal", "W-1")]
    assert "may not change" in report.errors[0].message
    assert not Activity.objects.exists()


# --- 2. every row an import writes records the importing user ------------------------------------------


def test_only_an_admin_may_change_the_owner_of_an_existing_account(world, csv_file):
    acme = deal_services.create_account(by=world.alice, name="Acme")
    text = "name,owner\nAcme,carol\nNew Co,alice\n"
    mapping = {"columns": {"name": "name", "owner": "owner"}}
    report = import_file("accounts", csv_file(text), mapping, by=world.bob, skip_bad_rows=True)
    assert [(e.row, e.column, e.value) for e in report.errors] == [(2, "owner", "carol")]
    assert Account.objects.get(pk=acme.pk).owner == world.alice
    assert Account.objects.get(name="New Co").owner == world.alice  # a new account may name its owner
    import_file("accounts", csv_file(text), mapping, by=world.dave)
    assert Account.objects.get(pk=acme.pk).owner == world.carol


def test_every_row_an_import_writes_records_the_importing_user(world, pipeline, csv_file):
    run(csv_file, line("E-1", "East deal", "Acme", "alice", "propose", "10", "2026-01-10"), by=world.bob)
    deal = Deal.objects.get(external_id="E-1")
    assert [(h.kind, h.by) for h in StageHistory.objects.filter(deal=deal)] == [
        ("created", world.bob), ("forward", world.bob)]
    assert Account.objects.get(name="Acme").owner == world.alice  # the deal's owner, as before

    text = HEADER + line("E-1", "East deal", "Acme", "carol", "negotiate", "25", "2026-02-01")
    import_file("deals", csv_file(text), DEALS, by=world.bob)
    changes = {c.field: c.by for c in FieldChange.objects.filter(deal=deal)}
    assert changes == {"amount": world.bob, "owner": world.bob, "team": world.bob}
    last = StageHistory.objects.filter(deal=deal).order_by("at", "id").last()
    assert (last.to_stage.key, last.by, last.imported) == ("negotiate", world.bob, True)

    import_file("activities", csv_file("kind,subject,when,deal\ncall,Kick-off,2026-02-02 10:00,E-1\n"),
                {"columns": {"kind": "kind", "subject": "subject", "when": "occurred_at",
                             "deal": "deal_external_id"}}, by=world.dave)
    assert Activity.objects.get().by == world.dave  # the file names nobody: the importer logged it
    import_file("accounts", csv_file("name\nNew Co\n"), {"columns": {"name": "name"}}, by=world.bob)
    assert Account.objects.get(name="New Co").owner == world.bob  # as create_account: its creator


# --- 3. history and current stage agree --------------------------------------------------------------


def test_it_refuses_a_stage_move_dated_before_the_deals_latest_history_row(world, pipeline, csv_file):
    run(csv_file, line("E-1", "East deal", "Acme", "alice", "negotiate", "10", "2026-03-01"))
    deal = Deal.objects.get(external_id="E-1")
    report = run(csv_file, line("E-1", "East deal", "Acme", "alice", "propose", "10", "2026-02-01"))
    [error] = report.errors
    assert (error.row, error.column) == (2, "entered")
    assert "before the deal's latest stage change (2026-03-01 00:00)" in error.message
    deal.refresh_from_db()
    assert deal.stage.key == "negotiate" and StageHistory.objects.filter(deal=deal).count() == 2
    later = run(csv_file, line("E-1", "East deal", "Acme", "alice", "propose", "10", "2026-03-02"))
    assert later.written and Deal.objects.get(pk=deal.pk).stage.key == "propose"


def test_spans_rebuild_puts_a_deal_back_in_the_stage_its_history_ends_in(world, pipeline, make_deal):
    deal = make_deal(amount="10")
    deal_services.move_deal(deal, "propose", by=world.bob, override_reason="tested elsewhere")
    entered = StageHistory.objects.filter(deal=deal).order_by("at", "id").last().at
    # Corrupt both what the board reads and what analytics reads.
    Deal.objects.filter(pk=deal.pk).update(stage=pipeline.stages.get(key="won"), closed_at=entered)
    StateSpan.objects.filter(deal=deal).update(stage_id=pipeline.stages.get(key="negotiate").pk)
    out = io.StringIO()
    call_command("spans", "--rebuild", stdout=out)
    assert f"Put back in the stage their history ends in: 1 deal ({deal.pk})." in out.getvalue()
    deal.refresh_from_db()
    assert (deal.stage.key, deal.stage_entered_at, deal.closed_at) == ("propose", entered, None)
    stages = dict(pipeline.stages.values_list("pk", "key"))
    assert [stages[s.stage_id] for s in StateSpan.objects.filter(deal=deal).order_by("starts_at")] == [
        "qualify", "propose"]


# --- 4. export then import into the same installation -------------------------------------------------


def test_exporting_and_importing_deals_made_in_dealgate_does_not_duplicate_them(world, make_deal, csv_file):
    make_deal(title="Made here", amount="10")
    make_deal(owner=world.carol, title="Made in the West", amount="20.50")
    exported = export_text("deals")
    report = import_file("deals", csv_file(exported), "generic")
    assert (report.created, report.updated, report.unchanged) == (0, 0, 2), report.as_text()
    assert Deal.objects.count() == 2
    edited = import_file("deals", csv_file(exported.replace("Made here", "Renamed here")), "generic", by=world.dave)
    assert (edited.created, edited.updated, edited.unchanged) == (0, 1, 1)
    assert Deal.objects.filter(title="Renamed here").count() == 1


def test_exporting_and_importing_accounts_and_contacts_does_not_duplicate_them(world, csv_file):
    acme = deal_services.create_account(by=world.bob, name="Acme")
    deal_services.create_contact(by=world.bob, name="Ann Lee", account=acme)  # no e-mail, no external id
    for kind in ("accounts", "contacts"):
        report = import_file(kind, csv_file(export_text(kind)), "generic")
        assert (report.created, report.unchanged) == (0, 1), (kind, report.as_text())
    assert (Account.objects.count(), Contact.objects.count()) == (1, 1)


def test_exporting_and_importing_activities_of_deals_made_in_dealgate_does_not_duplicate_them(world, make_deal,
                                                                                             csv_file):
    deal = make_deal(title="Made here")
    deal_services.log_activity(by=world.alice, kind="call", subject="First call", deal=deal,
                               occurred_at=dt.datetime(2026, 3, 1, 10, tzinfo=dt.timezone.utc))
    report = import_file("activities", csv_file(export_text("activities")), "generic", by=world.bob)
    assert (report.created, report.unchanged) == (0, 1), report.as_text()
    assert Activity.objects.get().deal == deal


def test_an_id_naming_a_deal_of_another_account_is_refused(world, make_deal, csv_file):
    deal = make_deal(title="Ours")
    text = f"id,title,account,owner,stage\n{deal.pk},Theirs,Some other company,alice,qualify\n"
    report = import_file("deals", csv_file(text), "generic")
    [error] = report.errors
    assert error.column == "id" and "another account" in error.message and "delete its id column" in error.message
    assert Deal.objects.get(pk=deal.pk).title == "Ours"


# --- 5. bad bytes and values get a clear row error ----------------------------------------------------


def test_a_nul_byte_in_a_cell_is_a_row_error_from_the_command_line(world, pipeline, csv_file):
    out = io.StringIO()
    with pytest.raises(CommandError):  # exit code 1
        call_command("import", "deals", csv_file(HEADER + line("E-1", "Bad\x00title", "Acme", "alice", "qualify")),
                     "--mapping", _mapping_file(csv_file), stdout=out)
    assert "row 2, column 'title', value 'Bad\u2400title': contains a NUL character" in out.getvalue()
    assert not Deal.objects.exists()


def test_a_nul_byte_in_an_uploaded_file_is_a_row_error_on_the_page(client, world, pipeline, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    assert client.login(username="bob", password=world.password)
    text = (HEADER + line("E-1", "East deal", "Ac\x00me", "alice", "qualify")).encode()
    response = client.post("/imports/upload/", {"kind": "deals", "file": SimpleUploadedFile("n.csv", text),
                                                "ready": ""})
    form = {"advanced": '{"pipeline": "test"}', "action": "import",
            **{f"column:{c}": t for c, t in {**DEALS["columns"], "ref": "external_id"}.items()}}
    page = client.post(response["Location"], form)
    assert page.status_code == 200 and page.context["report"].bad_rows == [2]
    assert b"NUL character" in page.content and not Deal.objects.exists()


@pytest.mark.parametrize("cell, column, why", [
    ("0001-01-01", "entered", "must be between 1900-01-02 and 2999-12-30"),
    ("9999-12-31", "entered", "must be between 1900-01-02 and 2999-12-30"),
])
def test_it_refuses_dates_the_api_refuses(world, pipeline, csv_file, cell, column, why):
    report = run(csv_file, line("E-1", "East deal", "Acme", "alice", "propose", "10", cell))
    assert [(e.column, e.message) for e in report.errors] == [(column, why)]


def test_it_refuses_digits_of_other_scripts_in_dates_and_numbers(world, pipeline, csv_file):
    mapping = {**DEALS, "columns": {**DEALS["columns"], "probability": "probability_override"}}
    text = HEADER.replace("\n", ",probability\n") + line("E-1", "Deal", "Acme", "alice", "propose", "10",
                                                          "２０２６-03-01").replace("\n", ",٥٠\n")
    report = import_file("deals", csv_file(text), mapping)
    assert [(e.column, e.message) for e in report.errors] == [
        ("entered", "is not a date: write its digits as 0-9"),
        ("probability", "is not a whole number: write its digits as 0-9")]


@pytest.mark.parametrize("amount_cell, currency_cell, column, why", [
    ("10", "QQQ", "currency", "is not an ISO 4217 currency code (such as EUR, USD, GBP)"),
    ("１２", "EUR", "amount", "is not an amount (expected a number such as 12500.00)"),
])
def test_it_refuses_amounts_and_currencies_the_api_refuses(world, pipeline, csv_file, amount_cell, currency_cell,
                                                           column, why):
    mapping = {**DEALS, "columns": {**DEALS["columns"], "currency": "currency"}}
    text = f"ref,title,account,owner,stage,amount,currency\nE-1,Deal,Acme,alice,qualify,{amount_cell},{currency_cell}\n"
    report = import_file("deals", csv_file(text), mapping)
    assert [(e.column, e.message) for e in report.errors] == [(column, why)]


# --- 6. every CSV Dealgate writes is formula-safe -----------------------------------------------------


FORMULAS = ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tTabbed", "\rReturned"]


def deals_titled(make_deal, titles, **fields) -> None:
    """Deals with these exact titles (the services strip a leading tab; a hand edit or old data need not)."""
    for title in titles:
        deal = make_deal(**fields)
        Deal.objects.filter(pk=deal.pk).update(title=title)


def test_the_deals_list_csv_defuses_formulas_and_keeps_numbers_as_numbers(client, world, make_deal):
    deals_titled(make_deal, FORMULAS, amount="1250.50")
    assert client.login(username="alice", password=world.password)
    response = client.get("/deals/?format=csv")
    rows = rows_of(b"".join(response.streaming_content).decode())
    assert sorted(r["title"] for r in rows) == sorted("'" + t for t in FORMULAS)
    assert {r["amount"] for r in rows} == {"1250.50"}


def test_the_exports_defuse_tab_and_carriage_return_and_read_back_unchanged(world, make_deal, csv_file):
    deals_titled(make_deal, (*FORMULAS, "'=already quoted"))
    exported = export_text("deals")
    assert all(not r["title"].startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows_of(exported))
    report = import_file("deals", csv_file(exported), "generic")
    assert (report.created, report.updated) == (0, 0), report.as_text()
    assert sorted(Deal.objects.values_list("title", flat=True)) == sorted((*FORMULAS, "'=already quoted"))



def test_the_accounts_and_contacts_lists_download_formula_safe_csv_of_what_the_user_sees(client, world, make_deal):
    mine = deal_services.create_account(by=world.alice, name="=cmd|' /C calc'!A0")
    deal_services.create_contact(by=world.alice, name="@Ann", account=mine, phone="+1 555 0100")
    make_deal(owner=world.carol, account=deal_services.create_account(by=world.carol, name="West only"))
    assert client.login(username="alice", password=world.password)
    accounts = rows_of(b"".join(client.get("/accounts/?format=csv").streaming_content).decode())
    assert [(r["name"], r["owner"], r["open_deals"]) for r in accounts] == [("'=cmd|' /C calc'!A0", "alice", "0")]
    contacts = rows_of(b"".join(client.get("/contacts/?q=ann&format=csv").streaming_content).decode())
    assert [(r["name"], r["phone"], r["account"]) for r in contacts] == [
        ("'@Ann", "'+1 555 0100", "'=cmd|' /C calc'!A0")]


def test_the_map_page_offers_creating_users_to_admins_only(client, world, pipeline, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    for user, offered in ((world.bob, False), (world.dave, True)):
        assert client.login(username=user.username, password=world.password)
        file = SimpleUploadedFile("d.csv", (HEADER + line("E-1", "Deal", "Acme", "alice", "qualify")).encode())
        page = client.get(client.post("/imports/upload/", {"kind": "deals", "file": file, "ready": ""})["Location"])
        assert (b'name="create_users"' in page.content) is offered


# --- every field of every kind, generated from the mapping's field list ---------------------------------

BASE_ROWS = {
    "deals": {"title": "T", "owner": "alice", "account": "Acme", "stage": "qualify", "external_id": "E1"},
    "accounts": {"name": "Acme"},
    "contacts": {"name": "Ann"},
    "activities": {"kind": "call", "subject": "S", "occurred_at": "2026-01-01 10:00", "account": "Acme"},
    "stage-history": {"deal_external_id": "E1", "stage": "qualify", "entered_at": "2026-01-01 10:00"},
}
DATE_FIELDS = {kind: [f for f in FIELDS[kind] if f.endswith(("_at", "_date", "_due"))] for kind in FIELDS}


def _one_row(kind: str, field: str, value: str) -> bytes:
    fields = list(FIELDS[kind])
    out = io.StringIO()
    csv.writer(out).writerows([fields, [{**BASE_ROWS[kind], field: value}.get(f, "") for f in fields]])
    return out.getvalue().encode()


@pytest.mark.parametrize("kind, field", [(kind, field) for kind in FIELDS for field in FIELDS[kind]])
def test_a_nul_character_in_any_field_is_a_row_error_naming_it(world, pipeline, kind, field):
    report = import_file(kind, _one_row(kind, field, "a\x00b"), {"columns": {f: f for f in FIELDS[kind]}},
                         by=world.bob)
    assert report.blocked and (field, "a\u2400b") in [(e.column, e.value) for e in report.errors]


@pytest.mark.parametrize("kind, field", [(kind, field) for kind in FIELDS for field in DATE_FIELDS[kind]])
def test_a_date_the_api_refuses_is_a_row_error_in_every_date_field(world, pipeline, kind, field):
    for far in ("9999-12-31", "0001-01-01"):
        report = import_file(kind, _one_row(kind, field, far), {"columns": {f: f for f in FIELDS[kind]}}, by=world.bob)
        assert any(e.column == field and "must be between" in e.message for e in report.errors), (far, report.as_text())
