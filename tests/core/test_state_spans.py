"""State spans: the projection of each deal's history that analytics reads (dealgate.deals.timeline).

The spans written by the live path (one deal at a time, after every history row) must equal what a
full rebuild from the history produces, whatever order the rows arrived in.
"""

import datetime as dt
import random
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from dealgate.deals import services
from dealgate.deals.models import FieldChange, SpanRewrite, StageHistory, StateSpan
from dealgate.deals.timeline import refresh_spans
from dealgate.pipelines.models import Stage
from dealgate.web.pipeline_settings import move_stage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "analytics"))
from analytics_builders import History, at  # noqa: E402

FIELDS = [f.name for f in StateSpan._meta.fields if f.name != "id"]


def snapshot(deal_ids=None):
    spans = StateSpan.objects.order_by("deal_id", "starts_at", "history_id", "id")
    if deal_ids is not None:
        spans = spans.filter(deal_id__in=deal_ids)
    return [tuple(getattr(s, f if f != "deal" else "deal_id") for f in FIELDS) for s in spans]


def rebuilt():
    refresh_spans()
    return snapshot()


@pytest.mark.django_db
def test_live_path_matches_a_full_rebuild(world, pipeline, make_deal):
    deal = make_deal(owner=world.alice, amount="1000", expected_close_date="2026-12-01")
    services.update_deal(deal, by=world.alice, amount="1500")
    services.record_checklist_answer(deal, "budget", by=world.alice)
    services.update_deal(deal, by=world.alice, expected_close_date="2027-01-15", forecast_category="commit")
    services.move_deal(deal, "propose", by=world.bob, override_reason="test")
    services.reassign_deal(deal, world.carol, by=world.dave)  # East -> West: team change logged too
    live = snapshot()
    assert live == rebuilt()

    spans = list(StateSpan.objects.filter(deal=deal).order_by("starts_at", "id"))
    assert [s.move_kind for s in spans] == ["created", "", "", "", "forward", "", ""]
    assert spans[-1].ends_at.year == 9999 and all(s.ends_at == n.starts_at for s, n in zip(spans, spans[1:]))
    first, moved, last = spans[0], spans[4], spans[-1]
    # Before the first logged change a field has that change's old value; after it, the new one.
    assert (first.amount_cents, first.close_date, first.forecast_category) == (100000, dt.date(2026, 12, 1), "pipeline")
    assert (moved.amount_cents, moved.close_date, moved.forecast_category) == (150000, dt.date(2027, 1, 15), "commit")
    assert moved.prev_stage_kind == "open" and moved.prev_amount_cents == 150000 and moved.stage_id != first.stage_id
    assert (moved.owner_id, moved.team_id) == (world.alice.pk, world.east.pk)
    assert (last.owner_id, last.team_id) == (world.carol.pk, world.west.pk)
    # The team change is logged first (same instant), so the owner change's "before" is Alice in West.
    assert (last.prev_owner_id, last.prev_team_id) == (world.alice.pk, world.west.pk)
    assert first.prev_stage_kind == "" and first.prev_amount_cents is None


@pytest.mark.django_db
def test_field_values_before_first_change_are_the_old_values(world, pipeline):
    h = History(world, pipeline)
    deal = h.deal("2026-06-01", 1000, close_date="2026-09-30", category="best_case")
    h.change(deal, "expected_close_date", "2026-10-31", "2026-07-01", old="2026-08-31")
    spans = list(StateSpan.objects.filter(deal=deal).order_by("starts_at"))
    assert [s.close_date for s in spans] == [dt.date(2026, 8, 31), dt.date(2026, 10, 31)]
    assert {s.forecast_category for s in spans} == {"best_case"}  # never changed: the deal's value


@pytest.mark.django_db
def test_rows_arriving_out_of_order_give_the_same_spans(world, pipeline):
    """An import may append events older than the ones already there; spans are rebuilt per deal."""
    h = History(world, pipeline)
    rng = random.Random(5)
    deals = [h.deal("2026-01-05", 100 * (i + 1)) for i in range(6)]
    for deal in deals:
        day = 10
        for stage in rng.sample(["propose", "negotiate", "qualify", "won", "lost", "propose"], 4):
            h.move(deal, stage, f"2026-02-{day:02d}")
            day += rng.randint(0, 5)  # zero: two events on the same instant
        h.change(deal, "amount", Decimal("999"), "2026-01-20")  # older than the moves: backdated
    assert snapshot() == rebuilt()
    for deal in deals:
        spans = list(StateSpan.objects.filter(deal=deal).order_by("starts_at", "id"))
        assert spans == sorted(spans, key=lambda s: s.starts_at)
        stays = [s for s in spans if s.history_id]
        assert len(stays) == StageHistory.objects.filter(deal=deal).count()
        assert len(spans) == len(stays) + FieldChange.objects.filter(deal=deal, field="amount").count()


@pytest.mark.django_db
def test_next_advance_follows_the_stage_order(world, pipeline):
    h = History(world, pipeline)
    deal = h.deal("2026-03-01", 100)
    h.move(deal, "negotiate", "2026-03-05")
    h.move(deal, "propose", "2026-03-09")
    span = StateSpan.objects.get(deal=deal, move_kind="created")
    assert span.next_advance_at == at("2026-03-05")  # negotiate is after qualify
    propose = Stage.objects.get(pipeline=pipeline, key="propose")
    move_stage(propose, "up", by=world.dave)  # propose now comes first: moving there is no advance
    assert StateSpan.objects.get(deal=deal, move_kind="backward").next_advance_at is None
    assert StateSpan.objects.get(deal=deal, move_kind="forward").stage_position == 3


@pytest.mark.django_db
def test_only_backdated_writes_leave_a_rewrite_note(world, pipeline, make_deal):
    before = SpanRewrite.objects.count()
    deal = make_deal(amount="10")
    services.update_deal(deal, by=world.alice, amount="20")
    assert SpanRewrite.objects.count() == before  # live writes: events at "now"
    History(world, pipeline).deal("2025-01-01", 5)
    note = SpanRewrite.objects.latest("id")
    assert note.changed_from == at("2025-01-01") and note.written_at <= timezone.now()


@pytest.mark.django_db
def test_spans_command(world, pipeline, make_deal, capsys):
    make_deal(amount="10")
    StateSpan.objects.all().delete()
    call_command("spans", "--rebuild", "--pipeline", pipeline.key)
    assert "Rebuilt 1 state spans" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No pipeline with key 'nope'"):
        call_command("spans", "--rebuild", "--pipeline", "nope")


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(4))
def test_python_and_sql_projections_agree_on_random_histories(world, pipeline, seed):
    """The live path (Python, per deal) and the bulk path (one SQL statement) are two spellings of
    one projection: random histories with every kind of event must give identical rows."""
    h = History(world, pipeline)
    rng = random.Random(seed)
    people = [world.alice, world.bob, world.carol]
    for n in range(8):
        deal = h.deal(f"2026-01-{rng.randint(1, 9):02d}", rng.choice([None, 100, 2500.5]),
                      close_date=rng.choice([None, "2026-05-01"]), category=rng.choice(["pipeline", "commit"]))
        day = 10
        for _ in range(rng.randint(0, 7)):
            day += rng.choice([0, 0, 1, 3])  # same-instant events included
            when = f"2026-02-{min(day, 28):02d}"
            what = rng.choice(["move", "move", "amount", "close", "category", "owner", "currency", "override"])
            if what == "move":
                h.move(deal, rng.choice(["qualify", "propose", "negotiate", "won", "lost"]), when)
            elif what == "amount":
                h.change(deal, "amount", rng.choice([None, Decimal("10.05"), Decimal("99999.99")]), when)
            elif what == "close":
                h.change(deal, "expected_close_date", rng.choice(["", "2026-06-30"]), when, old="2026-05-01")
            elif what == "category":
                h.change(deal, "forecast_category", "best_case", when, old="pipeline")
            elif what == "override":
                h.change(deal, "probability_override", rng.choice([None, 35, 90]), when, old=rng.choice([None, 10]))
            elif what == "currency":
                h.change(deal, "currency", "USD", when, old="EUR")
            else:
                old, new = rng.sample(people, 2)
                h.change(deal, "team", new.profile.team_id, when, old=old.profile.team_id)
                h.change(deal, "owner", new.pk, when, old=old.pk)
    live = snapshot()
    assert live and live == rebuilt()


@pytest.mark.django_db
def test_a_stage_reordered_in_the_django_admin_rebuilds_the_spans(world, pipeline, rf):
    from django.contrib.admin.sites import site
    from django.forms.models import model_to_dict

    h = History(world, pipeline)
    deal = h.deal("2026-03-01", 100)
    h.move(deal, "negotiate", "2026-03-05")
    assert StateSpan.objects.get(deal=deal, move_kind="created").next_advance_at == at("2026-03-05")
    negotiate = Stage.objects.get(pipeline=pipeline, key="negotiate")
    request = rf.post("/admin/")
    request.user = world.dave
    admin = site._registry[Stage]
    data = {k: ("" if v is None else v) for k, v in model_to_dict(negotiate).items()}
    data["position"] = 0  # before qualify: moving there is no longer an advance
    form = admin.get_form(request, negotiate, change=True)(data=data, instance=negotiate)
    assert form.is_valid(), form.errors
    admin.save_model(request, form.save(commit=False), form, change=True)
    assert StateSpan.objects.get(deal=deal, move_kind="created").next_advance_at is None
    assert StateSpan.objects.get(deal=deal, move_kind="forward").stage_position == 0


@pytest.mark.django_db
def test_a_reentry_knows_when_the_deal_last_entered_the_stage(world, pipeline):
    h = History(world, pipeline)
    deal = h.deal("2026-03-01", 100)  # enters qualify
    h.change(deal, "amount", Decimal("150"), "2026-03-02")
    h.move(deal, "propose", "2026-03-05")
    h.move(deal, "qualify", "2026-03-09")  # back: a second entry into qualify
    h.move(deal, "propose", "2026-03-12")
    entries = {(s.move_kind, s.starts_at): s.prev_entry_at
               for s in StateSpan.objects.filter(deal=deal, history_id__isnull=False)}
    assert entries == {
        ("created", at("2026-03-01")): None, ("forward", at("2026-03-05")): None,
        ("backward", at("2026-03-09")): at("2026-03-01"), ("forward", at("2026-03-12")): at("2026-03-05"),
    }
    assert StateSpan.objects.get(deal=deal, history_id__isnull=True).prev_entry_at is None  # amount change


@pytest.mark.django_db
def test_the_migration_backfill_gives_the_projected_prev_entry(world, pipeline, seed=3):
    """Databases with spans from before the column get it by an UPDATE (deals migration 0007);
    it must agree with the projection."""
    import importlib

    from django.db import connection

    backfill = importlib.import_module("dealgate.deals.migrations.0007_span_prev_entry").BACKFILL
    test_python_and_sql_projections_agree_on_random_histories(world, pipeline, seed)
    h = History(world, pipeline)
    deal = h.deal("2026-03-01", 100)
    for when, stage in (("2026-03-05", "propose"), ("2026-03-06", "qualify"), ("2026-03-07", "propose"),
                        ("2026-03-08", "qualify")):
        h.move(deal, stage, when)
    projected = snapshot()
    assert StateSpan.objects.filter(prev_entry_at__isnull=False).count() >= 2
    StateSpan.objects.update(prev_entry_at=None)
    with connection.cursor() as cursor:
        cursor.execute(backfill)
    assert snapshot() == projected


def _rebuilds_spans(queries) -> bool:
    return any(q["sql"].startswith("DELETE") and "deals_statespan" in q["sql"] for q in queries)


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(3))
def test_live_moves_append_their_span_and_equal_a_rebuild(world, pipeline, make_deal, seed):
    """A live move appends its span and closes the ones before it instead of rebuilding the deal's
    spans (issue #16): after random moves (won, lost, reopened, back and forth) mixed with field
    changes and reassignments, the spans equal a full rebuild, and no move rebuilt."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rng = random.Random(seed)
    deals = [make_deal(owner=world.alice, amount="100", expected_close_date="2026-12-01") for _ in range(3)]
    moves = 0
    for _ in range(30):
        deal = rng.choice(deals)
        what = rng.choice(["move"] * 5 + ["amount", "close", "category", "reassign"])
        if what == "move":
            target = rng.choice([key for key in ("qualify", "propose", "negotiate", "won", "lost")
                                 if key != deal.stage.key])
            with CaptureQueriesContext(connection) as ctx:
                services.move_deal(deal, target, by=world.dave, override_reason="test",
                                   lost_reason="price" if target == "lost" else None)
            assert not _rebuilds_spans(ctx.captured_queries)
            moves += 1
        elif what == "amount":
            services.update_deal(deal, by=world.dave, amount=str(rng.choice([5, 250, 9999])))
        elif what == "close":
            services.update_deal(deal, by=world.dave, expected_close_date=rng.choice(["2027-01-31", "2027-03-01"]))
        elif what == "category":
            services.update_deal(deal, by=world.dave, forecast_category=rng.choice(["commit", "best_case"]))
        else:
            services.reassign_deal(deal, rng.choice([world.alice, world.carol]), by=world.dave)
    assert moves and snapshot() == rebuilt()


@pytest.mark.django_db
def test_a_move_rebuilds_when_the_spans_disagree_with_the_deal(world, pipeline, make_deal):
    """A deal row changed behind the history's back (no change logged): appending would carry the
    old value forward, so the move rebuilds and the spans again equal a rebuild."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dealgate.deals.models import Deal

    deal = make_deal(owner=world.alice, amount="100")
    Deal.objects.filter(pk=deal.pk).update(forecast_category="commit")
    with CaptureQueriesContext(connection) as ctx:
        services.move_deal(deal, "propose", by=world.dave, override_reason="test")
    assert _rebuilds_spans(ctx.captured_queries)
    assert snapshot() == rebuilt()
    assert {s.forecast_category for s in StateSpan.objects.filter(deal=deal)} == {"commit"}
