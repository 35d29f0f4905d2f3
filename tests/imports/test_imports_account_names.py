"""One account external id given two different names in one file is a row error naming both rows.

Before, each (name, id) pair was planned as its own new account, the second insert broke the
unique external id in the write phase, and the user read "written while this import ran ... Run
it again", which fails the same way every time.
"""

from __future__ import annotations

from dealgate.deals.models import Account, Activity, Contact, Deal
from dealgate.imports.services import import_file

DEALS = {
    "external_id": "id",
    "columns": {"id": "external_id", "name": "title", "company": "account", "company_id": "account_external_id",
                "owner": "owner", "stage": "stage", "amount": "amount", "created": "created_at"},
    "pipeline": "test",
    "date_formats": ["%Y-%m-%d"],
}
DEALS_HEADER = "id,name,company,company_id,owner,stage,amount,created\n"
MESSAGE = ("account id A-1 is named 'Acme' on row 2 and is named 'ACME Corp' on row 4; one id is one account, so give "
           "both rows the same name")


def _errors(report):
    return [(e.row, e.column, e.value, e.message) for e in report.errors]


def test_deal_rows_naming_one_new_account_id_two_ways_are_refused_with_both_rows(world, pipeline, csv_file):
    """Rows 2 and 4 give A-1 two names; row 3 is another account. Row 4 is the bad one (row 2 came
    first), the import is blocked and writes nothing: 0 accounts, 0 deals."""
    rows = ("D-1,Roll-out,Acme,A-1,alice,qualify,1000,2026-01-10\n"
            "D-2,Pilot,Beta,B-1,alice,qualify,500,2026-01-11\n"
            "D-3,Renewal,ACME Corp,A-1,alice,qualify,700,2026-01-12\n")
    report = import_file("deals", csv_file(DEALS_HEADER + rows), DEALS)
    assert _errors(report) == [(4, "company_id", "A-1", MESSAGE)]
    assert report.blocked and not report.written
    assert (Account.objects.count(), Deal.objects.count()) == (0, 0)


def test_skipping_bad_rows_imports_the_first_name_and_skips_the_other(world, pipeline, csv_file):
    """With skip_bad_rows, rows 2 and 3 are written (accounts Acme/A-1 and Beta/B-1), row 4 is not:
    2 deals, 2 accounts, created == 2."""
    rows = ("D-1,Roll-out,Acme,A-1,alice,qualify,1000,2026-01-10\n"
            "D-2,Pilot,Beta,B-1,alice,qualify,500,2026-01-11\n"
            "D-3,Renewal,ACME Corp,A-1,alice,qualify,700,2026-01-12\n")
    report = import_file("deals", csv_file(DEALS_HEADER + rows), DEALS, skip_bad_rows=True)
    assert report.written and (report.created, report.accounts_created, report.bad_rows) == (2, 2, [4])
    assert sorted(Account.objects.values_list("external_id", "name")) == [("A-1", "Acme"), ("B-1", "Beta")]
    assert sorted(Deal.objects.values_list("external_id", flat=True)) == ["D-1", "D-2"]


def test_the_same_name_twice_or_an_existing_account_id_is_fine(world, pipeline, csv_file):
    """A-1 with the same name on two rows is one new account; B-1 already exists (named "Beta Ltd"),
    so the names the rows give it are not used and do not clash: 3 deals, 1 account created."""
    Account.objects.create(name="Beta Ltd", external_id="B-1", owner=world.alice)
    rows = ("D-1,Roll-out,Acme,A-1,alice,qualify,1000,2026-01-10\n"
            "D-2,Renewal,Acme,A-1,alice,qualify,700,2026-01-12\n"
            "D-3,Pilot,Beta,B-1,alice,qualify,500,2026-01-11\n"
            "D-4,Upsell,Beta GmbH,B-1,alice,qualify,300,2026-01-13\n")
    report = import_file("deals", csv_file(DEALS_HEADER + rows), DEALS)
    assert report.errors == [] and report.written
    assert (report.created, report.accounts_created) == (4, 1)
    assert sorted(Account.objects.values_list("external_id", "name")) == [("A-1", "Acme"), ("B-1", "Beta Ltd")]


def test_a_row_with_the_id_and_no_name_clashes_with_a_named_row(world, pipeline, csv_file):
    """Row 2 gives A-1 no name (the account would be called "A-1"), row 3 names it "Acme"."""
    rows = ("D-1,Roll-out,,A-1,alice,qualify,1000,2026-01-10\n"
            "D-2,Pilot,Acme,A-1,alice,qualify,500,2026-01-11\n")
    report = import_file("deals", csv_file(DEALS_HEADER + rows), DEALS)
    assert _errors(report) == [(3, "company_id", "A-1", "account id A-1 has no name on row 2 and is named 'Acme' "
                                "on row 3; one id is one account, so give both rows the same name")]
    assert Account.objects.count() == 0


def test_contacts_naming_one_new_account_id_two_ways(world, csv_file):
    """Contacts rows 2 and 3 link to A-1 as "Acme" and "ACME Corp": row 3 is refused, nothing written."""
    mapping = {"columns": {"name": "name", "email": "email", "company": "account", "company_id": "account_external_id"}}
    text = ("name,email,company,company_id\nJane Doe,jane@acme.test,Acme,A-1\n"
            "John Roe,john@acme.test,ACME Corp,A-1\n")
    report = import_file("contacts", csv_file(text), mapping)
    assert [(e.row, e.column, e.value) for e in report.errors] == [(3, "company_id", "A-1")]
    assert "is named 'Acme' on row 2 and is named 'ACME Corp' on row 3" in report.errors[0].message
    assert report.created == 1  # row 2 only: the refused row is not counted as one to create
    assert (Account.objects.count(), Contact.objects.count()) == (0, 0)


def test_activities_naming_one_new_account_id_two_ways(world, csv_file):
    """Account activities on rows 2 and 3 name A-1 as "Acme" and "ACME Corp": row 3 is refused."""
    mapping = {"columns": {"kind": "kind", "subject": "subject", "when": "occurred_at", "company": "account",
                           "company_id": "account_external_id"}}
    text = ("kind,subject,when,company,company_id\ncall,Intro,2026-03-01 10:00,Acme,A-1\n"
            "email,Follow-up,2026-03-02 10:00,ACME Corp,A-1\n")
    report = import_file("activities", csv_file(text), mapping)
    assert [(e.row, e.column, e.value) for e in report.errors] == [(3, "company_id", "A-1")]
    assert "is named 'Acme' on row 2 and is named 'ACME Corp' on row 3" in report.errors[0].message
    assert (Account.objects.count(), Activity.objects.count()) == (0, 0)
