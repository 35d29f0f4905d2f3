"""Imports that would distort the numbers say so (issue 15 §4): rows without a created date, and
the stage path a deal file does not carry."""

from __future__ import annotations

import datetime as dt

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
    assert report.as_dict()["notes"] == [
        "No created date in the file for 2 new deals: 1 dated by the day they entered their stage, "
        "1 dated by their closed date."]


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
