"""Importing deals: validation report, all-or-nothing, dry run, re-import, dates and imported history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from dealgate.deals.models import Account, Deal, FieldChange, StageHistory
from dealgate.errors import NotAllowed
from dealgate.imports.mappings import MappingInvalid
from dealgate.imports.services import import_file
from tests.imports.conftest import DEALS_HEADER as HEADER
from tests.imports.conftest import DEALS_MAPPING as MAPPING

GOOD = (
    "D-1,Acme,Acme Corp,alice,Qualified,1000,2026-01-10,,\n"
    "D-2,Globex,Globex,bob,Proposal sent,2500.50,11/01/2026,,\n"
    "D-3,Initech,Initech,alice,Signed,9000,02/14/2026 09:30,2026-03-20,\n"
    "D-4,Umbrella,Umbrella,alice,Dead,4000,2026-01-05,2026-02-01,price\n"
)


def run(csv_file, text, mapping=None, **options):
    return import_file("deals", csv_file(HEADER + text), mapping or MAPPING, **options)


def test_it_imports_every_row_of_a_good_file(world, pipeline, csv_file):
    report = run(csv_file, GOOD)
    assert report.written and not report.errors
    assert (report.created, report.updated, report.unchanged) == (4, 0, 0)
    deals = {d.external_id: d for d in Deal.objects.select_related("stage", "owner", "account")}
    assert deals["D-1"].stage.key == "qualify" and deals["D-1"].owner == world.alice
    assert deals["D-2"].stage.key == "propose" and deals["D-2"].amount == Decimal("2500.50")
    assert deals["D-2"].team_id == world.east.pk
    assert deals["D-4"].lost_reason.key == "price"
    assert Account.objects.filter(name="Globex").count() == 1


def test_a_dry_run_writes_nothing_and_says_what_would_happen(world, pipeline, csv_file):
    report = run(csv_file, GOOD, dry_run=True)
    assert not report.written and report.created == 4
    assert Deal.objects.count() == 0 and Account.objects.count() == 0 and StageHistory.objects.count() == 0
    assert "Dry run: nothing written" in report.as_text()


def test_a_bad_row_blocks_the_whole_file_and_the_report_names_row_and_column(world, pipeline, csv_file):
    bad = GOOD + "D-5,Soylent,Soylent,alice,Qualified,lots,2026-01-10,,\n"
    report = run(csv_file, bad)
    assert report.blocked and not report.written
    assert Deal.objects.count() == 0 and Account.objects.count() == 0
    [error] = report.errors
    assert (error.row, error.column, error.value) == (6, "amount", "lots")  # header is row 1
    assert "not an amount" in error.message
    assert "row 6, column 'amount', value 'lots'" in report.as_text()


def test_the_report_lists_every_problem_of_every_bad_row(world, pipeline, csv_file):
    text = ("D-1,,Acme,nobody,Qualified,1000,2026-13-45,,\n"
            "D-2,Globex,Globex,bob,Pending,100,2026-01-01,,\n"
            "D-3,Umbrella,Umbrella,alice,Dead,10,2026-01-01,2026-02-01,weather\n"
            "D-3,Dup,Dup,alice,Qualified,10,2026-01-01,,\n")
    report = run(csv_file, text)
    found = {(e.row, e.column) for e in report.errors}
    assert {(2, "name"), (2, "owner"), (2, "created"), (3, "stage"), (4, "lost_reason"), (5, "id")} <= found
    by_column = {e.column: e.message for e in report.errors}
    assert "price" in by_column["lost_reason"] and "no-budget" in by_column["lost_reason"]  # lists valid reasons
    assert "qualify" in by_column["stage"]  # lists the pipeline's stages
    assert "row 4" in by_column["id"]


def test_skip_bad_rows_imports_the_good_ones_and_reports_the_rest(world, pipeline, csv_file):
    bad = "D-9,Broken,Broken,alice,Qualified,1000,yesterday,,\n" + GOOD
    report = run(csv_file, bad, skip_bad_rows=True)
    assert report.written and report.created == 4
    assert report.bad_rows == [2]
    assert set(Deal.objects.values_list("external_id", flat=True)) == {"D-1", "D-2", "D-3", "D-4"}
    assert report.as_dict()["skipped"] == 1


def test_reimporting_the_same_file_updates_instead_of_duplicating(world, pipeline, csv_file):
    run(csv_file, GOOD)
    history = StageHistory.objects.count()
    again = run(csv_file, GOOD)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    assert Deal.objects.count() == 4 and Account.objects.count() == 4 and StageHistory.objects.count() == history


def test_a_reimport_applies_changed_values_and_records_them(world, pipeline, csv_file):
    run(csv_file, GOOD)
    changed = GOOD.replace("D-1,Acme,Acme Corp,alice,Qualified,1000", "D-1,Acme,Acme Corp,alice,Proposal sent,1500")
    report = run(csv_file, changed)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 3)
    deal = Deal.objects.select_related("stage").get(external_id="D-1")
    assert deal.amount == Decimal("1500.00") and deal.stage.key == "propose"
    change = FieldChange.objects.get(deal=deal, field="amount")
    assert (change.old_value, change.new_value) == ("1000.00", "1500.00")
    last = StageHistory.objects.filter(deal=deal).last()
    assert (last.kind, last.to_stage.key, last.imported) == ("forward", "propose", True)
    assert last.at > timezone.now() - dt.timedelta(minutes=5)  # the file gives no date: moved when imported
    assert Deal.objects.count() == 4


def test_a_reimport_that_closes_a_deal_writes_the_closing_history(world, pipeline, csv_file):
    run(csv_file, GOOD)
    closed = GOOD.replace("D-2,Globex,Globex,bob,Proposal sent,2500.50,11/01/2026,,",
                          "D-2,Globex,Globex,bob,Signed,2500.50,11/01/2026,2026-04-02,")
    run(csv_file, closed)
    deal = Deal.objects.get(external_id="D-2")
    assert deal.closed_at.date() == dt.date(2026, 4, 2)
    assert StageHistory.objects.filter(deal=deal, kind="won", imported=True).count() == 1


def test_dates_are_read_in_each_of_the_mappings_formats(world, pipeline, csv_file):
    run(csv_file, GOOD)
    created = {d.external_id: d.created_at for d in Deal.objects.all()}
    assert created["D-1"] == dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)  # %Y-%m-%d
    assert created["D-2"] == dt.datetime(2026, 1, 11, tzinfo=dt.timezone.utc)  # %d/%m/%Y wins over %m/%d/%Y
    assert created["D-3"] == dt.datetime(2026, 2, 14, 9, 30, tzinfo=dt.timezone.utc)  # %m/%d/%Y %H:%M


def test_dates_are_read_in_the_mappings_time_zone(world, pipeline, csv_file):
    run(csv_file, GOOD, {**MAPPING, "timezone": "Europe/Paris"})
    deal = Deal.objects.get(external_id="D-1")
    assert deal.created_at == dt.datetime(2026, 1, 9, 23, 0, tzinfo=dt.timezone.utc)


def test_a_closed_deal_gets_a_created_and_a_closing_history_row_marked_imported(world, pipeline, csv_file):
    run(csv_file, GOOD)
    won = Deal.objects.get(external_id="D-3")
    rows = list(StageHistory.objects.filter(deal=won).values_list("kind", "from_stage__key", "to_stage__key", "at",
                                                                   "probability", "imported"))
    assert rows == [
        ("created", None, "qualify", dt.datetime(2026, 2, 14, 9, 30, tzinfo=dt.timezone.utc), 20, True),
        ("won", "qualify", "won", dt.datetime(2026, 3, 20, tzinfo=dt.timezone.utc), 100, True),
    ]
    assert won.closed_at == dt.datetime(2026, 3, 20, tzinfo=dt.timezone.utc)
    lost = Deal.objects.get(external_id="D-4")
    assert list(StageHistory.objects.filter(deal=lost).values_list("kind", flat=True)) == ["created", "lost"]


def test_an_open_deal_lands_in_its_stage_without_gates_and_its_history_says_imported(world, pipeline, csv_file):
    # 'propose' needs a decision maker and qualify's exit criteria: an import records history, it does not move.
    run(csv_file, GOOD)
    deal = Deal.objects.get(external_id="D-2")
    rows = list(StageHistory.objects.filter(deal=deal).values_list("kind", "to_stage__key", "imported"))
    assert rows == [("created", "qualify", True), ("forward", "propose", True)]


def test_a_closed_deal_without_a_closed_date_is_an_error(world, pipeline, csv_file):
    report = run(csv_file, "D-1,Acme,Acme,alice,Signed,100,2026-01-01,,\n")
    [error] = report.errors
    assert error.column == "closed" and "closed" in error.message


def test_a_deal_closed_before_it_was_created_is_an_error(world, pipeline, csv_file):
    report = run(csv_file, "D-1,Acme,Acme,alice,Signed,100,2026-05-01,2026-04-01,\n")
    assert [(e.row, e.column) for e in report.errors] == [(2, "created")]


def test_unknown_owners_become_reps_only_when_asked(world, pipeline, csv_file):
    text = "D-1,Acme,Acme,Erin Example,Qualified,100,2026-01-01,,\n"
    refused = run(csv_file, text)
    assert refused.errors[0].column == "owner" and "--create-users" in refused.errors[0].message
    dry = run(csv_file, text, create_users=True, dry_run=True)
    assert dry.users_to_create == ["erin.example"] and "new sales reps: erin.example" in dry.summary()
    assert not Deal.objects.exists()
    report = run(csv_file, text, create_users=True)
    assert report.users_created == ["erin.example"]
    deal = Deal.objects.select_related("owner__profile").get(external_id="D-1")
    assert deal.owner.profile.role == "rep" and deal.owner.get_full_name() == "Erin Example"


def test_a_mapping_with_mistakes_is_refused_before_any_row_is_read(world, pipeline, csv_file):
    with pytest.raises(MappingInvalid) as caught:
        run(csv_file, GOOD, {"columns": {"name": "titel"}, "date_formats": "%Y"})
    assert "titel" in caught.value.message and "date_formats" in caught.value.details


def test_a_mapped_required_column_missing_from_the_file_is_refused(world, pipeline, csv_file):
    with pytest.raises(MappingInvalid) as caught:
        run(csv_file, GOOD, {**MAPPING, "columns": {**MAPPING["columns"], "Deal Name": "title", "name": "lost_note"}})
    assert "'Deal Name'" in caught.value.message and "the file's columns are" in caught.value.message


def test_a_mapping_naming_a_missing_pipeline_lists_the_pipelines(world, pipeline, csv_file):
    with pytest.raises(MappingInvalid) as caught:
        run(csv_file, GOOD, {**MAPPING, "pipeline": "nope"})
    assert "test" in caught.value.message


def test_a_rep_may_not_import(world, pipeline, csv_file):
    with pytest.raises(NotAllowed):
        run(csv_file, GOOD, by=world.alice)
    assert run(csv_file, GOOD, by=world.bob).created == 4


def test_words_in_dates_decimal_commas_and_currency_signs_are_read(world, pipeline, csv_file):
    mapping = {**MAPPING, "date_formats": ["%d %b %Y"], "decimal_separator": ","}
    report = run(csv_file, 'D-1,Acme,Acme,alice,Qualified,"€1.250,50",3 Mar 2026,,\n', mapping)
    assert report.written, report.as_text()
    deal = Deal.objects.get(external_id="D-1")
    assert deal.amount == Decimal("1250.50") and deal.currency == "EUR"
    assert deal.created_at == dt.datetime(2026, 3, 3, tzinfo=dt.timezone.utc)


def test_an_impossible_date_is_reported_not_guessed(world, pipeline, csv_file):
    report = run(csv_file, "D-1,Acme,Acme,alice,Qualified,10,31/02/2026,,\n")
    assert [(e.column, e.value) for e in report.errors] == [("created", "31/02/2026")]
    assert "%d/%m/%Y" in report.errors[0].message


def test_an_imported_deal_matches_one_created_by_the_service(world, pipeline, make_deal, csv_file):
    made = make_deal(owner=world.alice, title="Made", amount="1000")
    run(csv_file, "D-1,Imported,Acme,alice,Qualified,1000,2026-01-10,,\n")
    imported = Deal.objects.get(external_id="D-1")
    for name in ("team_id", "currency", "source", "forecast_category", "version", "close_date_slips", "stage_id",
                 "pipeline_id", "amount", "custom_fields", "next_step"):
        assert getattr(imported, name) == getattr(made, name), name
    made_row = StageHistory.objects.get(deal=made)
    imported_row = StageHistory.objects.get(deal=imported)
    for name in ("kind", "to_stage_id", "from_stage_id", "amount", "currency", "probability", "override"):
        assert getattr(imported_row, name) == getattr(made_row, name), name


def test_lost_deals_without_a_reason_are_counted_in_the_warnings(world, pipeline, csv_file):
    report = run(csv_file, "D-1,Acme,Acme,alice,Dead,10,2026-01-01,2026-02-01,\n")
    assert report.written and any("1 lost deal has no lost reason" in w for w in report.warnings)


def test_a_row_with_a_bad_stage_still_reports_its_other_problems(world, pipeline, csv_file):
    report = run(csv_file, "D-1,Acme,Acme,alice,Pending,lots,2026-01-01,,\n")
    assert {e.column for e in report.errors} == {"stage", "amount"}


def test_custom_fields_and_next_steps_are_imported_and_checked(world, pipeline, csv_file):
    from dealgate.pipelines.models import CustomField

    CustomField.objects.create(key="region", label="Region")
    CustomField.objects.create(key="seats", label="Seats", type="number")
    mapping = {**MAPPING, "columns": {**MAPPING["columns"], "region": "custom.region", "seats": "custom.seats",
                                      "next": "next_step", "due": "next_step_due"}}
    header = HEADER.rstrip("\n") + ",region,seats,next,due\n"
    text = ("D-1,Acme,Acme,alice,Qualified,10,2026-01-01,,,North,25,Send proposal,2026-12-01\n"
            "D-2,Globex,Globex,alice,Qualified,10,2026-01-01,,,South,many,Call back,\n")
    report = import_file("deals", csv_file(header + text), mapping)
    assert [(e.row, e.column) for e in report.errors] == [(3, "seats"), (3, "next")]
    report = import_file("deals", csv_file(header + text.splitlines()[0] + "\n"), mapping)
    deal = Deal.objects.get(external_id="D-1")
    assert deal.custom_fields == {"region": "North", "seats": 25.0}
    assert (deal.next_step, deal.next_step_due) == ("Send proposal", dt.date(2026, 12, 1))


def test_an_unknown_custom_field_in_the_mapping_is_refused(world, pipeline, csv_file):
    with pytest.raises(MappingInvalid) as caught:
        run(csv_file, GOOD, {**MAPPING, "columns": {**MAPPING["columns"], "amount": "custom.nope"}})
    assert "nope" in caught.value.message


def test_the_pipeline_option_overrides_the_mappings(world, pipeline, csv_file):
    from dealgate.pipelines.services import create_pipeline_from_template

    create_pipeline_from_template("b2b-7")
    report = run(csv_file, "D-1,Acme,Acme,alice,Prospecting,10,2026-01-01,,\n", {**MAPPING, "pipeline": "b2b-7"})
    assert Deal.objects.get(external_id="D-1").pipeline.key == "b2b-7" and report.created == 1
    report = run(csv_file, "D-2,Acme,Acme,alice,Qualified,10,2026-01-01,,\n", {**MAPPING, "pipeline": "b2b-7"},
                 pipeline="test")
    assert Deal.objects.get(external_id="D-2").stage.key == "qualify"


def test_imported_deals_state_spans_are_what_a_rebuild_from_their_history_gives(world, pipeline, csv_file):
    """The importer writes spans from the rows it has in hand; they must equal the projection of the
    history it wrote, and a re-import that changes a deal refreshes them."""
    from dealgate.deals.models import StateSpan
    from dealgate.deals.timeline import refresh_spans

    def spans():
        fields = [f.attname for f in StateSpan._meta.fields if f.name != "id"]
        return sorted(tuple(getattr(s, f) for f in fields) for s in StateSpan.objects.all())

    run(csv_file, GOOD)
    written = spans()
    assert len(written) == StageHistory.objects.count() == 7  # 2 open deals: 1 row; 2 closed: 2 rows
    refresh_spans()
    assert spans() == written
    run(csv_file, GOOD.replace("2500.50", "3100"))
    d2 = Deal.objects.get(external_id="D-2")
    assert StateSpan.objects.filter(deal=d2).order_by("starts_at").last().amount_cents == 310000
    live = spans()
    refresh_spans()
    assert spans() == live


def test_a_row_in_a_post_sale_stage_is_imported_as_won_and_open_is_refused(world, pipeline, csv_file):
    """The signature is the win (decision 010): a deal "in Onboarding" elsewhere is a won deal here."""
    from dealgate.pipelines.models import Stage

    Stage.objects.create(pipeline=pipeline, key="onboard", name="Onboarding", position=6, kind="post", probability=100)
    mapping = {**MAPPING, "columns": {**MAPPING["columns"], "status": "status"}}
    header = "id,name,company,owner,stage,amount,created,closed,lost_reason,status\n"
    refused = import_file("deals", csv_file(header + "D-9,Acme,Acme,alice,Onboarding,900,2026-01-10,,,open\n"), mapping)
    assert refused.blocked and "is a post-sale phase, which only won deals reach" in refused.as_text()

    report = import_file("deals", csv_file(header + "D-9,Acme,Acme,alice,Onboarding,900,2026-01-10,2026-02-01,,\n"),
                         mapping)
    assert report.written and not report.errors
    deal = Deal.objects.get(external_id="D-9")
    assert (deal.stage.key, deal.closed_at.date()) == ("won", dt.date(2026, 2, 1))
