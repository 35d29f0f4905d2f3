"""`record_imported_move`: a deal put where the other system says it is, as imported history.

Written for the mutants that survived in it (bench/mutation.sh import-write): no test read the
lost reason and note it keeps or clears, the move's kind when reopening or going back, the deal's
version, the refusal of a move dated before the latest row (and the one dated exactly at it), or
the refusal of a user who may not change the deal.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dealgate.deals.models import Deal, LostReason, StageHistory
from dealgate.errors import NotAllowed, ValidationFailed
from dealgate.imports.services import record_imported_move

UTC = dt.timezone.utc


def _stage(pipeline, key):
    return pipeline.stages.get(key=key)


def _latest(deal):
    row = StageHistory.objects.filter(deal=deal).order_by("at", "id").last()
    return (row.from_stage.key, row.to_stage.key, row.kind, row.by.username, row.imported)


def test_lost_keeps_its_reason_and_note_and_reopening_clears_them(world, pipeline, make_deal):
    deal = make_deal()
    start = StageHistory.objects.get(deal=deal).at
    price = LostReason.objects.get(key="price")
    version = deal.version
    lost_at = start + dt.timedelta(days=3)
    record_imported_move(deal, _stage(pipeline, "lost"), by=world.dave, at=lost_at, lost_reason_id=price.pk,
                         lost_note="Went with the cheaper quote")
    deal.refresh_from_db()
    assert (deal.stage.key, deal.closed_at, deal.lost_reason_id, deal.lost_note) == (
        "lost", lost_at, price.pk, "Went with the cheaper quote")
    assert deal.version == version + 1
    assert _latest(deal) == ("qualify", "lost", "lost", "dave", True)

    record_imported_move(deal, _stage(pipeline, "propose"), by=world.dave, at=lost_at + dt.timedelta(days=1))
    deal.refresh_from_db()
    assert (deal.stage.key, deal.closed_at, deal.lost_reason_id, deal.lost_note) == ("propose", None, None, "")
    assert deal.version == version + 2
    assert _latest(deal) == ("lost", "propose", "reopened", "dave", True)


def test_won_drops_a_lost_reason_and_note_and_lost_without_a_note_has_none(world, pipeline, make_deal):
    price = LostReason.objects.get(key="price")
    won, lost = make_deal(), make_deal()
    when = StageHistory.objects.get(deal=won).at + dt.timedelta(days=1)
    record_imported_move(won, _stage(pipeline, "won"), by=None, at=when, lost_reason_id=price.pk, lost_note="n/a")
    record_imported_move(lost, _stage(pipeline, "lost"), by=None, at=when)
    won.refresh_from_db()
    lost.refresh_from_db()
    assert (won.closed_at, won.lost_reason_id, won.lost_note) == (when, None, "")
    assert (lost.closed_at, lost.lost_reason_id, lost.lost_note) == (when, None, "")


def test_an_open_move_is_forward_or_backward_by_position(world, pipeline, make_deal):
    deal = make_deal()
    start = StageHistory.objects.get(deal=deal).at
    record_imported_move(deal, _stage(pipeline, "negotiate"), by=world.dave, at=start + dt.timedelta(days=1))
    assert _latest(deal) == ("qualify", "negotiate", "forward", "dave", True)
    record_imported_move(deal, _stage(pipeline, "propose"), by=world.dave, at=start + dt.timedelta(days=2))
    assert _latest(deal) == ("negotiate", "propose", "backward", "dave", True)


def test_a_move_dated_at_the_latest_row_is_taken_and_one_before_it_refused_in_utc(world, pipeline, make_deal):
    deal = make_deal()
    start = StageHistory.objects.get(deal=deal).at
    record_imported_move(deal, _stage(pipeline, "propose"), by=world.dave, at=start)  # the same instant: fine
    earlier = (start - dt.timedelta(hours=2)).astimezone(dt.timezone(dt.timedelta(hours=5)))
    with pytest.raises(ValidationFailed) as refused:
        record_imported_move(deal, _stage(pipeline, "negotiate"), by=world.dave, at=earlier)
    message = (f"{earlier.astimezone(UTC):%Y-%m-%d %H:%M} UTC is before deal {deal.pk}'s latest stage change "
               f"({start.astimezone(UTC):%Y-%m-%d %H:%M} UTC)")
    assert refused.value.details == {"stage_entered_at": [message]}
    deal.refresh_from_db()
    assert deal.stage.key == "propose"


def test_a_user_who_may_not_change_the_deal_is_refused_by_name(world, pipeline, make_deal):
    deal = make_deal()  # alice's, East
    when = StageHistory.objects.get(deal=deal).at + dt.timedelta(days=1)
    with pytest.raises(NotAllowed) as refused:
        record_imported_move(deal, _stage(pipeline, "propose"), by=world.carol, at=when)
    assert (refused.value.message, refused.value.details) == (f"carol may not change deal {deal.pk}.",
                                                              {"deal": deal.pk})
    deal.refresh_from_db()
    assert deal.stage.key == "qualify"


def test_each_move_is_audited_with_its_kind_stages_and_date_and_the_row_carries_the_deals_amount(world, pipeline,
                                                                                                  make_deal):
    """A 250 EUR deal goes propose (day 1: "moved", 60%), won (day 2: "won", 100%), negotiate (day 3:
    "reopened", 80%), lost (day 4: "lost", 0%); the audit note gives each move's date; the caller's deal
    object follows."""
    from dealgate.audit.models import AuditEntry

    deal = make_deal(amount="250")
    start = StageHistory.objects.get(deal=deal).at
    seen = []
    for day, key in ((1, "propose"), (2, "won"), (3, "negotiate"), (4, "lost")):
        when = start + dt.timedelta(days=day)
        row = record_imported_move(deal, _stage(pipeline, key), by=world.dave, at=when)
        seen.append((row.amount, row.currency, row.probability, row.at, deal.stage.key, deal.version))
    days = [start + dt.timedelta(days=n) for n in (1, 2, 3, 4)]
    version = seen[0][5]
    assert seen == [(Decimal("250.00"), "EUR", 60, days[0], "propose", version),
                    (Decimal("250.00"), "EUR", 100, days[1], "won", version + 1),
                    (Decimal("250.00"), "EUR", 80, days[2], "negotiate", version + 2),
                    (Decimal("250.00"), "EUR", 0, days[3], "lost", version + 3)]
    assert Deal.objects.get(pk=deal.pk).version == version + 3
    entries = list(AuditEntry.objects.filter(object_type="deal", object_id=deal.pk, field="stage")
                   .exclude(action="created").order_by("id").values_list("action", "before", "after", "note"))
    assert entries == [("moved", "Qualify", "Propose", f"imported, dated {days[0]:%Y-%m-%d}"),
                       ("won", "Propose", "Won", f"imported, dated {days[1]:%Y-%m-%d}"),
                       ("reopened", "Won", "Negotiate", f"imported, dated {days[2]:%Y-%m-%d}"),
                       ("lost", "Negotiate", "Lost", f"imported, dated {days[3]:%Y-%m-%d}")]


def test_a_move_without_a_date_is_dated_now(world, pipeline, make_deal):
    from django.utils import timezone

    deal = make_deal()
    before = timezone.now()
    row = record_imported_move(deal, _stage(pipeline, "propose"), by=None, at=None)
    deal.refresh_from_db()
    assert before <= row.at <= timezone.now() and deal.stage_entered_at == row.at and row.by is None


def test_the_refusal_gives_both_instants_in_utc_whatever_the_installations_time_zone(world, pipeline, make_deal,
                                                                                     settings):
    """Tokyo is UTC+9: a move at 01:00 UTC on the created day is 10:00 there; the message says 01:00 UTC."""
    settings.TIME_ZONE = "Asia/Tokyo"
    deal = make_deal()
    start = StageHistory.objects.get(deal=deal).at
    earlier = start.replace(hour=1, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    with pytest.raises(ValidationFailed) as refused:
        record_imported_move(deal, _stage(pipeline, "propose"), by=world.dave, at=earlier)
    [message] = refused.value.details["stage_entered_at"]
    assert message.startswith(f"{earlier:%Y-%m-%d} 01:00 UTC is before deal {deal.pk}'s latest stage change (")
    assert message.endswith(f"{start.astimezone(UTC):%Y-%m-%d %H:%M} UTC)")
