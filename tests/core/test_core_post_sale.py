"""The signature is the win; onboarding is a post-sale checklist of won deals (decision 010)."""

from __future__ import annotations

import importlib
import io
import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse

from dealgate.analytics import metrics
from dealgate.analytics.history import Scope
from dealgate.analytics.periods import parse_period
from dealgate.deals import services
from dealgate.deals.models import Deal, StageHistory, StateSpan
from dealgate.deals.timeline import refresh_spans
from dealgate.errors import ValidationFailed
from dealgate.pipelines.models import Stage
from dealgate.pipelines.services import create_pipeline_from_template

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "analytics"))
from analytics_builders import History, at  # noqa: E402



def run_migration() -> None:
    importlib.import_module("dealgate.deals.migrations.0009_post_sale_stages_become_won").convert(apps, None)

FIELDS = [f.name for f in StateSpan._meta.fields if f.name != "id"]


def kinds_in_order(pipeline) -> list[tuple[str, str]]:
    return list(pipeline.stages.order_by("position").values_list("key", "kind"))


@pytest.mark.parametrize(("template", "post_key"), [("b2b-7", "onboarding"), ("b2b-9", "post-sale")])
def test_templates_make_the_post_sale_stage_a_phase_after_won(db, template, post_key):
    pipeline = create_pipeline_from_template(template)
    tail = kinds_in_order(pipeline)[-3:]
    assert tail == [("won", "won"), (post_key, "post"), ("lost", "lost")]
    post = pipeline.stages.get(key=post_key)
    assert post.criteria.filter(key="kickoff-held", kind="activity").exists()  # the template's criteria kept


@pytest.fixture
def b2b7_deal(world):
    pipeline = create_pipeline_from_template("b2b-7")
    account = services.create_account(by=world.alice, name="Acme")
    return services.create_deal(by=world.alice, title="Acme rollout", account=account, pipeline=pipeline,
                                amount="12000")


def test_it_refuses_moving_a_deal_into_a_post_sale_stage(b2b7_deal, world, snapshot):
    before = snapshot(b2b7_deal)
    with pytest.raises(ValidationFailed) as excinfo:
        services.move_deal(b2b7_deal, "onboarding", by=world.bob, override_reason="signed")
    assert "Onboarding is a post-sale phase" in excinfo.value.message
    assert snapshot(b2b7_deal) == before


def test_a_won_deal_tracks_its_onboarding_checklist_on_the_page_and_in_deal_show(b2b7_deal, world, client):
    services.move_deal(b2b7_deal, "won", by=world.bob, override_reason="Signed on paper")
    client.force_login(world.alice)
    page = client.get(reverse("web:deal", args=[b2b7_deal.pk])).content.decode()
    assert "After the sale: Onboarding" in page and "0 of 1 done" in page
    assert "A kick-off meeting with the customer was held" in page
    assert "After the sale: Handoff record" in page and "0 of 3 done" in page  # won by override: not recorded

    services.log_activity(by=world.alice, kind="meeting", subject="Kick-off", deal=b2b7_deal, outcome="held")
    services.record_checklist_answer(b2b7_deal, "agreed_terms", by=world.alice, evidence="Order form v3")
    page = client.get(reverse("web:deal", args=[b2b7_deal.pk])).content.decode()
    assert "1 of 1 done" in page and "1 of 3 done" in page

    out = io.StringIO()
    call_command("deal", "show", str(b2b7_deal.pk), stdout=out)
    text = out.getvalue()
    assert "After the sale, Handoff record: 1 of 3 done" in text
    assert "After the sale, Onboarding: 1 of 1 done" in text
    assert "  [x] A kick-off meeting with the customer was held" in text
    data = json.loads(_show_json(b2b7_deal))
    assert [(p["stage"], p["title"], p["done"], p["total"]) for p in data["post_sale"]] == [
        ("won", "Handoff record", 1, 3), ("onboarding", "Onboarding", 1, 1)]


def _show_json(deal) -> str:
    out = io.StringIO()
    call_command("deal", "show", str(deal.pk), "--json", stdout=out)
    return out.getvalue()


def test_an_open_deal_has_no_post_sale_checklist(b2b7_deal):
    assert json.loads(_show_json(b2b7_deal))["post_sale"] == []


# --- the data migration --------------------------------------------------------------------------


def _as_before_the_change(pipeline) -> None:
    """Onboarding as an installation made before decision 010 holds it: an open stage before Won."""
    onboarding, won = pipeline.stages.get(key="onboarding"), pipeline.stages.get(key="won")
    Stage.objects.filter(pk=onboarding.pk).update(position=99)
    Stage.objects.filter(pk=won.pk).update(position=onboarding.position)
    Stage.objects.filter(pk=onboarding.pk).update(position=won.position, kind="open", probability=90)
    refresh_spans(pipeline_id=pipeline.pk)


def test_the_migration_wins_deals_sitting_in_onboarding_as_of_the_day_they_entered_it(world):
    pipeline = create_pipeline_from_template("b2b-7")
    _as_before_the_change(pipeline)
    assert kinds_in_order(pipeline)[-3:] == [("onboarding", "open"), ("won", "won"), ("lost", "lost")]
    h = History(world, pipeline)
    signed = h.deal("2026-06-01", 6000, stage="prospecting")      # signed Jul 20, still in Onboarding
    h.move(signed, "negotiation-closing", "2026-07-01")
    h.move(signed, "onboarding", "2026-07-20")
    clean = h.deal("2026-06-01", 4000, stage="prospecting")       # Onboarding Jul 10, won Aug 15
    h.move(clean, "onboarding", "2026-07-10")
    h.move(clean, "won", "2026-08-15")
    lost = h.deal("2026-06-01", 1000, stage="prospecting")
    h.move(lost, "lost", "2026-08-01")
    q3, later = parse_period("2026-Q3"), at("2026-12-01")
    before = metrics.period_metrics(Scope(), q3, later)
    assert (before["won"], before["lost"]) == (1, 1)  # the signed deal sits in open pipeline

    run_migration()

    signed.refresh_from_db()
    assert (signed.stage.key, signed.closed_at, signed.stage_entered_at) == ("won", at("2026-07-20"), at("2026-07-20"))
    last = StageHistory.objects.filter(deal=signed).order_by("at", "id").last()
    assert (last.kind, last.from_stage.key, last.to_stage.key, last.at) == ("won", "onboarding", "won", at("2026-07-20"))
    assert (last.override, last.by, last.probability) == (True, None, 100)
    assert "decision 010" in last.override_reason
    assert StageHistory.objects.filter(deal=clean).count() == 3  # already won: left as it was
    assert kinds_in_order(pipeline)[-3:] == [("won", "won"), ("onboarding", "post"), ("lost", "lost")]
    # Win rate and cycle now count the signature: won Jul 20 (49 days) and Aug 15 (75 days), lost 1.
    after = metrics.period_metrics(Scope(), q3, later)
    assert (after["won"], after["lost"], after["win_rate"]) == (2, 1, pytest.approx(2 / 3))
    assert after["won_amount"] == Decimal("10000.00")
    assert after["cycle_mean_days"] == pytest.approx((49 + 75) / 2)
    # The spans the migration rebuilt for the pipeline (SQL) equal each deal's own projection (Python).
    rebuilt = _spans()
    refresh_spans([signed.pk, clean.pk, lost.pk])
    assert _spans() == rebuilt
    assert Deal.objects.filter(stage__kind="post").count() == 0


def test_a_migrated_deal_page_shows_the_system_move_and_its_checklist(world, client):
    """The appended row has no author: the page says "system" (it answered 500 on a row without one)."""
    pipeline = create_pipeline_from_template("b2b-7")
    _as_before_the_change(pipeline)
    h = History(world, pipeline)
    signed = h.deal("2026-06-01", 6000, stage="prospecting")
    h.move(signed, "onboarding", "2026-07-20")
    run_migration()
    client.force_login(world.alice)
    response = client.get(reverse("web:deal", args=[signed.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Won: Onboarding → Won" in html and "system" in html and "After the sale: Onboarding" in html


def _spans():
    spans = StateSpan.objects.order_by("deal_id", "starts_at", "history_id", "id")
    return [tuple(getattr(s, f if f != "deal" else "deal_id") for f in FIELDS) for s in spans]


def test_the_migration_leaves_pipelines_of_other_templates_alone(world, pipeline):
    distributor = create_pipeline_from_template("distributor-5")
    before = kinds_in_order(distributor), kinds_in_order(pipeline)
    run_migration()
    assert (kinds_in_order(distributor), kinds_in_order(pipeline)) == before
