"""The "signal raised" trigger: rules act on the signal's account, once per signal, in the real worker
(`dealgate worker --batch`), queued only when the scan that raised the signal commits."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from dealgate.automation import services
from dealgate.automation.models import Notification, RuleRun, Task
from dealgate.deals.models import Account, Deal
from dealgate.errors import ValidationFailed
from dealgate.signals.models import Signal
from dealgate.signals.services import dismiss_signal, scan_signals
from tests.automation.conftest import follow_up, workers_at_once
from tests.automation.test_automation_rule_form import _error_next_to
from tests.signals.history import d, every, orders

pytestmark = pytest.mark.django_db(transaction=True)

LATE = d("2026-07-20")  # six monthly orders, the last on 31 May: a missed reorder worth 1000 as of this day


def signal_rule(**fields):
    fields.setdefault("name", "Missed reorders")
    return services.create_rule(by=None, trigger="signal_raised", **fields)


def call_rep():
    return {"type": "create_task", "title": "Call {account} about the {kind}", "due_in_days": 2, "assignee": "owner"}


def tell(to="manager"):
    return {"type": "notify", "to": to, "title": "{kind} at {account}", "body": "{revenue} at risk: {signal}"}


@pytest.fixture
def acme(world):
    account = Account.objects.create(name="Acme Supply", owner=world.alice)
    orders(account, every("2026-01-01", 30, 6))
    return account


def test_a_raised_signal_gives_the_account_owner_a_task_and_her_manager_a_notification(world, acme, run_worker):
    rule = signal_rule(actions=[call_rep(), tell("manager")])
    scan_signals(LATE)
    assert not Task.objects.exists()  # nothing happens inside the scan
    run_worker()
    signal = Signal.objects.get(account=acme)
    task = Task.objects.get(source_rule=rule)
    assert (task.title, task.account, task.deal, task.assignee) == (
        "Call Acme Supply about the Missed reorder", acme, None, world.alice)
    assert task.due == timezone.localdate() + dt.timedelta(days=2)
    note = Notification.objects.get(user=world.bob, kind="alert")
    assert note.title == "Missed reorder at Acme Supply"
    assert note.body == f"1,000 at risk: {signal.title}"
    assert note.link == f"/accounts/{acme.pk}/" and note.deal is None
    run = RuleRun.objects.get()
    assert (run.rule, run.signal, run.deal, run.trigger, run.outcome) == (rule, signal, None, "signal_raised", "done")
    assert run.actions[1] == "notified bob"


def test_it_acts_once_per_signal_however_often_the_scan_or_the_job_runs(world, acme, run_worker):
    from dealgate.automation.jobs import run_signal_rules

    signal_rule(actions=[call_rep()])
    scan_signals(LATE)
    run_worker()
    scan_signals(LATE)  # the same cause: no new signal, nothing queued
    scan_signals(LATE + dt.timedelta(days=3))
    signal = Signal.objects.get()
    run_signal_rules.enqueue([signal.pk])  # a duplicate delivery of the same signal
    run_worker()
    run_worker()
    assert Task.objects.count() == 1 and RuleRun.objects.count() == 1


def test_a_rolled_back_scan_queues_nothing(world, acme):
    signal_rule(actions=[call_rep()])
    queued = DBTaskResult.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        scan_signals(LATE)
        raise RuntimeError("the scan's caller failed afterwards")
    assert DBTaskResult.objects.count() == queued and not Signal.objects.exists()
    scan_signals(LATE)
    assert DBTaskResult.objects.count() == queued + 1


def test_a_rule_fires_only_for_its_kinds_revenue_and_owners(world, acme, run_worker):
    carols = Account.objects.create(name="Carol's Hardware", owner=world.carol)
    orders(carols, every("2026-01-01", 30, 6), revenue=5000)
    signal_rule(name="Quotes only", actions=[call_rep()], conditions={"signal_kinds": ["expired_quote"]})
    signal_rule(name="Big ones", actions=[tell("owner")], conditions={"revenue_min": "2000"})
    signal_rule(name="East team", actions=[call_rep()],
                conditions={"signal_kinds": ["missed_reorder"], "teams": ["East"]})
    scan_signals(LATE)
    run_worker()
    assert [(t.account.name, t.source_rule.name) for t in Task.objects.all()] == [("Acme Supply", "East team")]
    assert [n.user.username for n in Notification.objects.filter(kind="alert")] == ["carol"]


def test_a_rule_converts_the_signal_to_a_deal_for_the_account_owner(world, acme, pipeline, run_worker):
    signal_rule(actions=[{"type": "convert_to_deal"}, call_rep()])
    scan_signals(LATE)
    run_worker()
    signal = Signal.objects.get()
    deal = Deal.objects.get()
    assert (signal.status, signal.deal, signal.changed_by) == ("converted", deal, None)
    assert (deal.owner, deal.account, deal.source, deal.amount) == (world.alice, acme, "signal", 1000)
    assert deal.stage == pipeline.stages.order_by("position").first()
    assert deal.activities.get().subject.startswith("From signal: ")
    assert RuleRun.objects.get(signal=signal).actions[0] == f"converted to deal {deal.pk} '{deal.title}'"


def test_a_signal_a_rep_already_dismissed_is_not_converted_and_the_run_says_why(world, acme, pipeline, run_worker):
    signal_rule(actions=[call_rep(), {"type": "convert_to_deal"}])
    scan_signals(LATE)
    dismiss_signal(Signal.objects.get(), "they moved to a competitor", by=world.alice)
    run_worker()
    run = RuleRun.objects.get()
    assert run.outcome == "failed" and run.error == "This signal is already dismissed."
    assert not Deal.objects.exists() and not Task.objects.exists()  # the rule's actions undone together


def test_an_account_without_an_owner_fails_the_run_with_a_reason(world, run_worker):
    nobodys = Account.objects.create(name="Nobody's")
    orders(nobodys, every("2026-01-01", 30, 6))
    signal_rule(actions=[call_rep()])
    scan_signals(LATE)
    run_worker()
    run = RuleRun.objects.get()
    assert run.outcome == "failed" and run.error == "account: account \"Nobody's\" has no owner to act for"


@pytest.mark.parametrize("fields, where", [
    ({"conditions": {"stages": ["propose"]}}, "conditions.stages"),
    ({"conditions": {"amount_min": "10"}}, "conditions.amount_min"),
    ({"conditions": {"signal_kinds": ["weather"]}}, "conditions.signal_kinds"),
    ({"conditions": {"revenue_min": "-1"}}, "conditions.revenue_min"),
    ({"actions": [{"type": "move_to_stage", "stage": "propose"}]}, "actions.0.type"),
    ({"actions": [{"type": "set_field", "field": "amount", "value": 1}]}, "actions.0.type"),
    ({"pipeline": "the test pipeline"}, "pipeline"),
])
def test_a_signal_rule_naming_deal_things_is_refused_on_save(world, pipeline, fields, where):
    if fields.get("pipeline"):
        fields["pipeline"] = pipeline
    fields.setdefault("actions", [call_rep()])
    with pytest.raises(ValidationFailed) as refused:
        signal_rule(**fields)
    assert where in refused.value.details


@pytest.mark.parametrize("fields, where", [
    ({"conditions": {"signal_kinds": ["missed_reorder"]}, "actions": [follow_up()]}, "conditions.signal_kinds"),
    ({"actions": [{"type": "convert_to_deal"}]}, "actions.0.type"),
])
def test_a_deal_rule_naming_signal_things_is_refused_on_save(world, pipeline, fields, where):
    with pytest.raises(ValidationFailed) as refused:
        services.create_rule(by=None, name="Deal rule", trigger="deal_created", **fields)
    assert where in refused.value.details


def test_rules_list_and_test_show_a_signal_rule(world, acme):
    rule = signal_rule(actions=[call_rep(), {"type": "convert_to_deal"}],
                       conditions={"signal_kinds": ["missed_reorder"], "revenue_min": "500"})
    with transaction.atomic():  # the scan's rules are not run here: only the dry run is asked
        scan_signals(LATE)
    out = io.StringIO()
    call_command("rules", "list", stdout=out)
    assert ("Signal raised on an account if kind in missed reorder and revenue ≥ 500: task 'Call {account} about "
            "the {kind}' for the account owner due in 2 days; convert the signal to a deal") in out.getvalue()
    out = io.StringIO()
    call_command("rules", "test", str(rule.pk), "--json", stdout=out)
    shown = json.loads(out.getvalue())
    assert shown["signals"] == 1 and shown["shown"][0]["account"] == "Acme Supply"
    assert not Task.objects.exists()  # a dry run writes nothing


def test_the_rules_pages_show_a_signal_rule_its_dry_run_and_its_run(client, world, acme, run_worker):
    rule = signal_rule(actions=[tell("owner")])
    scan_signals(LATE)
    client.login(username="dave", password=world.password)
    page = client.get(f"/settings/rules/{rule.pk}/test/").content.decode()
    assert "It would act on 1 new signal like these when a scan raises them" in page and "Acme Supply" in page
    run_worker()
    page = client.get("/settings/rules/").content.decode()
    assert "Signal raised on an account: notify the account owner" in page
    assert f'<a href="/accounts/{acme.pk}/">Acme Supply</a> <span class="small muted">missed reorder</span>' in page


def test_two_workers_at_once_act_on_each_signal_once(world, acme):
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("in-memory SQLite locks whole tables without waiting; run on PostgreSQL (or DEALGATE_TEST_SQLITE)")
    from dealgate.automation.jobs import run_signal_rules

    signal_rule(actions=[call_rep()])
    others = [Account.objects.create(name=f"Shop {i}", owner=world.carol) for i in range(3)]
    for account in others:
        orders(account, every("2026-01-01", 30, 6))
    scan_signals(LATE)
    run_signal_rules.enqueue(sorted(Signal.objects.values_list("pk", flat=True)))  # the same signals queued twice
    assert not workers_at_once()
    assert Task.objects.count() == 4 and RuleRun.objects.count() == 4


def _signal_form(**changes):
    """The rule form as a browser without the script posts it: deal inputs still filled in from before."""
    data = {
        "name": "Big missed reorders", "trigger": "signal_raised", "trigger_stage": "propose", "idle_days": "",
        "pipeline": "test", "stages": "propose", "amount_min": "5", "amount_max": "", "field-0-key": "",
        "field-0-value": "", "signal_kinds": ["missed_reorder", "frequency_decline"], "revenue_min": "750.00",
        "owners": "alice",
        "action-0-type": "convert_to_deal", "action-0-task_title": "", "action-0-due_in_days": "0",
        "action-1-type": "notify", "action-1-to": "manager", "action-1-kind": "alert",
        "action-1-notify_title": "{account}: {kind}", "action-1-body": "",
    }
    data.update(changes)
    return data


def test_an_admin_creates_and_edits_a_signal_rule_in_the_form(client, world, pipeline):
    from dealgate.automation.models import Rule

    client.force_login(world.dave)
    form = client.get("/settings/rules/new/").content.decode()
    assert '<option value="signal_raised">Signal raised on an account</option>' in form
    assert '<option value="convert_to_deal">Convert the signal to a deal (signal rules)</option>' in form
    assert '<option value="cross_sell_gap">Cross-sell gap</option>' in form
    response = client.post("/settings/rules/new/", _signal_form())
    assert response.status_code == 302
    rule = Rule.objects.get()
    # The deal-only inputs (stage, pipeline, amount) do not belong to a signal rule and are not read.
    assert (rule.trigger, rule.trigger_stage, rule.pipeline) == ("signal_raised", "", None)
    assert rule.conditions == {"signal_kinds": ["missed_reorder", "frequency_decline"], "revenue_min": "750.00",
                               "owners": ["alice"]}
    assert rule.actions[0] == {"type": "convert_to_deal"}
    edit = client.get(f"/settings/rules/{rule.pk}/edit/").content.decode()
    assert '<option value="frequency_decline" selected>' in edit and 'name="revenue_min" inputmode="decimal" value="750.00"' in edit


def test_the_form_shows_a_refused_signal_rule_with_the_message_next_to_the_action(client, world, pipeline):
    client.force_login(world.dave)
    response = client.post("/settings/rules/new/", _signal_form(**{
        "action-0-type": "move_to_stage", "action-0-stage": "propose", "revenue_min": "lots"}))
    page = response.content.decode()
    assert response.status_code == 422
    assert _error_next_to(page, "revenue_min") == "&#x27;lots&#x27; is not a number"
    response = client.post("/settings/rules/new/", _signal_form(**{"action-0-type": "move_to_stage",
                                                                  "action-0-stage": "propose"}))
    page = response.content.decode()
    assert response.status_code == 422
    assert "a signal rule can only create_task, notify, convert_to_deal (there is no deal to move to stage)" in page


FRIDAY_NOON = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def carols(world):
    account = Account.objects.create(name="Carol's Hardware", owner=world.carol)  # team West, which has no manager
    orders(account, every("2026-01-01", 30, 6), revenue=2500)
    return account


def test_a_signal_rules_run_log_names_the_account_and_the_manager_or_the_owner(world, acme, carols):
    from dealgate.automation.engine import run_rule

    rule = signal_rule(actions=[
        {"type": "create_task", "title": "Call {account}", "due_in_days": 3, "business_days": True,
         "assignee": "manager"},
        {**tell("manager"), "kind": "task"}])
    scan_signals(LATE)
    runs = [run_rule(rule, signal, trigger="signal_raised", occurrence=f"signal:{signal.pk}", now=FRIDAY_NOON)
            for signal in Signal.objects.order_by("account__name")]  # Acme Supply, Carol's Hardware
    acme_task, carols_task = (Task.objects.get(account=acme), Task.objects.get(account=carols))
    # Friday + 3 business days is Wednesday 9 December; Acme's owner Alice has a manager (Bob), Carol has none.
    assert (acme_task.assignee, acme_task.due, acme_task.title) == (world.bob, dt.date(2026, 12, 9), "Call Acme Supply")
    assert (carols_task.assignee, carols_task.due) == (world.carol, dt.date(2026, 12, 9))
    assert [run.actions for run in runs] == [
        [f"task {acme_task.pk} 'Call Acme Supply' on account Acme Supply for bob due 2026-12-09", "notified bob"],
        [f"task {carols_task.pk} 'Call Carol's Hardware' on account Carol's Hardware for carol due 2026-12-09",
         "notified carol"],
    ]
    note = Notification.objects.get(user=world.carol, title="Missed reorder at Carol's Hardware")
    signal = Signal.objects.get(account=carols)
    assert (note.kind, note.body, note.link) == (
        "task", f"2,500 at risk: {signal.title}", f"/accounts/{carols.pk}/")


def test_signal_rules_run_in_order_on_the_signals_named_once_each(world, acme, carols):
    from dealgate.automation.engine import handle_signals

    first = signal_rule(name="First", actions=[call_rep()])
    signal_rule(name="Quotes only", actions=[call_rep()], conditions={"signal_kinds": ["expired_quote"]})
    off = signal_rule(name="Switched off", actions=[call_rep()])
    services.set_rule_enabled(off, by=world.dave, enabled=False)
    second = signal_rule(name="Second", actions=[tell("owner")])
    deal_rule = services.create_rule(by=None, name="A deal rule", trigger="deal_created", actions=[follow_up()])
    scan_signals(LATE)
    acme_signal, carols_signal = Signal.objects.get(account=acme), Signal.objects.get(account=carols)
    runs = handle_signals([acme_signal.pk])
    assert [(run.rule, run.signal) for run in runs] == [(first, acme_signal), (second, acme_signal)]
    by_id = sorted([acme_signal, carols_signal], key=lambda s: s.pk)
    runs = handle_signals([carols_signal.pk, acme_signal.pk])  # Acme's already acted on
    assert [(run.rule, run.signal) for run in runs] == [(first, carols_signal), (second, carols_signal)]
    assert handle_signals([s.pk for s in by_id]) == []
    assert [t.account for t in Task.objects.order_by("id")] == [acme, carols]
    assert not RuleRun.objects.filter(rule__in=[off, deal_rule]).exists()


def test_a_signal_rule_stored_with_a_deal_action_fails_its_run_with_the_reason(world, acme):
    from dealgate.automation.engine import handle_signals
    from dealgate.automation.models import Rule

    rule = signal_rule(actions=[call_rep()])
    Rule.objects.filter(pk=rule.pk).update(actions=[call_rep(), {"type": "move_to_stage", "stage": "propose"}])
    scan_signals(LATE)
    (run,) = handle_signals([Signal.objects.get().pk])
    assert (run.outcome, run.error, run.actions) == ("failed", "ValueError: a signal rule cannot 'move_to_stage'", [])
    assert not Task.objects.exists()  # the task undone with the refused action


def test_an_account_owner_without_a_profile_is_his_own_manager(world):
    """A user made outside the people service (e.g. `createsuperuser`) has no profile, so no team."""
    from django.contrib.auth import get_user_model

    from dealgate.automation.engine import handle_signals

    root = get_user_model().objects.create_user(username="root", password=world.password)
    account = Account.objects.create(name="Root's account", owner=root)
    orders(account, every("2026-01-01", 30, 6))
    signal_rule(actions=[{**call_rep(), "assignee": "manager"}])
    scan_signals(LATE)
    (run,) = handle_signals([Signal.objects.get().pk])
    assert (run.outcome, Task.objects.get().assignee) == ("done", root)
