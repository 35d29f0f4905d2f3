"""Imports that would distort the numbers say so (issue 15 §4): rows without a created date, and
the stage path a deal file does not carry."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.deals.models import Deal, StageHistory
from dealgate.imports.services import import_file

UTC = dt.timezone.utc
MAPPING = {
    "external_id": "id",
    "columns": {"name": "title", "company": "account", "owner": "owner", "stage": "stage", "created": "created_at",
                "entered": "stage_entered_at", "closed": "closed_at", "reason": "lost_reason"},
    "pipeline": "test",
}
HEADER = "id,name,company,owner,stage,created,entered,closed,reason\n"


def test_a_row_without_a_created_date_takes_the_earliest_date_it_has_and_the_report_says_so(world, pipeline,
                                                                                            csv_file):
    """N-1 has its created date (Jan 5). N-2, open in propose since Mar 3, has none: created Mar 3.
    N-3, won on Apr 20, has none: created Apr 20 (its closed date). The report: 2 new deals had no
    created date, 1 dated by the day it entered its stage and 1 by its closed date."""
    report = import_file("deals", csv_file(HEADER
                                           + "N-1,One,Acme,alice,qualify,2026-01-05,,,\n"
                                           + "N-2,Two,Acme,alice,propose,,2026-03-03,,\n"
                                           + "N-3,Three,Acme,alice,won,,,2026-04-20,\n"), MAPPING)
    assert report.written and report.created == 3
    created = dict(Deal.objects.values_list("external_id", "created_at"))
    assert created == {"N-1": dt.datetime(2026, 1, 5, tzinfo=UTC), "N-2": dt.datetime(2026, 3, 3, tzinfo=UTC),
                       "N-3": dt.datetime(2026, 4, 20, tzinfo=UTC)}
    first = StageHistory.objects.get(deal__external_id="N-2", from_stage=None)
    assert first.at == dt.datetime(2026, 3, 3, tzinfo=UTC)  # entered the first stage at that date too
    assert report.created_dates == {"created date": 1, "the day they entered their stage": 1,
                                    "their closed date": 1}
    assert ("No created date in the file for 2 new deals: 1 dated by the day they entered their stage, "
            "1 dated by their closed date.") in report.as_text()
    assert report.as_dict()["notes"][0] == (
        "No created date in the file for 2 new deals: 1 dated by the day they entered their stage, "
        "1 dated by their closed date.")


def test_a_new_deal_with_no_date_at_all_is_refused_not_dated_today(world, pipeline, csv_file):
    """N-4 is open in qualify with no date anywhere: dated today it would not have been open in the
    past, so the row is refused, naming the column to map, and nothing is written."""
    report = import_file("deals", csv_file(HEADER + "N-4,Four,Acme,alice,qualify,,,,\n"
                                           + "N-5,Five,Acme,alice,qualify,2026-02-01,,,\n"), MAPPING)
    assert report.blocked and not report.written and Deal.objects.count() == 0
    (error,) = report.errors
    assert (error.row, error.column, error.value) == (2, "created", "")
    assert error.message.startswith("a new deal needs the date it was created, and this row gives no date")
    skipped = import_file("deals", csv_file(HEADER + "N-4,Four,Acme,alice,qualify,,,,\n"
                                            + "N-5,Five,Acme,alice,qualify,2026-02-01,,,\n"), MAPPING,
                          skip_bad_rows=True)
    assert skipped.written and list(Deal.objects.values_list("external_id", flat=True)) == ["N-5"]


def test_a_re_import_without_a_created_date_updates_the_deal(world, pipeline, csv_file):
    """An existing deal keeps its created date on a re-import; a file without dates may still update it."""
    import_file("deals", csv_file(HEADER + "N-6,Six,Acme,alice,qualify,2026-02-01,,,\n"), MAPPING)
    report = import_file("deals", csv_file(HEADER + "N-6,Six renamed,Acme,alice,qualify,,,,\n"), MAPPING)
    assert report.written and report.updated == 1 and not report.errors
    assert Deal.objects.get().title == "Six renamed"
    assert report.notes == []


def _closed_deals(csv_file):
    """W-1: created Jan 1, won Mar 1 (qualify -> won). W-2: created Jan 1, open, in negotiate since Feb 20
    (qualify -> negotiate). Both alice's."""
    return import_file("deals", csv_file(HEADER + "W-1,One,Acme,alice,won,2026-01-01,,2026-03-01,\n"
                                         + "W-2,Two,Acme,alice,negotiate,2026-01-01,2026-02-20,,\n"), MAPPING)


def test_a_deal_file_without_a_stage_path_says_so(world, pipeline, csv_file):
    report = _closed_deals(csv_file)
    assert report.written
    assert ("This file carries no stage path: 1 new closed deal goes from their first stage straight to Won or "
            "Lost") in report.as_text()
    assert "dealgate import stage-history FILE" in report.notes[-1]


STAGES = "deal_external_id,stage,entered_at\n"


def test_a_stage_history_file_fills_in_the_path_between_creation_and_the_close(world, pipeline, csv_file):
    """W-1 went qualify (Jan 1) -> propose (Jan 21) -> negotiate (Feb 10) -> won (Mar 1). The file repeats
    the created and won rows (already known: unchanged) and adds the two moves in between, imported and
    by the importer. W-2 gets propose on Jan 15 (before negotiate on Feb 20)."""
    _closed_deals(csv_file)
    report = import_file("stage-history", csv_file(STAGES + "W-1,qualify,2026-01-01\nW-1,propose,2026-01-21\n"
                                                   "W-1,Negotiate,2026-02-10\nW-1,won,2026-03-01\n"
                                                   "W-2,propose,2026-01-15\n"), "generic", by=world.dave)
    assert report.written and not report.errors
    assert (report.created, report.unchanged, report.history_rows) == (3, 2, 3)
    path = list(StageHistory.objects.filter(deal__external_id="W-1").order_by("at")
                .values_list("to_stage__key", "kind", "imported", "by__username"))
    assert path == [("qualify", "created", True, None), ("propose", "forward", True, "dave"),
                    ("negotiate", "forward", True, "dave"), ("won", "won", True, None)]
    assert list(StageHistory.objects.filter(deal__external_id="W-2").order_by("at")
                .values_list("to_stage__key", flat=True)) == ["qualify", "propose", "negotiate"]
    from dealgate.audit.models import AuditEntry

    entries = {e.object_name: (e.surface, e.by.username, e.after)
               for e in AuditEntry.objects.filter(field="stage history").select_related("by")}
    assert entries == {"W-1": ("import", "dave", "Propose > Negotiate"), "W-2": ("import", "dave", "Propose")}
    again = import_file("stage-history", csv_file(STAGES + "W-1,propose,2026-01-21\n"), "generic", by=world.dave)
    assert (again.created, again.unchanged) == (0, 1)


def test_the_imported_path_feeds_conversion_and_deal_show(world, pipeline, csv_file):
    """Before the stage history, W-1's last stay is Qualify, Jan 1 -> Mar 1: 59 days. After, Negotiate,
    Feb 10 -> Mar 1: 19 days; and the Q1 conversion of Propose counts W-1 (entered Jan 21, moved on)."""
    from io import StringIO

    from django.core.management import call_command

    from dealgate.analytics import metrics
    from dealgate.analytics.history import Scope
    from dealgate.analytics.periods import parse_period

    _closed_deals(csv_file)
    deal = Deal.objects.get(external_id="W-1")

    def show() -> str:
        out = StringIO()
        call_command("deal", "show", str(deal.pk), stdout=out)
        return out.getvalue()

    assert "won on 2026-03-01 from Qualify after 59 days there" in show()
    import_file("stage-history", csv_file(STAGES + "W-1,propose,2026-01-21\nW-1,negotiate,2026-02-10\n"), "generic")
    assert "won on 2026-03-01 from Negotiate after 19 days there" in show()
    propose = pipeline.stages.get(key="propose").pk
    row = metrics.conversion(Scope(), parse_period("2026-Q1"), at_("2026-06-01"))[propose]
    assert (row["entered"], row["advanced"]) == (1, 1)


def at_(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("line, column, message", [
    ("W-9,propose,2026-01-21", "deal_external_id", "no deal has this external id; import the deals first"),
    ("W-1,ship-it,2026-01-21", "stage", "is not a stage of pipeline 'test'"),
    ("W-1,propose,2025-12-01", "entered_at", "is outside the deal's history"),
    ("W-1,propose,2026-03-05", "entered_at", "is outside the deal's history"),
    ("W-1,lost,2026-02-01", "stage", "the deal is not lost at 2026-02-01 00:00 in Dealgate"),
    ("W-1,propose,9999-12-31", "entered_at", ""),
    ("W-1,propose,١٢", "entered_at", "is not a date"),
])
def test_a_bad_stage_row_blocks_the_file_naming_row_and_column(world, pipeline, csv_file, line, column, message):
    _closed_deals(csv_file)
    before = StageHistory.objects.count()
    report = import_file("stage-history", csv_file(STAGES + "W-1,propose,2026-01-21\n" + line + "\n"), "generic")
    assert report.blocked and not report.written and StageHistory.objects.count() == before
    (error,) = report.errors
    assert (error.row, error.column) == (3, column) and message in error.message


def test_a_manager_may_not_add_history_to_another_teams_deal(world, pipeline, csv_file):
    """W-1 is alice's (East): a manager of West is refused, bob (East's manager) is not."""
    from dealgate.people.services import create_user

    _closed_deals(csv_file)
    walt = create_user(username="walt", password=None, role="manager", team=world.west)
    report = import_file("stage-history", csv_file(STAGES + "W-1,propose,2026-01-21\n"), "generic", by=walt)
    assert report.blocked and "names a deal walt may not change (another team's)" in report.errors[0].message
    assert import_file("stage-history", csv_file(STAGES + "W-1,propose,2026-01-21\n"), "generic",
                       by=world.bob).written


def test_the_hubspot_layout_keeps_to_dealstage_rows(world, pipeline, csv_file):
    """HubSpot's property history holds every property; only the dealstage rows are stage changes (2 of 3)."""
    _closed_deals(csv_file)
    mapping = {"extends": "hubspot", "stages": {"presentationscheduled": "propose", "contractsent": "negotiate",
                                                "appointmentscheduled": "qualify", "closedwon": "won"}}
    text = ("Record ID,Property,Value,Timestamp\n"
            "W-1,dealstage,presentationscheduled,2026-01-21 10:00\n"
            "W-1,amount,5000,2026-01-22 10:00\n"
            "W-1,dealstage,contractsent,2026-02-10 09:00\n")
    report = import_file("stage-history", csv_file(text), mapping)
    assert report.written and (report.created, report.history_rows) == (2, 2)
    assert "1 row left out: only rows where Property is 'dealstage' are stage changes" in report.as_text()


def test_an_open_deal_in_a_retired_stage_is_refused_a_closed_one_that_passed_it_is_not(world, pipeline, csv_file):
    """Decision 036 / docs/importing.md: no open deal sits in a retired stage, so a row that would put one
    there is refused with what to do; a won or lost row naming it is the past and goes to Won/Lost."""
    from dealgate.pipelines.models import Criterion
    from dealgate.web.pipeline_settings import restore_stage, retire_stage

    Criterion.objects.filter(stage__pipeline=pipeline).delete()
    propose = pipeline.stages.get(key="propose")
    retire_stage(propose, by=world.dave)
    rows = HEADER + "R-1,One,Acme,alice,propose,2026-01-05,,,\n" + "R-2,Two,Acme,alice,Propose,2026-01-05,,,\n"
    report = import_file("deals", csv_file(rows), MAPPING)
    assert report.blocked and not report.written and Deal.objects.count() == 0
    assert [(e.row, e.column) for e in report.errors] == [(2, "stage"), (3, "stage")]
    assert report.errors[0].message == ("Stage 'Propose' is retired; restore it in settings or map the row to "
                                        "another stage")
    unknown = import_file("deals", csv_file(HEADER + "R-9,Nine,Acme,alice,ship-it,2026-01-05,,,\n"), MAPPING)
    assert "its stages are: qualify, propose (retired), negotiate, won, lost" in unknown.errors[0].message
    closed = import_file("deals", csv_file("id,name,company,owner,stage,status,created,closed\n"
                                           "R-3,Three,Acme,alice,propose,won,2026-01-05,2026-02-01\n"),
                         {**MAPPING, "columns": {**MAPPING["columns"], "status": "status"}})
    assert closed.written and Deal.objects.get(external_id="R-3").stage.key == "won"
    restore_stage(propose, by=world.dave)
    assert import_file("deals", csv_file(rows), MAPPING).created == 2
