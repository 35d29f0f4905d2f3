"""The write phase of a deals import, column by column: what a new deal, its history, its state
spans and the audit log hold, and what a re-import applies through the deal services.

Written for the mutants of `DealImporter.write`, `_new_deal`, `_span_facts`, `_history` and
`_apply_changes` (bench/mutation.sh import-write) that no test told apart: a file giving every
column, a file giving the fewest, the importing user on each row, and a re-import that changes
the next step, the stage with its date, the lost reason and the owner. Figures from the rows below.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dealgate.audit.models import AuditEntry
from dealgate.deals.bulk import CHUNK
from dealgate.deals.models import Deal, FieldChange, StageHistory, StateSpan
from dealgate.imports.services import import_file

UTC = dt.timezone.utc
FULL = {
    "external_id": "ref",
    "columns": {"title": "title", "account": "account", "owner": "owner", "stage": "stage", "amount": "amount",
                "currency": "currency", "close": "expected_close_date", "created": "created_at",
                "entered": "stage_entered_at", "closed": "closed_at", "reason": "lost_reason", "note": "lost_note",
                "source": "source", "category": "forecast_category", "probability": "probability_override",
                "next": "next_step", "due": "next_step_due"},
    "pipeline": "test",
}
HEADER = "ref,title,account,owner,stage,amount,currency,close,created,entered,closed,reason,note,source,category," \
         "probability,next,due\n"
# F-1: every column, open in propose; M-1: the fewest (carol, West, qualify); L-1: lost with reason and note,
# its probability override 30; W-1: won, its override 70.
ROWS = ("F-1,Full,Acme,alice,propose,1200,EUR,2026-09-30,2026-03-01,2026-03-15,,,,referral,commit,45,Call,2026-04-01\n"
        "M-1,Min,Beta,carol,qualify,,EUR,,2026-03-02,,,,,,,,,\n"
        "L-1,Lost one,Gamma,alice,lost,800,EUR,,2026-01-05,,2026-02-10,price,Too dear,,,30,,\n"
        "W-1,Won one,Delta,alice,won,500,EUR,,2026-01-06,,2026-02-11,,,,,70,,\n")


def _import(csv_file, rows=ROWS, **options):
    return import_file("deals", csv_file(HEADER + rows), FULL, **options)


def _history(ref):
    return list(StageHistory.objects.filter(deal__external_id=ref).order_by("at", "id").values_list(
        "kind", "from_stage__key", "to_stage__key", "at", "by__username", "amount", "currency", "probability",
        "override", "override_reason", "imported"))


def test_a_new_deal_holds_every_column_of_its_row(world, pipeline, csv_file):
    report = _import(csv_file, by=world.dave)
    assert report.written and not report.errors and report.created == 4
    f = Deal.objects.select_related("account", "stage", "pipeline", "lost_reason").get(external_id="F-1")
    assert (f.title, f.account.name, f.owner, f.team_id, f.pipeline.key, f.stage.key) == (
        "Full", "Acme", world.alice, world.east.pk, "test", "propose")
    assert (f.created_at, f.stage_entered_at, f.closed_at, f.lost_reason, f.lost_note) == (
        dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 3, 15, tzinfo=UTC), None, None, "")
    assert (f.amount, f.currency, f.expected_close_date, f.probability_override) == (
        Decimal("1200.00"), "EUR", dt.date(2026, 9, 30), 45)
    assert (f.forecast_category, f.source, f.next_step, f.next_step_due) == (
        "commit", "referral", "Call", dt.date(2026, 4, 1))
    assert (f.custom_fields, f.close_date_slips, f.version) == ({}, 0, 1)

    m = Deal.objects.get(external_id="M-1")
    assert (m.owner, m.team_id, m.amount, m.expected_close_date, m.probability_override) == (
        world.carol, world.west.pk, None, None, None)
    assert (m.forecast_category, m.source, m.next_step, m.next_step_due, m.custom_fields) == (
        "pipeline", "outbound", "", None, {})
    assert (m.stage_entered_at, m.version) == (dt.datetime(2026, 3, 2, tzinfo=UTC), 1)

    lost = Deal.objects.select_related("lost_reason").get(external_id="L-1")
    assert (lost.stage_entered_at, lost.closed_at, lost.lost_reason.key, lost.lost_note) == (
        dt.datetime(2026, 2, 10, tzinfo=UTC), dt.datetime(2026, 2, 10, tzinfo=UTC), "price", "Too dear")


def test_a_new_deals_history_is_created_then_its_stage_by_the_importer(world, pipeline, csv_file):
    """F-1: created in qualify (Mar 1), forward to propose (Mar 15), both at its 45% override.
    M-1: created in qualify only, qualify's 20%. L-1: created (30%), lost (0%). W-1: created (70%), won
    (100%, whatever the override). 2 + 1 + 2 + 2 = 7 rows, each by dave, imported, no override of a gate."""
    report = _import(csv_file, by=world.dave)
    eur = "EUR"
    assert _history("F-1") == [
        ("created", None, "qualify", dt.datetime(2026, 3, 1, tzinfo=UTC), "dave", Decimal("1200.00"), eur, 45,
         False, "", True),
        ("forward", "qualify", "propose", dt.datetime(2026, 3, 15, tzinfo=UTC), "dave", Decimal("1200.00"), eur, 45,
         False, "", True)]
    assert _history("M-1") == [
        ("created", None, "qualify", dt.datetime(2026, 3, 2, tzinfo=UTC), "dave", None, eur, 20, False, "", True)]
    assert [row[:3] + row[7:8] for row in _history("L-1")] == [
        ("created", None, "qualify", 30), ("lost", "qualify", "lost", 0)]
    assert [row[:3] + row[7:8] for row in _history("W-1")] == [
        ("created", None, "qualify", 70), ("won", "qualify", "won", 100)]
    assert report.history_rows == 7
    assert report.rule_events == 7  # one held event per history row (created or moved)


def test_a_new_deals_state_spans_copy_its_pipeline_owner_team_category_and_close_date(world, pipeline, csv_file):
    _import(csv_file, by=world.dave)
    spans = {(s.deal.external_id, s.stage_id): s for s in StateSpan.objects.select_related("deal")}
    propose = pipeline.stages.get(key="propose").pk
    f = spans[("F-1", propose)]
    assert (f.pipeline_id, f.created_at, f.close_date, f.forecast_category, f.owner_id, f.team_id) == (
        pipeline.pk, dt.datetime(2026, 3, 1, tzinfo=UTC), dt.date(2026, 9, 30), "commit", world.alice.pk,
        world.east.pk)
    m = spans[("M-1", pipeline.stages.get(key="qualify").pk)]
    assert (m.created_at, m.close_date, m.forecast_category, m.owner_id, m.team_id) == (
        dt.datetime(2026, 3, 2, tzinfo=UTC), None, "pipeline", world.carol.pk, world.west.pk)


def test_each_new_deal_is_in_the_audit_log_as_created_in_its_stage_by_the_importer(world, pipeline, csv_file):
    _import(csv_file, by=world.dave)
    entries = sorted((e.object_name, e.object_id, e.field, e.after, e.by.username, e.surface)
                     for e in AuditEntry.objects.filter(object_type="deal", action="created").select_related("by"))
    ids = dict(Deal.objects.values_list("external_id", "pk"))
    assert entries == [("Full", ids["F-1"], "stage", "Propose", "dave", "import"),
                       ("Lost one", ids["L-1"], "stage", "Lost", "dave", "import"),
                       ("Min", ids["M-1"], "stage", "Qualify", "dave", "import"),
                       ("Won one", ids["W-1"], "stage", "Won", "dave", "import")]


def test_a_reimport_applies_the_next_step_the_dated_stage_and_the_owner_as_the_importer(world, pipeline, csv_file):
    """F-1 again: next step "Send contract" due May 1; negotiate entered Apr 10; owner carol (West).
    M-1 again: lost on Apr 20 for price, "Budget cut". The stage moves are the re-import's 2 history rows."""
    _import(csv_file, by=world.dave)
    again = ("F-1,Full,Acme,carol,negotiate,1200,EUR,2026-09-30,2026-03-01,2026-04-10,,,,referral,commit,45,"
             "Send contract,2026-05-01\n"
             "M-1,Min,Beta,carol,lost,,EUR,,2026-03-02,,2026-04-20,price,Budget cut,,,,,\n")
    report = _import(csv_file, again, by=world.dave)
    assert (report.updated, report.history_rows) == (2, 2)
    f = Deal.objects.select_related("stage").get(external_id="F-1")
    assert (f.next_step, f.next_step_due, f.stage.key, f.stage_entered_at, f.owner, f.team_id) == (
        "Send contract", dt.date(2026, 5, 1), "negotiate", dt.datetime(2026, 4, 10, tzinfo=UTC), world.carol,
        world.west.pk)
    assert _history("F-1")[-1][:5] == ("forward", "propose", "negotiate", dt.datetime(2026, 4, 10, tzinfo=UTC),
                                       "dave")
    changes = sorted((c.field, c.old_value, c.new_value, c.by.username)
                     for c in FieldChange.objects.filter(deal=f).select_related("by"))
    assert changes == [("owner", str(world.alice.pk), str(world.carol.pk), "dave"),
                       ("team", str(world.east.pk), str(world.west.pk), "dave")]
    audit = sorted((e.field, e.before, e.after, e.by.username, e.surface)
                   for e in AuditEntry.objects.filter(object_type="deal", object_id=f.pk, action="changed"))
    assert audit == [("next_step", "Call", "Send contract", "dave", "import"),
                     ("next_step_due", "2026-04-01", "2026-05-01", "dave", "import"),
                     ("owner", "alice", "carol", "dave", "import"), ("team", "East", "West", "dave", "import")]
    m = Deal.objects.select_related("stage", "lost_reason").get(external_id="M-1")
    assert (m.stage.key, m.closed_at, m.lost_reason.key, m.lost_note) == (
        "lost", dt.datetime(2026, 4, 20, tzinfo=UTC), "price", "Budget cut")
    assert _history("M-1")[-1][:5] == ("lost", "qualify", "lost", dt.datetime(2026, 4, 20, tzinfo=UTC), "dave")


def test_a_reimport_changing_a_field_records_it_as_the_importer(world, pipeline, csv_file):
    """Bob (East's manager) re-imports East's three deals (M-1 is West's) with F-1 renamed and at 1,300."""
    _import(csv_file, by=world.dave)
    east = "".join(line + "\n" for line in ROWS.splitlines() if not line.startswith("M-1"))
    report = _import(csv_file, east.replace("Full,Acme,alice,propose,1200", "Full deal,Acme,alice,propose,1300"),
                     by=world.bob)
    assert (report.updated, report.unchanged, report.history_rows) == (1, 2, 0)
    f = Deal.objects.get(external_id="F-1")
    assert (f.title, f.amount) == ("Full deal", Decimal("1300.00"))
    assert [(c.field, c.old_value, c.new_value, c.by.username) for c in FieldChange.objects.filter(deal=f)] == [
        ("amount", "1200.00", "1300.00", "bob")]


# --- a stage-history file: the rows it adds between a deal's creation and its current stage ----------

def test_the_history_row_count_adds_up_over_more_than_one_chunk_of_new_deals(world, pipeline, csv_file):
    """1,001 new deals, written in chunks of 1,000: B-0000 to B-0999 in qualify (created there: one
    history row each), then P-1 in propose (created Mar 1 in qualify, entered propose Mar 15: the
    created row and the forward move). 1,000 x 1 + 2 = 1,002 history rows, not the last chunk's 2."""
    assert CHUNK == 1000
    rows = "".join(f"B-{n:04d},Bulk {n},Beta,carol,qualify,,EUR,,2026-03-02,,,,,,,,,\n" for n in range(1000))
    rows += "P-1,Past,Acme,alice,propose,1200,EUR,,2026-03-01,2026-03-15,,,,,,,,\n"
    report = _import(csv_file, rows)
    assert report.written and not report.errors and (report.created, report.history_rows) == (1001, 1002)
    assert StageHistory.objects.count() == 1002


STAGES = "deal_external_id,deal_id,stage,entered_at\n"


def test_a_stage_path_goes_back_and_forth_with_the_stays_amount_and_stage_probability(world, pipeline, csv_file):
    """S-1: created Jan 1 in qualify (700 EUR), in negotiate since Mar 1. The file adds propose (Jan 20,
    forward), qualify (Feb 1, backward), propose (Feb 10, forward): each from the stage before it, at the
    deal's 700 EUR, at the stage's own probability (60, 20, 60), imported, by dave; one audit entry. The
    deals file's own row into negotiate (80%) stays as it was."""
    _import(csv_file, "S-1,Path,Acme,alice,negotiate,700,EUR,,2026-01-01,2026-03-01,,,,,,,,\n", by=world.dave)
    report = import_file("stage-history", csv_file(STAGES + "S-1,,propose,2026-01-20\nS-1,,qualify,2026-02-01\n"
                                                   "S-1,,propose,2026-02-10\n"), "generic", by=world.dave)
    assert report.written and (report.created, report.history_rows) == (3, 3)
    at = [dt.datetime(2026, 1, day, tzinfo=UTC) for day in (1, 20)] + [
        dt.datetime(2026, 2, day, tzinfo=UTC) for day in (1, 10)] + [dt.datetime(2026, 3, 1, tzinfo=UTC)]
    seven = Decimal("700.00")
    assert _history("S-1") == [
        ("created", None, "qualify", at[0], "dave", seven, "EUR", 20, False, "", True),
        ("forward", "qualify", "propose", at[1], "dave", seven, "EUR", 60, False, "", True),
        ("backward", "propose", "qualify", at[2], "dave", seven, "EUR", 20, False, "", True),
        ("forward", "qualify", "propose", at[3], "dave", seven, "EUR", 60, False, "", True),
        ("forward", "qualify", "negotiate", at[4], "dave", seven, "EUR", 80, False, "", True)]
    [entry] = AuditEntry.objects.filter(field="stage history")
    assert (entry.object_type, entry.object_name, entry.object_id, entry.action, entry.before, entry.after) == (
        "deal", "S-1", Deal.objects.get(external_id="S-1").pk, "changed", "", "Propose > Qualify > Propose")


def test_a_stage_row_repeating_the_stage_the_deal_is_in_adds_no_move(world, pipeline, csv_file):
    """Q-1: created Jan 1 in qualify, in negotiate since Mar 1. An export that lists qualify again on
    Jan 10 (the deal is still in qualify then) and propose on Jan 20: the qualify row is no move (it was
    recorded as a qualify -> qualify "backward" move): it is left out, and the report says so and why;
    the propose row is added, from qualify. The deals file's own row into negotiate stays as it was
    (as in the test above)."""
    _import(csv_file, "Q-1,Again,Acme,alice,negotiate,700,EUR,,2026-01-01,2026-03-01,,,,,,,,\n")
    report = import_file("stage-history", csv_file(STAGES + "Q-1,,qualify,2026-01-10\nQ-1,,propose,2026-01-20\n"),
                         "generic")
    assert report.written and (report.created, report.unchanged, report.history_rows) == (1, 0, 1)
    assert report.warnings == ["1 row left out as already known: the deal was already in the row's stage at its "
                               "date, so there is no stage change to record"]
    assert [row[:3] for row in _history("Q-1")] == [
        ("created", None, "qualify"), ("forward", "qualify", "propose"), ("forward", "qualify", "negotiate")]


def test_a_stage_row_repeating_a_row_of_the_same_file_is_left_out_too(world, pipeline, csv_file):
    """Q-2: created Jan 1 in qualify, in negotiate since Mar 1. The file has propose on Jan 20 and again on
    Feb 1, and qualify on Jan 5: qualify repeats the created row's stage, the Feb 1 propose repeats the
    Jan 20 row of the same file. One move is written (qualify -> propose, forward), 2 rows left out."""
    _import(csv_file, "Q-2,Twice,Acme,alice,negotiate,700,EUR,,2026-01-01,2026-03-01,,,,,,,,\n")
    report = import_file("stage-history", csv_file(
        STAGES + "Q-2,,propose,2026-02-01\nQ-2,,qualify,2026-01-05\nQ-2,,propose,2026-01-20\n"), "generic")
    assert (report.created, report.unchanged, report.history_rows) == (1, 0, 1)
    assert report.warnings == ["2 rows left out as already known: the deal was already in the row's stage at its "
                               "date, so there is no stage change to record"]
    assert [row[:4] for row in _history("Q-2")] == [
        ("created", None, "qualify", dt.datetime(2026, 1, 1, tzinfo=UTC)),
        ("forward", "qualify", "propose", dt.datetime(2026, 1, 20, tzinfo=UTC)),
        ("forward", "qualify", "negotiate", dt.datetime(2026, 3, 1, tzinfo=UTC))]


def test_a_stage_row_between_a_loss_and_a_reopening_reopens_the_deal(world, pipeline, csv_file):
    """R-1 was lost on Feb 1 and reopened into propose on Mar 1 (a re-import): a negotiate row on Feb 15
    comes after the loss, so it is the reopening (from Lost); the existing Mar 1 row stays as it was."""
    _import(csv_file, "R-1,Back,Acme,alice,lost,900,EUR,,2026-01-01,,2026-02-01,,,,,,,\n")
    _import(csv_file, "R-1,Back,Acme,alice,propose,900,EUR,,2026-01-01,2026-03-01,,,,,,,,\n")
    report = import_file("stage-history", csv_file(STAGES + "R-1,,negotiate,2026-02-15\n"), "generic")
    assert report.written and report.history_rows == 1
    assert [row[:4] + row[7:8] for row in _history("R-1")] == [
        ("created", None, "qualify", dt.datetime(2026, 1, 1, tzinfo=UTC), 20),
        ("lost", "qualify", "lost", dt.datetime(2026, 2, 1, tzinfo=UTC), 0),
        ("reopened", "lost", "negotiate", dt.datetime(2026, 2, 15, tzinfo=UTC), 80),
        ("reopened", "lost", "propose", dt.datetime(2026, 3, 1, tzinfo=UTC), 60)]


def test_a_deal_without_an_external_id_is_named_by_its_id_in_the_audit_log(world, pipeline, csv_file):
    """A deal made in Dealgate and moved by an import has no external id: its stage path entry is "<id>"."""
    from dealgate.imports.services import record_imported_move

    deal = Deal.objects.create(title="Own", account=_account(world), owner=world.alice, team=world.east,
                               pipeline=pipeline, stage=pipeline.stages.get(key="qualify"),
                               created_at=dt.datetime(2026, 1, 1, tzinfo=UTC),
                               stage_entered_at=dt.datetime(2026, 1, 1, tzinfo=UTC))
    StageHistory.objects.create(deal=deal, to_stage=deal.stage, kind="created", at=deal.created_at, currency="EUR",
                                probability=20)
    record_imported_move(deal, pipeline.stages.get(key="negotiate"), by=None,
                         at=dt.datetime(2026, 3, 1, tzinfo=UTC))
    report = import_file("stage-history", csv_file(STAGES + f",{deal.pk},propose,2026-02-01\n"), "generic",
                         by=world.dave)
    assert report.written and report.history_rows == 1
    [entry] = AuditEntry.objects.filter(field="stage history")
    assert (entry.object_name, entry.object_id, entry.after, entry.by.username) == (
        str(deal.pk), deal.pk, "Propose", "dave")


def _account(world):
    from dealgate.deals.models import Account

    return Account.objects.create(name="Own account", owner=world.alice)


def test_with_the_rules_on_each_history_row_queues_its_event_naming_the_row(world, pipeline, csv_file):
    """run_rules: F-1, L-1 and W-1 queue "created" then "moved", M-1 "created" only: 4 created + 3 moved,
    each naming its deal and its history row (the database queue holds the jobs)."""
    from django_tasks_db.models import DBTaskResult

    report = _import(csv_file, run_rules=True)
    assert report.rule_events == 7
    jobs = sorted(tuple(job.args_kwargs["args"]) for job in DBTaskResult.objects.all())
    rows = StageHistory.objects.filter(deal__external_id__in=["F-1", "M-1", "L-1", "W-1"])
    assert jobs == sorted(("created" if row.kind == "created" else "moved", row.deal_id, f"history:{row.pk}")
                          for row in rows)
    assert [job[0] for job in jobs].count("created") == 4


def test_with_the_rules_on_a_reimported_move_queues_a_moved_event(world, pipeline, csv_file):
    """F-1 re-imported in negotiate (entered Apr 10) with the rules on: one job, "moved", naming that row."""
    from django_tasks_db.models import DBTaskResult

    _import(csv_file)
    DBTaskResult.objects.all().delete()
    again = "F-1,Full,Acme,alice,negotiate,1200,EUR,2026-09-30,2026-03-01,2026-04-10,,,,referral,commit,45,Call,2026-04-01\n"
    report = _import(csv_file, again, run_rules=True)
    assert report.rule_events == 1
    row = StageHistory.objects.get(deal__external_id="F-1", to_stage__key="negotiate")
    assert [job.args_kwargs["args"] for job in DBTaskResult.objects.all()] == [["moved", row.deal_id, f"history:{row.pk}"]]


def test_each_stage_row_follows_the_one_just_before_it_in_time_over_several_imports(world, pipeline, csv_file):
    """T-1: created Jan 1 (qualify), in negotiate since Mar 1. Three stage files, one row each: propose
    Feb 10, then negotiate Jan 20, then qualify Feb 20. The last one comes after propose (Feb 10), the
    latest row before it in time though not the latest written (negotiate, Jan 20): backward from propose.
    Rows already written keep the stage they were written from (history is appended, never rewritten)."""
    _import(csv_file, "T-1,Order,Acme,alice,negotiate,100,EUR,,2026-01-01,2026-03-01,,,,,,,,\n")
    for line in ("T-1,,propose,2026-02-10", "T-1,,negotiate,2026-01-20", "T-1,,qualify,2026-02-20"):
        assert import_file("stage-history", csv_file(STAGES + line + "\n"), "generic").written
    assert [row[:3] for row in _history("T-1")] == [
        ("created", None, "qualify"), ("forward", "qualify", "negotiate"), ("forward", "qualify", "propose"),
        ("backward", "propose", "qualify"), ("forward", "qualify", "negotiate")]


def test_an_owner_without_a_profile_gets_a_deal_of_no_team(world, pipeline, csv_file):
    """A user made outside Dealgate's services (e.g. Django's createsuperuser) has no profile, so no team."""
    from django.contrib.auth import get_user_model

    olga = get_user_model().objects.create_user(username="olga", password=None)
    assert _import(csv_file, "O-1,Olga's,Acme,olga,qualify,100,EUR,,2026-01-01,,,,,,,,,\n").written
    deal = Deal.objects.get(external_id="O-1")
    assert (deal.owner, deal.team_id) == (olga, None)
    assert StateSpan.objects.get(deal=deal).team_id is None
