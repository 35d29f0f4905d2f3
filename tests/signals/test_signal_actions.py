"""A rep's inbox and actions on a signal: convert to a deal with the evidence, snooze, dismiss with a reason."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.deals.models import Account
from dealgate.errors import Conflict, NotAllowed, ValidationFailed
from dealgate.signals.models import Signal
from dealgate.signals.services import convert_signal, dismiss_signal, inbox, snooze_signal

from .history import d


def signal_on(account: Account, revenue: int, key: str) -> Signal:
    return Signal.objects.create(kind="missed_reorder", account=account, cause_key=key, title=f"Reorder late {key}",
                                 evidence={"days_late": 20, "typical_gap_days": 30}, revenue=revenue,
                                 as_of=d("2026-07-20"), raised_at=dt.datetime(2026, 7, 20, tzinfo=dt.timezone.utc))


@pytest.fixture
def signals(world, pipeline):
    alices = Account.objects.create(name="Alice's account", owner=world.alice)
    carols = Account.objects.create(name="Carol's account", owner=world.carol)
    return signal_on(alices, 1000, "a1"), signal_on(alices, 5000, "a2"), signal_on(carols, 9000, "c1")


def test_it_shows_a_rep_the_signals_on_their_accounts_highest_revenue_first(world, signals):
    small, big, carols = signals
    assert list(inbox(world.alice)) == [big, small]
    assert list(inbox(world.bob)) == [big, small]  # her manager sees the team's
    assert list(inbox(world.dave)) == [carols, big, small]


def test_it_converts_a_signal_to_a_deal_in_the_first_stage_with_the_evidence(world, signals, pipeline):
    small, _, _ = signals
    deal = convert_signal(small, by=world.alice)
    small.refresh_from_db()
    assert (small.status, small.deal) == ("converted", deal)
    assert deal.stage.key == "qualify" and deal.source == "signal" and deal.amount == 1000
    assert deal.owner == world.alice and deal.account == small.account
    note = deal.activities.get()
    # the sentence the signal pages show, not the raw keys
    assert note.notes == "Missed reorder (raised as of 2026-07-20).\nUsually orders every 30 days."
    assert "typical gap days" not in note.notes
    with pytest.raises(Conflict):
        convert_signal(small, by=world.alice)


def test_the_deal_note_tells_the_evidence_in_words_as_of_the_day_the_signal_was_raised(world, pipeline):
    account = Account.objects.create(name="Alice's account", owner=world.alice)
    signal = Signal.objects.create(
        kind="missed_reorder", account=account, cause_key="m1", title="Reorder 20 days late", revenue=1200,
        evidence={"last_order": "2026-05-21", "typical_gap_days": 30, "expected": "2026-06-20",
                  "typical_order_revenue": 1200, "days_late": 30},
        as_of=d("2026-07-20"), raised_at=dt.datetime(2026, 7, 20, tzinfo=dt.timezone.utc))
    deal = convert_signal(signal, by=world.alice)
    # as of 20 Jul: last order 21 May is 60 days before, the expected 20 Jun 30 days
    assert deal.activities.get().notes == (
        "Missed reorder (raised as of 2026-07-20).\n"
        "Usually orders every 30 days; last on 21 May (60 days ago). "
        "The next order was due by 20 Jun and is 30 days late. A typical order is EUR 1,200.")


def test_a_kind_no_sentence_is_written_for_keeps_its_raw_evidence_on_the_deal(world, pipeline):
    account = Account.objects.create(name="Alice's account", owner=world.alice)
    signal = Signal.objects.create(kind="missed_reorder", account=account, cause_key="m2", title="Odd", revenue=0,
                                   evidence={"note": "imported"}, as_of=d("2026-07-20"),
                                   raised_at=dt.datetime(2026, 7, 20, tzinfo=dt.timezone.utc))
    assert convert_signal(signal, by=world.alice).activities.get().notes == (
        "Missed reorder (raised as of 2026-07-20).\nnote: imported")


def test_it_refuses_acting_on_another_reps_signal(world, signals):
    with pytest.raises(NotAllowed):
        convert_signal(signals[2], by=world.alice)
    with pytest.raises(NotAllowed):
        dismiss_signal(signals[2], "not ours", by=world.alice)


def test_it_snoozes_until_a_date_and_brings_the_signal_back_then(world, signals):
    small, big, _ = signals
    snooze_signal(big, dt.date.today() + dt.timedelta(days=7), by=world.alice)
    assert list(inbox(world.alice)) == [small]
    assert list(inbox(world.alice, today=dt.date.today() + dt.timedelta(days=7))) == [big, small]
    with pytest.raises(ValidationFailed):
        snooze_signal(small, dt.date.today(), by=world.alice)


def test_it_dismisses_only_with_a_reason(world, signals):
    small, big, _ = signals
    for unusable in ("  ", "a\x00b", "x" * 301):  # empty, a NUL PostgreSQL cannot keep, too long to keep whole
        with pytest.raises(ValidationFailed):
            dismiss_signal(small, unusable, by=world.alice)
    dismiss_signal(small, "Moved to a competitor for good", by=world.alice)
    small.refresh_from_db()
    assert small.status == "dismissed" and small.dismissed_reason == "Moved to a competitor for good"
    assert list(inbox(world.alice)) == [big]


def test_every_action_on_a_signal_is_in_the_audit_log_with_its_author_and_surface(client, world, signals):
    """Snooze, dismiss and convert from the inbox page: the log names the rep, the web, the status change."""
    from dealgate.audit.models import AuditEntry

    small, big, _ = signals
    client.login(username=world.alice.username, password=world.password)
    until = dt.date.today() + dt.timedelta(days=7)
    assert client.post(f"/signals/{big.pk}/snooze/", {"until": until.isoformat()}).status_code == 302
    assert client.post(f"/signals/{big.pk}/dismiss/", {"reason": "Buys from the parent company now"}).status_code == 302
    assert client.post(f"/signals/{small.pk}/convert/").status_code == 302
    deal = Signal.objects.get(pk=small.pk).deal
    rows = list(AuditEntry.objects.filter(object_type="signal").order_by("id").values_list(
        "object_id", "object_name", "by", "surface", "action", "field", "before", "after", "note"))
    assert rows == [
        (big.pk, "Reorder late a2", world.alice.pk, "web", "snoozed", "status", "New", "Snoozed",
         f"until {until.isoformat()}"),
        (big.pk, "Reorder late a2", world.alice.pk, "web", "dismissed", "status", "Snoozed", "Dismissed",
         "Buys from the parent company now"),
        (small.pk, "Reorder late a1", world.alice.pk, "web", "converted", "status", "New", "Converted",
         f"deal #{deal.pk}: {deal.title}"),
    ]
    # a refused action writes nothing
    assert client.post(f"/signals/{big.pk}/dismiss/", {"reason": "again"}).status_code == 302
    assert AuditEntry.objects.filter(object_type="signal").count() == 3
