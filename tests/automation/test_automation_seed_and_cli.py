"""The templates ship their rules enabled; the CLI lists tasks and rules and dry-runs a rule."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from dealgate.automation import services
from dealgate.automation.models import Notification, Rule, Task
from dealgate.deals import services as deal_services
from dealgate.pipelines.services import create_pipeline_from_template


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("template,stage", [("b2b-7", "proposal"), ("b2b-9", "proposal"),
                                            ("distributor-5", "active-selling")])
def test_each_template_ships_its_rules_enabled(db, template, stage):
    pipeline = create_pipeline_from_template(template)
    rules = {r.trigger: r for r in Rule.objects.filter(pipeline=pipeline)}
    handoff = {"deal_won"} if template == "distributor-5" else set()  # the handoff record to the account team
    assert set(rules) == {"stage_entered", "deal_assigned", "deal_idle", "close_date_passed", *handoff}
    assert rules["deal_idle"].idle_days is None and rules["deal_idle"].actions[0]["to"] == "manager"
    assert all(r.enabled for r in rules.values())
    assert rules["stage_entered"].trigger_stage == stage
    assert rules["stage_entered"].actions[0]["due_in_days"] == 3


@pytest.mark.django_db(transaction=True)
def test_the_shipped_rules_act_when_the_worker_runs(world):
    pipeline = create_pipeline_from_template("b2b-7")
    account = deal_services.create_account(by=world.alice, name="Acme")
    deal = deal_services.create_deal(by=world.alice, title="Acme roll-out", account=account, pipeline=pipeline)
    deal_services.move_deal(deal, "proposal", by=world.bob, override_reason="demo of the shipped rules")
    call_command("worker", batch=True, interval=0)
    deal_services.reassign_deal(deal, world.bob, by=world.bob)
    call_command("worker", batch=True, interval=0)
    task = Task.objects.get()
    assert (task.title, task.assignee, task.due) == ("Follow up on the proposal for Acme roll-out", world.alice,
                                                     timezone.localdate() + dt.timedelta(days=3))
    note = Notification.objects.get(kind="assigned")
    assert (note.user, note.title) == (world.bob, "Acme roll-out is now yours")


def test_tasks_list_shows_open_tasks_overdue_first(world, make_deal):
    today = timezone.localdate()
    deal = make_deal(title="Acme")
    services.create_task(by=world.alice, deal=deal, title="Later", due=today + dt.timedelta(days=5))
    services.create_task(by=world.alice, deal=deal, title="Late", due=today - dt.timedelta(days=1))
    services.create_task(by=world.carol, deal=make_deal(owner=world.carol), title="Carol's", due=today)
    rows = json.loads(_run("tasks", "list", "--owner", "alice", "--json"))
    assert [(r["title"], r["overdue"]) for r in rows] == [("Late", True), ("Later", False)]
    table = _run("tasks", "list", "--deal", str(deal.pk))
    assert table.index("Late") < table.index("Later") and "OVERDUE" in table and "Carol" not in table
    assert [r["title"] for r in json.loads(_run("tasks", "list", "--json", "--user", "carol"))] == ["Carol's"]
    assert "2 tasks shown." in table
    with pytest.raises(CommandError, match="nobody"):  # an unknown owner is named, not an empty list
        _run("tasks", "list", "--owner", "nobody")
    assert _run("tasks", "list", "--owner", "bob").strip() == "No open tasks match."


def test_rules_test_lists_the_open_deals_a_rule_would_act_on(world, pipeline, make_deal):
    rule = services.create_rule(by=None, name="Big deals in propose", trigger="stage_entered",
                                trigger_stage="propose", pipeline=pipeline, conditions={"amount_min": 5000},
                                actions=[{"type": "notify", "to": "manager", "title": "Big one"}])
    big = make_deal(title="Big", amount=9000)
    small = make_deal(title="Small", amount=100)
    waiting = make_deal(title="Big but in qualify", amount=9000)
    for deal in (big, small):
        deal_services.move_deal(deal, "propose", by=world.bob, override_reason="test")
    dry = json.loads(_run("rules", "test", str(rule.pk), "--json"))
    assert [d["title"] for d in dry["shown"]] == ["Big"] and dry["deals"] == 1 and dry["retired"] == []
    assert waiting.pk not in [d["id"] for d in dry["shown"]]
    assert "Big deals in propose" in _run("rules", "list")
    assert not Notification.objects.exists()  # a dry run writes nothing
    with pytest.raises(CommandError, match="No rule 'nope'"):
        _run("rules", "test", "nope")


def test_rules_test_says_a_rule_naming_a_retired_stage_can_no_longer_fire_for_it(world, pipeline):
    from dealgate.pipelines.models import Criterion
    from dealgate.web.pipeline_settings import retire_stage

    rule = services.create_rule(by=None, name="Into negotiation", trigger="stage_entered", trigger_stage="qualify",
                                pipeline=pipeline, actions=[{"type": "move_to_stage", "stage": "negotiate"}])
    Criterion.objects.filter(stage__pipeline=pipeline).delete()
    retire_stage(pipeline.stages.get(key="negotiate"), by=world.dave)
    assert ("Retired stage: Negotiate is retired: this rule can no longer fire for it. Restore the stage in "
            "settings or edit the rule.") in _run("rules", "test", str(rule.pk))
