"""Imports and rules (docs/decisions/016-imports-and-rules.md): an import is history from another
system, so its rows run no event rule (nobody gets 10,000 "new owner" notices) unless the importer
opts in; the worker's scans still see imported open deals, so a stale one is alerted at the next scan.

The file (pipeline "test": qualify idle limit 7 days, propose 10 days; today is long after 2026-02):
  D-1 Acme     alice  Qualified      created 2026-01-10          open, in qualify since Jan 10
  D-2 Globex   bob    Proposal sent  created 2026-01-11          open, in propose since Jan 11
  D-3 Initech  alice  Signed         created 2026-02-14, won     closed
  D-4 Umbrella alice  Dead           created 2026-01-05, lost    closed
= 4 "created" events and 3 moves (D-2 to propose, D-3 to won, D-4 to lost): 7 events.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from dealgate.automation.models import Notification, RuleRun, Task
from dealgate.deals.models import Deal
from dealgate.imports.services import import_file
from tests.automation.conftest import follow_up
from tests.imports.conftest import DEALS_HEADER as HEADER
from tests.imports.conftest import DEALS_MAPPING as MAPPING
from tests.imports.conftest import csv_file  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)  # the real worker runs the rules

ROWS = (
    "D-1,Acme,Acme Corp,alice,Qualified,1000,2026-01-10,,\n"
    "D-2,Globex,Globex,bob,Proposal sent,2500,2026-01-11,,\n"
    "D-3,Initech,Initech,alice,Signed,9000,2026-02-14,2026-03-20,\n"
    "D-4,Umbrella,Umbrella,alice,Dead,4000,2026-01-05,2026-02-01,price\n"
)
EVENT_TRIGGERS = ["deal_created", "deal_assigned", "stage_entered", "deal_won", "deal_lost"]


@pytest.fixture
def event_rules(make_rule):
    """One rule per event trigger, each leaving a trace (a notification or a task)."""
    make_rule(name="Welcome", trigger="deal_created", actions=[{"type": "notify", "title": "New: {deal}"}])
    make_rule(name="Yours", trigger="deal_assigned", actions=[
        {"type": "notify", "kind": "assigned", "title": "{deal} is yours now"}])
    make_rule(name="Follow up", trigger="stage_entered", trigger_stage="propose", actions=[follow_up(3)])
    make_rule(name="Cheer", trigger="deal_won", actions=[{"type": "notify", "title": "Won: {deal}"}])
    make_rule(name="Lost", trigger="deal_lost", actions=[{"type": "notify", "title": "Lost: {deal}"}])


def _import(csv_file, text=ROWS, **options):
    return import_file("deals", csv_file(HEADER + text), MAPPING, **options)


def _rule_notices():
    return sorted(n.title for n in Notification.objects.exclude(kind__in=["review", "task"]))


def test_an_import_runs_no_event_rule_and_queues_no_job(world, pipeline, csv_file, event_rules, run_worker):
    jobs = DBTaskResult.objects.count()
    report = _import(csv_file)
    assert report.written and report.created == 4
    assert DBTaskResult.objects.count() == jobs  # nothing queued for the rules
    assert report.rule_events == 7  # 4 created + 3 moves, held
    assert "Rules: not run for these rows" in report.as_text() and "--run-rules" in report.as_text()
    assert report.as_dict()["run_rules"] is False
    run_worker()
    assert not RuleRun.objects.filter(trigger__in=EVENT_TRIGGERS).exists()
    assert _rule_notices() == [] and not Task.objects.exists()


def test_a_reimport_that_changes_owner_and_stage_notifies_nobody(world, pipeline, csv_file, event_rules, run_worker):
    """D-1 goes to carol in Proposal sent: the app would say "Acme is yours now" and add a follow-up."""
    _import(csv_file)
    report = _import(csv_file, "D-1,Acme,Acme Corp,carol,Proposal sent,1000,2026-01-10,,\n")
    assert report.updated == 1 and report.rule_events == 2  # the move and the new owner, held
    deal = Deal.objects.get(external_id="D-1")
    assert (deal.owner, deal.stage.key) == (world.carol, "propose")
    run_worker()
    assert _rule_notices() == [] and not Task.objects.exists()


def test_an_imported_open_idle_deal_gets_the_stale_alert_at_the_next_scan(world, pipeline, csv_file, make_rule):
    """Stage limits: Acme in qualify since Jan 10 (> 7 days), Globex in propose since Jan 11 (> 10
    days): both stale; Initech and Umbrella are closed. The manager of each owner's team gets one
    alert per deal (bob manages East: alice's Acme and his own Globex), once, not at every scan,
    although a scan ran before the import (the import makes the next scan a full one)."""
    make_rule(name="Stale", trigger="deal_idle",
              actions=[{"type": "notify", "to": "manager", "title": "{deal} went quiet"}])
    call_command("worker", "--batch", "--interval", "0")  # a scan before: its mark is later than the file's dates
    _import(csv_file)
    call_command("worker", "--batch", "--interval", "0")
    call_command("worker", "--batch", "--interval", "0")
    alerts = sorted((n.user.username, n.title) for n in Notification.objects.filter(title__endswith="went quiet"))
    assert alerts == [("bob", "Acme went quiet"), ("bob", "Globex went quiet")]
    assert RuleRun.objects.filter(trigger="deal_idle").count() == 2


def test_an_import_that_opts_in_runs_each_event_rule_once(world, pipeline, csv_file, event_rules, run_worker):
    """Created: 4 "New:" notices; propose: one follow-up task (Globex); won: Initech; lost: Umbrella."""
    jobs = DBTaskResult.objects.count()
    report = _import(csv_file, run_rules=True)
    assert report.rule_events == 7 and DBTaskResult.objects.count() == jobs + 7
    assert "Rules: 7 changes (new deals, stage changes, new owners) sent to the automation rules" in report.as_text()
    run_worker()
    run_worker()
    assert _rule_notices() == ["Lost: Umbrella", "New: Acme", "New: Globex", "New: Initech", "New: Umbrella",
                               "Won: Initech"]
    assert [t.title for t in Task.objects.all()] == ["Follow up on the proposal for Globex"]


def test_the_cli_runs_the_rules_only_when_asked(world, pipeline, csv_file, event_rules, run_worker, tmp_path):
    import json
    from io import StringIO

    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING))
    out = StringIO()
    call_command("import", "deals", csv_file(HEADER + ROWS), "--mapping", str(mapping), stdout=out)
    assert "Rules: not run for these rows" in out.getvalue()
    out = StringIO()
    call_command("import", "deals", csv_file(HEADER + "D-5,Hooli,Hooli,alice,Qualified,700,2026-11-02,,\n"),
                 "--mapping", str(mapping), "--run-rules", stdout=out)
    assert "Rules: 1 change (new deals, stage changes, new owners) sent" in out.getvalue()
    run_worker()
    assert _rule_notices() == ["New: Hooli"]
