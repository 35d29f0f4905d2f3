"""Rules run by the real worker (`dealgate worker --batch`), once per occurrence, after commit only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from dealgate.automation.models import Notification, RuleRun, Task
from dealgate.deals import services as deal_services
from tests.automation.conftest import follow_up, webhook, workers_at_once

pytestmark = pytest.mark.django_db(transaction=True)


def _enter_propose(deal, world):
    return deal_services.move_deal(deal, "propose", by=world.bob, override_reason="tested elsewhere")


def test_it_queues_rules_only_when_the_move_commits(world, make_deal):
    deal = make_deal(amount=1000)
    queued = DBTaskResult.objects.count()  # the creation queued one job
    with pytest.raises(RuntimeError), transaction.atomic():
        _enter_propose(deal, world)
        raise RuntimeError("the request failed after the move")
    assert DBTaskResult.objects.count() == queued
    deal.refresh_from_db()
    _enter_propose(deal, world)
    assert DBTaskResult.objects.count() == queued + 1


def test_with_the_database_queue_the_job_is_written_in_the_moves_own_transaction(world, make_deal):
    """One commit for the move and its job: the job row exists before the commit (the worker sees it
    only after), and a rolled-back move takes it away (the test above)."""
    deal = make_deal(amount=1000)
    queued = DBTaskResult.objects.count()
    with transaction.atomic():
        _enter_propose(deal, world)
        assert DBTaskResult.objects.count() == queued + 1
    assert DBTaskResult.objects.count() == queued + 1


def test_it_creates_the_follow_up_task_when_a_deal_enters_the_stage(world, make_deal, make_rule, run_worker):
    rule = make_rule(trigger="stage_entered", trigger_stage="propose", actions=[follow_up(3)])
    deal = make_deal(title="Acme roll-out", amount=1000)
    _enter_propose(deal, world)
    assert not Task.objects.exists()  # nothing happens inside the request
    run_worker()
    task = Task.objects.get()
    assert task.title == "Follow up on the proposal for Acme roll-out"
    assert task.assignee == world.alice and task.deal == deal and task.source_rule == rule
    assert task.due == timezone.localdate() + dt.timedelta(days=3)
    run = RuleRun.objects.get()
    assert (run.rule, run.deal, run.trigger, run.outcome) == (rule, deal, "stage_entered", "done")


def test_it_counts_business_days_past_the_weekend(world, make_deal, make_rule):
    from dealgate.automation.services import add_business_days

    friday = dt.date(2026, 12, 4)
    assert add_business_days(friday, 3) == dt.date(2026, 12, 9)  # Mon 7, Tue 8, Wed 9
    assert add_business_days(friday, 0) == friday


def test_it_does_not_fire_for_another_stage_or_a_disabled_rule(world, make_deal, make_rule, run_worker):
    from dealgate.automation.services import set_rule_enabled

    make_rule(trigger="stage_entered", trigger_stage="negotiate", actions=[follow_up()])
    off = make_rule(trigger="stage_entered", trigger_stage="propose", actions=[follow_up()])
    set_rule_enabled(off, by=world.dave, enabled=False)
    _enter_propose(make_deal(amount=1000), world)
    run_worker()
    assert not Task.objects.exists() and not RuleRun.objects.exists()


def test_it_fires_once_when_the_same_job_runs_twice(world, make_deal, make_rule, run_worker):
    make_rule(trigger="stage_entered", trigger_stage="propose", actions=[follow_up()])
    deal = make_deal(amount=1000)
    row = _enter_propose(deal, world)
    run_worker()
    from dealgate.automation.jobs import run_rules

    run_rules.enqueue("moved", deal.pk, f"history:{row.pk}")  # a duplicate delivery of the same occurrence
    run_worker()
    run_worker()
    assert Task.objects.count() == 1
    assert RuleRun.objects.count() == 1


def test_it_fires_again_for_a_new_occurrence(world, make_deal, make_rule, run_worker):
    make_rule(trigger="stage_entered", trigger_stage="propose", actions=[follow_up()])
    deal = make_deal(amount=1000)
    _enter_propose(deal, world)
    deal_services.move_deal(deal, "qualify", by=world.bob)
    _enter_propose(deal, world)
    run_worker()
    assert Task.objects.count() == 2


def test_two_workers_at_once_run_each_occurrence_once(world, make_deal, make_rule):
    """Both workers see the same jobs queued twice; the occurrence claim lets one of them act."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("in-memory SQLite locks whole tables without waiting; run on PostgreSQL (or DEALGATE_TEST_SQLITE)")
    from dealgate.automation.jobs import run_rules

    make_rule(trigger="stage_entered", trigger_stage="propose", actions=[follow_up()])
    deals = [make_deal(amount=1000) for _ in range(4)]
    rows = [_enter_propose(deal, world) for deal in deals]
    for deal, row in zip(deals, rows):
        run_rules.enqueue("moved", deal.pk, f"history:{row.pk}")
    errors = workers_at_once()
    assert not errors
    assert Task.objects.count() == 4
    assert RuleRun.objects.count() == 4
    assert not DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exists()


def test_a_rule_cannot_move_a_deal_past_an_unmet_gate(world, make_deal, make_rule, run_worker):
    rule = make_rule(trigger="deal_created", actions=[
        {"type": "notify", "to": "owner", "title": "Moving {deal}"},
        {"type": "move_to_stage", "stage": "propose"},
    ])
    deal = make_deal(amount=None)
    run_worker()
    deal.refresh_from_db()
    assert deal.stage.key == "qualify"
    run = RuleRun.objects.get(rule=rule)
    assert run.outcome == "failed"
    assert "Budget confirmed" in run.error and "Amount estimated" in run.error
    assert not Notification.objects.filter(title__startswith="Moving").exists()  # the rule's actions undone together


def test_a_rule_sets_a_field_through_the_deal_service(world, make_deal, make_rule, run_worker):
    make_rule(trigger="deal_won", actions=[{"type": "set_field", "field": "forecast_category", "value": "commit"}])
    make_rule(trigger="deal_lost", actions=[{"type": "set_field", "field": "forecast_category", "value": "omitted"}])
    deal = make_deal(amount=1000)
    deal_services.move_deal(deal, "lost", by=world.alice, lost_reason="price")
    run_worker()
    deal.refresh_from_db()
    assert deal.forecast_category == "omitted"
    assert deal.version == 3  # created 1, moved 2, rule's update 3: a real service write
    from dealgate.audit.models import AuditEntry

    change = AuditEntry.objects.get(object_type="deal", object_id=deal.pk, field="forecast_category")
    assert (change.surface, change.after) == ("automation", "omitted")  # every write says where it came from


def test_it_notifies_the_new_owner_on_assignment(world, make_deal, make_rule, run_worker, mailoutbox):
    from dealgate.automation.services import set_email_kinds

    make_rule(trigger="deal_assigned", actions=[
        {"type": "notify", "to": "owner", "kind": "assigned", "title": "{deal} is yours now"}])
    world.carol.email = "carol@example.com"
    world.carol.save()
    set_email_kinds(by=world.carol, kinds=["assigned"])
    deal = make_deal(owner=world.alice, title="Acme")
    deal_services.reassign_deal(deal, world.carol, by=world.dave)
    run_worker()
    note = Notification.objects.get(user=world.carol)
    assert note.title == "Acme is yours now" and note.deal == deal and note.read_at is None
    assert [m.to for m in mailoutbox] == [["carol@example.com"]]
    assert "Acme is yours now" in mailoutbox[0].subject


def test_it_sends_no_email_for_kinds_the_user_did_not_choose(world, make_deal, make_rule, run_worker, mailoutbox):
    make_rule(trigger="deal_assigned", actions=[{"type": "notify", "kind": "assigned", "title": "yours"}])
    world.carol.email = "carol@example.com"
    world.carol.save()
    deal_services.reassign_deal(make_deal(owner=world.alice), world.carol, by=world.dave)
    run_worker()
    assert Notification.objects.filter(user=world.carol).count() == 1
    assert mailoutbox == []


def test_a_task_for_the_manager_goes_to_the_owners_team_manager(world, make_deal, make_rule, run_worker):
    make_rule(trigger="deal_created", actions=[follow_up(0, assignee="manager")])
    make_deal(owner=world.alice)
    run_worker()
    assert Task.objects.get().assignee == world.bob


def test_a_restarted_worker_finishes_the_job_a_killed_one_left_running(world, make_deal, make_rule, run_worker):
    """A worker killed mid-job leaves it marked running and (its transaction never committed) no claim."""
    from django_tasks_db.models import DBTaskResult

    make_rule(trigger="stage_entered", trigger_stage="propose", actions=[follow_up()])
    deal = make_deal(amount=1000)
    run_worker()  # the creation's job
    _enter_propose(deal, world)
    job = DBTaskResult.objects.get(status="READY")
    job.claim("killed-worker")
    DBTaskResult.objects.filter(pk=job.pk).update(started_at=timezone.now() - dt.timedelta(hours=1))
    run_worker(requeue_after=3600 * 2)
    assert not Task.objects.exists()  # not yet abandoned by that measure
    run_worker()
    assert Task.objects.count() == 1
    assert DBTaskResult.objects.get(pk=job.pk).status == "SUCCESSFUL"


def _database_url_of_the_test_database() -> str | None:
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        host, port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
        return f"postgres://{settings['USER']}@{host}:{port}/{settings['NAME']}"
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():
        return f"sqlite:///{settings['NAME']}"
    return None


def test_two_worker_processes_run_each_occurrence_once(world, make_deal, make_rule):
    """`dealgate worker --batch` as two real processes side by side over the same queue."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from dealgate.automation.jobs import run_rules

    url = _database_url_of_the_test_database()
    if url is None:
        pytest.skip("worker processes cannot see an in-memory SQLite database; run on PostgreSQL")
    make_rule(trigger="stage_entered", trigger_stage="propose", actions=[follow_up()])
    deals = [make_deal(amount=1000) for _ in range(6)]
    for deal in deals:
        row = _enter_propose(deal, world)
        run_rules.enqueue("moved", deal.pk, f"history:{row.pk}")  # every occurrence queued twice
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": root, "DEALGATE_DATA_DIR": os.environ.get(
        "DEALGATE_DATA_DIR", "/tmp/dealgate-test-worker")}
    workers = [subprocess.Popen([sys.executable, "-m", "dealgate.cli", "worker", "--batch", "--interval", "0",
                                 "--no-scans"], env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for _ in range(2)]
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
    assert Task.objects.count() == 6
    assert RuleRun.objects.count() == 6
    assert not DBTaskResult.objects.exclude(status="SUCCESSFUL").exists()


# The engine called directly on a fixed clock (Friday 4 December 2026, noon UTC): what each action did,
# in the words the rules page shows for a run, and who it went to.

FRIDAY_NOON = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone.utc)


def _run(rule, deal, trigger="deal_created", occurrence="created"):
    from dealgate.automation.engine import run_rule

    return run_rule(rule, deal, trigger=trigger, occurrence=occurrence, now=FRIDAY_NOON)


def test_the_run_log_says_what_each_action_did_and_for_whom(world, make_deal, make_rule):
    from dealgate.pipelines.models import CustomField

    CustomField.objects.create(key="region", label="Region")
    rule = make_rule(trigger="deal_created", actions=[
        {"type": "create_task", "title": "Call about {deal}", "due_in_days": 3, "business_days": True,
         "assignee": "manager"},
        {"type": "create_task", "title": "Chase {account}", "due_in_days": 3},
        {"type": "notify", "to": "owner", "title": "{deal} in {stage}", "body": "{owner} owns {account}"},
        {"type": "set_field", "field": "forecast_category", "value": "commit"},
        {"type": "set_field", "field": "custom.region", "value": "north"},
    ])
    account = deal_services.create_account(by=world.alice, name="Acme Ltd")
    deal = make_deal(title="Acme roll-out", account=account, amount=1000)
    run = _run(rule, deal)
    calls, chase = Task.objects.order_by("id")
    # Friday + 3 business days: Mon 7, Tue 8, Wed 9; + 3 calendar days: Monday 7.
    assert (calls.title, calls.assignee, calls.due) == ("Call about Acme roll-out", world.bob, dt.date(2026, 12, 9))
    assert (chase.title, chase.assignee, chase.due) == ("Chase Acme Ltd", world.alice, dt.date(2026, 12, 7))
    note = Notification.objects.get(kind="alert")  # the others tell the assignees of their tasks
    assert (note.user, note.title, note.body, note.deal, note.link) == (
        world.alice, "Acme roll-out in Qualify", "Alice owns Acme Ltd", deal, "")
    assert run.actions == [
        f"task {calls.pk} 'Call about Acme roll-out' for bob due 2026-12-09",
        f"task {chase.pk} 'Chase Acme Ltd' for alice due 2026-12-07",
        "notified alice",
        "set forecast_category to 'commit'",
        "set custom.region to 'north'",
    ]
    assert (run.outcome, run.error, run.at, run.trigger, run.occurrence) == (
        "done", "", FRIDAY_NOON, "deal_created", "created")
    deal.refresh_from_db()
    assert (deal.forecast_category, deal.custom_fields) == ("commit", {"region": "north"})


def test_the_manager_is_the_owner_when_the_team_has_none_or_there_is_no_team(world, make_deal, make_rule):
    from dealgate.people.services import create_user

    erin = create_user(username="erin", password=world.password, role="rep", team=world.east)  # no first name
    rule = make_rule(trigger="deal_created", actions=[
        {"type": "create_task", "title": "{owner}'s {deal}", "due_in_days": 0, "assignee": "manager"}])
    for owner, title in ((erin, "E"), (world.carol, "C"), (world.dave, "D")):
        _run(rule, make_deal(owner=owner, title=title))
    assert [(t.title, t.assignee.username, t.due) for t in Task.objects.order_by("id")] == [
        ("erin's E", "bob", dt.date(2026, 12, 4)),  # East's manager; erin's username, as she has no name
        ("Carol's C", "carol", dt.date(2026, 12, 4)),  # West has no manager
        ("Dave's D", "dave", dt.date(2026, 12, 4)),  # an admin in no team
    ]


def test_the_account_owner_is_the_deals_owner_when_the_account_has_none(world, make_deal, make_rule):
    from dealgate.deals.models import Account

    rule = make_rule(trigger="deal_created", actions=[{"type": "notify", "to": "account_owner", "title": "{deal}"}])
    carols = Account.objects.create(name="Carol's account", owner=world.carol)
    nobodys = Account.objects.create(name="Nobody's account")
    assert _run(rule, make_deal(title="On Carol's", account=carols)).actions == ["notified carol"]
    assert _run(rule, make_deal(title="On nobody's", account=nobodys)).actions == ["notified alice"]
    to_carol, to_alice = Notification.objects.order_by("id")
    # Carol (West) cannot open Alice's deal: hers opens the account; Alice's opens the deal.
    assert (to_carol.user, to_carol.title, to_carol.deal, to_carol.link) == (
        world.carol, "On Carol's", None, f"/accounts/{carols.pk}/")
    assert (to_alice.user, to_alice.title, to_alice.deal.title, to_alice.link) == (
        world.alice, "On nobody's", "On nobody's", "")


def test_a_move_fires_entered_stage_and_won_or_lost_for_its_own_row_only(world, make_deal):
    from dealgate.automation.engine import triggers_of

    won = make_deal(amount=1000)
    won_row = deal_services.move_deal(won, "won", by=world.bob, override_reason="approved on the phone")
    lost = make_deal(amount=1000)
    lost_row = deal_services.move_deal(lost, "lost", by=world.alice, lost_reason="price")
    assert triggers_of("moved", won, f"history:{won_row.pk}") == [("stage_entered", "won"), ("deal_won", "")]
    assert triggers_of("moved", lost, f"history:{lost_row.pk}") == [("stage_entered", "lost"), ("deal_lost", "")]
    propose_row = _enter_propose(make_deal(amount=1000), world)
    assert triggers_of("moved", propose_row.deal, f"history:{propose_row.pk}") == [("stage_entered", "propose")]
    assert triggers_of("moved", lost, f"history:{won_row.pk}") == []  # another deal's row
    assert triggers_of("created", won, "created") == [("deal_created", "")]
    assert triggers_of("assigned", won, "assigned:1") == [("deal_assigned", "")]


def test_handle_event_runs_matching_rules_in_order_of_creation_once(world, pipeline, make_deal, make_rule):
    from tests.conftest import build_test_pipeline

    from dealgate.automation.engine import handle_event

    first = make_rule(name="First", trigger="deal_created", actions=[follow_up(1)])
    make_rule(name="Other pipeline", trigger="deal_created", pipeline=build_test_pipeline("other"),
              actions=[follow_up(2)])
    make_rule(name="Another trigger", trigger="deal_assigned", actions=[follow_up(2)])
    make_rule(name="Big deals only", trigger="deal_created", conditions={"amount_min": "5000"},
              actions=[follow_up(2)])
    every_pipeline = make_rule(name="Every pipeline", trigger="deal_created", pipeline=None, actions=[follow_up(4)])
    deal = make_deal(amount=1000)
    runs = handle_event("created", deal.pk, "created")
    assert [(r.rule, r.deal, r.trigger) for r in runs] == [(first, deal, "deal_created"),
                                                          (every_pipeline, deal, "deal_created")]
    assert handle_event("created", deal.pk, "created") == []  # the occurrence is claimed
    assert RuleRun.objects.count() == 2 and Task.objects.count() == 2
    assert handle_event("created", deal.pk + 1000, "created") == []  # a deleted deal
    with pytest.raises(ValueError, match="unknown event 'deleted'"):
        handle_event("deleted", deal.pk, "created")


def test_a_refused_move_and_a_broken_stored_rule_fail_the_run_with_the_reason(world, make_deal, make_rule, caplog):
    from dealgate.automation.models import Rule

    gate = make_rule(trigger="deal_created", actions=[{"type": "move_to_stage", "stage": "propose"}])
    deal = make_deal(title="Thin deal", amount=None)
    run = _run(gate, deal)
    assert (run.outcome, run.actions) == ("failed", [])
    assert run.error == ("Thin deal cannot move to Propose: 3 criteria not met. "
                         "Amount estimated: amount is empty; needs greater than 0; "
                         "Budget confirmed: “Budget confirmed” is not ticked yet; "
                         "Decision maker identified: Needs a decision maker on the deal (none yet)")
    broken = make_rule(name="Broken", trigger="deal_created", actions=[follow_up()])
    Rule.objects.filter(pk=broken.pk).update(actions=[follow_up(), {"type": "explode"}])
    broken.refresh_from_db()
    run = _run(broken, deal)
    assert (run.outcome, run.error, run.actions) == ("failed", "ValueError: unknown action 'explode'", [])
    # the server log names the rule and the deal, with the traceback, for whoever fixes the stored rule
    (logged,) = [r for r in caplog.records if r.name == "dealgate.automation.engine"]
    assert (logged.getMessage(), logged.exc_info[0]) == (f"Rule {broken.pk} failed on deal {deal.pk}", ValueError)
    assert not Task.objects.exists()  # the first action undone with the second


def test_a_rule_moves_a_deal_back_and_queues_a_webhook_in_words(world, make_deal, make_rule):
    from dealgate.automation.engine import run_action
    from dealgate.automation.models import WebhookDelivery

    url = "https://hooks.example.com/dealgate"
    rule = make_rule(trigger="stage_entered", trigger_stage="propose",
                     actions=[{"type": "move_to_stage", "stage": "qualify"}, webhook(url)])
    deal = make_deal(amount=1000)
    row = _enter_propose(deal, world)
    run = _run(rule, deal, trigger="stage_entered", occurrence=f"history:{row.pk}")
    delivery = WebhookDelivery.objects.get()
    assert run.actions == ["moved to qualify", f"webhook {delivery.pk} to {url} queued"]
    deal.refresh_from_db()
    assert deal.stage.key == "qualify" and (delivery.run, delivery.deal) == (run, deal)
    with pytest.raises(ValueError) as refused:
        run_action(webhook(url), rule, deal, today=dt.date(2026, 12, 4))
    assert str(refused.value) == "a webhook action is recorded against its rule run"
