"""The demo generator: deterministic, consistent with the gates, and a mix worth looking at."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import defaultdict
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F, Max, Q
from django.db.models.functions import Coalesce

from dealgate.deals.models import (
    Account,
    Activity,
    Approval,
    ChecklistAnswer,
    Contact,
    Deal,
    DealContact,
    FieldChange,
    StageHistory,
)
from dealgate.deals.services import unmet_criteria
from dealgate.demo.generator import generate
from dealgate.people.models import Team
from dealgate.pipelines.criteria import evaluate, load_facts
from dealgate.pipelines.gate import PipelineRules
from dealgate.pipelines.models import Pipeline, Stage
from dealgate.pipelines.services import create_pipeline_from_template
from tests.conftest import build_test_pipeline

TODAY = dt.date(2026, 11, 24)
NOW = dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc)
GENERATED = (Account, Contact, Deal, StageHistory, Activity, ChecklistAnswer, Approval, DealContact, FieldChange)


@pytest.fixture(autouse=True)
def simulated_deals_only(monkeypatch):
    """These tests check the simulated deals row by row, to the timestamp. The reps' conversions of
    signals afterwards are service writes at the real time (tests/demo/test_demo_orders.py): left out here."""
    from dealgate.demo import orders

    monkeypatch.setattr(orders, "MAX_WORKED", 0)


def make_demo(deals: int = 200, seed: int = 3):
    return generate(deals=deals, seed=seed, today=TODAY, stdout=StringIO())


def digest() -> str:
    """A fingerprint of every generated row, every column, in id order."""
    sha = hashlib.sha256()
    for model in GENERATED:
        columns = [f.attname for f in model._meta.concrete_fields]
        for row in model.objects.order_by("id").values_list(*columns):
            sha.update(repr(row).encode())
    return sha.hexdigest()


@pytest.fixture
def demo(db):
    return make_demo()


@pytest.mark.django_db(transaction=True)  # flush between runs restarts the id sequences
def test_it_writes_identical_rows_for_the_same_deals_seed_and_day():
    call_command("flush", interactive=False, verbosity=0)  # PostgreSQL sequences outlive rolled-back tests
    make_demo(seed=3)
    first = digest()
    call_command("flush", interactive=False, verbosity=0)
    make_demo(seed=3)
    assert digest() == first
    call_command("flush", interactive=False, verbosity=0)
    make_demo(seed=4)
    assert digest() != first


def test_every_deal_history_starts_with_created_and_ends_where_the_deal_is(demo):
    rows = defaultdict(list)
    for row in StageHistory.objects.order_by("deal_id", "at", "id").values():
        rows[row["deal_id"]].append(row)
    deals = list(Deal.objects.select_related("stage"))
    assert len(deals) == 200
    for deal in deals:
        history = rows[deal.pk]
        assert history[0]["kind"] == "created" and history[0]["from_stage_id"] is None
        assert history[0]["at"] == deal.created_at
        for before, after in zip(history, history[1:]):
            assert before["at"] < after["at"]
            assert after["from_stage_id"] == before["to_stage_id"]
        last = history[-1]
        assert (last["to_stage_id"], last["at"]) == (deal.stage_id, deal.stage_entered_at)
        if deal.stage.kind == "open":
            assert deal.closed_at is None and deal.lost_reason_id is None
        else:
            assert last["kind"] == deal.stage.kind and deal.closed_at == last["at"]
            assert last["probability"] == (100 if deal.stage.kind == "won" else 0)
            assert (deal.lost_reason_id is not None) == (deal.stage.kind == "lost")
        assert all(row["at"] < NOW for row in history)


def test_last_activity_is_the_latest_activity_logged_on_the_deal(demo):
    latest = dict(Activity.objects.values("deal_id").annotate(m=Max("occurred_at")).values_list("deal_id", "m"))
    assert len(latest) > 0  # else every deal's None would equal "no activity" and nothing be checked
    for deal_id, last_activity_at in Deal.objects.values_list("id", "last_activity_at"):
        assert latest.get(deal_id) == last_activity_at


def _replay_gates(deal_ids: list[int]) -> int:
    """Re-check every forward and won move against the facts that existed at that moment.

    Returns how many moves were checked. Scoped activity criteria count from the time the deal
    entered the stage it left, exactly as the gate did when the move happened.
    """
    facts = load_facts(deal_ids)
    ticked = defaultdict(dict)
    for deal_id, item, at in ChecklistAnswer.objects.filter(deal_id__in=deal_ids).values_list("deal_id", "item", "at"):
        ticked[deal_id][item] = at
    approved = defaultdict(dict)
    for deal_id, cond, at in Approval.objects.filter(deal_id__in=deal_ids).values_list("deal_id", "condition", "approved_at"):
        approved[deal_id][cond] = at
    rules = {p: PipelineRules.load(p) for p in Pipeline.objects.values_list("id", flat=True)}
    pipeline_of = dict(Deal.objects.filter(id__in=deal_ids).values_list("id", "pipeline_id"))
    history = defaultdict(list)
    for row in StageHistory.objects.filter(deal_id__in=deal_ids).order_by("deal_id", "at", "id"):
        history[row.deal_id].append(row)
    checked = 0
    for deal_id in deal_ids:
        r, now = rules[pipeline_of[deal_id]], facts[deal_id]
        for before, move in zip(history[deal_id], history[deal_id][1:]):
            if move.kind not in ("forward", "won"):
                continue
            source, target = r.stages[move.from_stage_id], r.stages[move.to_stage_id]
            then = dataclasses.replace(
                now,
                fields={**now.fields, "amount": move.amount},
                stage_entered_at=before.at,
                checklist={k: v for k, v in now.checklist.items() if ticked[deal_id][k] <= move.at},
                approvals={c for c in now.approvals if approved[deal_id][c] <= move.at},
                activities=[a for a in now.activities if a[2] <= move.at],
            )
            specs = r.required(source, target) + r.exit[source.id]
            unmet = [res for res in evaluate(specs, then) if not res.met]
            assert unmet == [], f"deal {deal_id} {source.key}->{target.key}: {unmet}"
            checked += 1
    return checked


def test_every_move_in_the_history_met_the_gates_at_the_time(demo):
    assert _replay_gates(list(Deal.objects.values_list("id", flat=True))) > 200


def test_open_deals_can_step_back_and_have_met_every_passed_stage(demo):
    open_deals = list(Deal.objects.filter(stage__kind="open", stage__position__gt=1).select_related("stage")[:40])
    assert open_deals
    for deal in open_deals:
        earlier = Stage.objects.filter(pipeline_id=deal.pipeline_id, position__lt=deal.stage.position).first()
        assert unmet_criteria(deal, earlier) == []
    assert _replay_gates([d.pk for d in open_deals]) >= len(open_deals)


def test_the_mix_has_won_lost_open_stale_overdue_and_slipped_deals(demo):
    assert demo.won > 0 and demo.lost > 0 and demo.open > 0, demo
    assert demo.won + demo.lost + demo.open == demo.deals == 200
    open_deals = Deal.objects.filter(closed_at__isnull=True)
    idle_since = Coalesce("last_activity_at", "stage_entered_at")
    stale = [d for d in open_deals.annotate(idle=idle_since).select_related("stage")
             if d.stage.rot_days and (NOW - max(d.idle, d.stage_entered_at)).days > d.stage.rot_days]
    assert len(stale) >= demo.stale > 0
    assert open_deals.filter(next_step_due__lt=TODAY).exists()
    assert open_deals.filter(Q(next_step="") | Q(next_step_due__isnull=True)).exists()
    assert open_deals.filter(next_step_due__gte=TODAY).exists()
    assert open_deals.filter(expected_close_date__lt=TODAY).exists()
    assert Deal.objects.filter(close_date_slips__gt=0).exists()
    assert FieldChange.objects.filter(field="amount").exists()
    assert Deal.objects.exclude(lost_reason=None).values("lost_reason").distinct().count() > 2
    assert Deal.objects.filter(stage__kind="open").values("stage").distinct().count() > 5


def test_close_date_slips_and_amounts_match_their_logged_changes(demo):
    changes = defaultdict(list)
    for change in FieldChange.objects.order_by("at", "id"):
        changes[(change.deal_id, change.field)].append(change)
    checked = {"expected_close_date": 0, "amount": 0}
    for deal in Deal.objects.all():
        dates = changes[(deal.pk, "expected_close_date")]
        assert deal.close_date_slips == sum(c.new_value > c.old_value for c in dates)
        if dates:
            assert dates[-1].new_value == deal.expected_close_date.isoformat()
            checked["expected_close_date"] += 1
        amounts = changes[(deal.pk, "amount")]
        if amounts:
            assert amounts[-1].new_value == str(deal.amount)
            checked["amount"] += 1
        assert all(c.at < NOW for c in dates + amounts)
    # The checks above ran on real changes, not on none: both kinds are in the demo.
    assert checked["expected_close_date"] > 0 and checked["amount"] > 0, checked


def test_it_links_deals_to_contacts_of_their_own_account(demo):
    foreign = DealContact.objects.exclude(contact__account_id=F("deal__account_id"))
    assert not foreign.exists()
    assert Activity.objects.exclude(account_id=F("deal__account_id")).count() == 0


def test_the_command_prints_demo_logins_that_work(db):
    out = StringIO()
    call_command("demo", "--deals", "30", "--seed", "1", "--today", "2026-11-24", stdout=out)
    text = out.getvalue()
    assert "Demo login: alice / dealgate-demo (rep)" in text
    assert "Demo login: admin / dealgate-demo (admin)" in text
    assert "30 deals" in text
    assert authenticate(username="alice", password="dealgate-demo") is not None
    assert get_user_model().objects.get(username="admin").is_superuser


def test_running_the_demo_twice_reuses_users_teams_and_pipelines(db):
    make_demo(deals=20, seed=1)
    people = get_user_model().objects.count(), Team.objects.count(), Pipeline.objects.count()
    make_demo(deals=20, seed=2)
    assert (get_user_model().objects.count(), Team.objects.count(), Pipeline.objects.count()) == people
    assert Deal.objects.count() == 40


def test_it_follows_the_criteria_of_whatever_pipeline_it_finds(db):
    custom = build_test_pipeline(key="b2b-7")  # the demo teams that sell b2b-7 now use this pipeline
    make_demo(deals=150, seed=5)
    deals = list(Deal.objects.filter(pipeline=custom).values_list("id", flat=True))
    assert len(deals) > 50
    assert Deal.objects.filter(pipeline=custom, stage__kind="won").exists()
    assert _replay_gates(deals) > 50


def test_it_fills_the_nine_stage_template_within_its_gates_too(db):
    nine = create_pipeline_from_template("b2b-9", key="b2b-7")  # taken by the b2b-7 teams
    make_demo(deals=150, seed=6)
    deals = list(Deal.objects.filter(pipeline=nine).values_list("id", flat=True))
    assert Deal.objects.filter(pipeline=nine, stage__kind="won").exists()
    assert _replay_gates(deals) > 50


def test_the_command_refuses_a_day_that_is_not_a_date(db):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("demo", "--deals", "5", "--today", "next friday", stdout=StringIO())
    assert not Deal.objects.exists()


def test_the_demo_enters_dated_rates_for_its_foreign_currency_once_as_the_admin(db):
    from dealgate.analytics.models import ExchangeRate
    from dealgate.audit.models import AuditEntry

    summary = make_demo(deals=20, seed=1)
    foreign = "USD" if settings.DEALGATE_CURRENCY != "USD" else "EUR"
    rates = list(ExchangeRate.objects.order_by("effective_from").values_list("currency", "effective_from"))
    assert rates == [(foreign, TODAY - dt.timedelta(days=365)),
                     (foreign, dt.date(TODAY.year, 3 * ((TODAY.month - 1) // 3) + 1, 1))]
    authors = set(AuditEntry.objects.filter(object_type="exchangerate").values_list("by__username", flat=True))
    assert authors == {"admin"}
    assert f"1 {foreign} = " in "\n".join(summary.lines())
    ExchangeRate.objects.filter(effective_from=rates[1][1]).update(rate="0.5")  # the admin's own rate stays
    make_demo(deals=20, seed=2)
    assert ExchangeRate.objects.count() == 2
    assert str(ExchangeRate.objects.get(effective_from=rates[1][1]).rate).startswith("0.5")


def test_the_demo_sets_this_quarters_quotas_from_last_quarters_wins_as_the_admin(db):
    from decimal import Decimal

    from django.db.models import Sum

    from dealgate.analytics.models import Quota
    from dealgate.audit.models import AuditEntry

    summary = make_demo(deals=300, seed=4)  # TODAY is in 2026-Q4
    quotas = {q.user.username: q.amount for q in Quota.objects.select_related("user")}
    assert quotas and summary.quotas == ("2026-Q4", len(quotas))
    assert {q.period_label for q in Quota.objects.all()} == {"2026-Q4"}
    for username, amount in quotas.items():
        won = Deal.objects.filter(owner__username=username, stage__kind="won", currency=settings.DEALGATE_CURRENCY,
                                  closed_at__gte=dt.datetime(2026, 7, 1, tzinfo=dt.timezone.utc),
                                  closed_at__lt=dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
                                  ).aggregate(total=Sum("amount"))["total"]
        # 1.2 x won, rounded up to a multiple of 5,000: e.g. 41,000 won -> 49,200 -> 50,000
        assert amount % 5000 == 0 and amount - 5000 < won * Decimal("1.2") <= amount, (username, won, amount)
    assert set(AuditEntry.objects.filter(object_type="quota").values_list("by__username", flat=True)) == {"admin"}
    assert "Quotas set for 2026-Q4" in "\n".join(summary.lines())
    first = Quota.objects.order_by("pk").first()
    Quota.objects.filter(pk=first.pk).update(amount=123)  # a quota already there is the admin's own: kept
    make_demo(deals=20, seed=5)
    assert Quota.objects.get(pk=first.pk).amount == 123
