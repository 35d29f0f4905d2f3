"""Edits of a deal, written for the mutants of dealgate/deals/services.py that survived tests/core
and tests/test_smoke_services.py in update_deal, log_activity, record_checklist_answer and _text:
each refusal's whole message and the field it names, each length limit on both sides, who an
audit entry names and when, and the rows an edit leaves behind. Expected values are worked out
by hand from the rules in the docstrings, not read back from the code."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from dealgate.audit.models import AuditEntry
from dealgate.audit.services import object_type_of
from dealgate.deals import services
from dealgate.deals.models import Activity, ChecklistAnswer, Deal, FieldChange
from dealgate.errors import NotAllowed
from tests.core.test_deal_services_mutants import audit, audit_by, refusal

NUL_REASON = r"contains a NUL character (\x00), which cannot be stored"


@pytest.fixture
def deal(make_deal):
    """Alice's deal "Acme renewal", 100.00, at version 1 (its creation)."""
    return make_deal(title="Acme renewal", amount="100")


# --- update_deal ------------------------------------------------------------------------------------


def test_a_title_with_a_nul_is_refused_naming_the_title(world, deal):
    """storable_text names the field it refuses: "title", with inputs.unstorable_reason's words."""
    assert refusal(services.update_deal, deal, by=world.alice, title="Acme\x00renewal") == (
        f"title: {NUL_REASON}", {"title": [NUL_REASON]})
    assert Deal.objects.get(pk=deal.pk).title == "Acme renewal"


def test_a_blank_title_is_required(world, deal):
    """A deal keeps a title: blanks strip to "", and title is parsed with required=True."""
    assert refusal(services.update_deal, deal, by=world.alice, title="   ") == (
        "title: is required", {"title": ["is required"]})
    assert Deal.objects.get(pk=deal.pk).title == "Acme renewal"


def test_a_forecast_category_outside_the_choices_names_the_field_and_the_choices(world, deal):
    """The choices are ForecastCategory's values in their declared order."""
    message = "'maybe' is not one of pipeline, best_case, commit, omitted"
    assert refusal(services.update_deal, deal, by=world.alice, forecast_category="maybe") == (
        f"forecast_category: {message}", {"forecast_category": [message]})


def test_the_source_can_be_changed_and_is_audited_but_not_logged(world, deal):
    """A deal starts as "outbound" (create_deal's default); "referral" is one of Source's values.
    source is not in TRACKED_FIELDS, so no FieldChange; the audit shows the change; version 1 -> 2."""
    services.update_deal(deal, by=world.alice, source="referral")
    assert (deal.source, deal.version) == ("referral", 2)
    assert (Deal.objects.get(pk=deal.pk).source, Deal.objects.get(pk=deal.pk).version) == ("referral", 2)
    assert audit(deal, "changed") == [("source", "outbound", "referral", "")]
    assert not FieldChange.objects.filter(deal=deal).exists()


def test_a_source_outside_the_choices_names_the_field_and_the_choices(world, deal):
    """The choices are Source's values in their declared order."""
    message = "'web' is not one of inbound, outbound, signal, referral, existing_account"
    assert refusal(services.update_deal, deal, by=world.alice, source="web") == (f"source: {message}",
                                                                                 {"source": [message]})


def test_every_read_only_field_is_named_in_order(world, deal):
    """stage and owner have their own services (move_deal, reassign_deal): both are named, sorted,
    joined by ", ", each with "cannot be changed here"."""
    assert refusal(services.update_deal, deal, by=world.alice, stage="won", owner=world.bob) == (
        "Unknown or read-only fields: owner, stage.",
        {"owner": ["cannot be changed here"], "stage": ["cannot be changed here"]})


def test_an_unchanged_field_does_not_stop_the_fields_after_it(world, deal):
    """The title is sent unchanged before a new amount: the amount still changes (100.00 -> 250.00),
    logged once as a FieldChange and once in the audit, by alice; version 1 -> 2."""
    services.update_deal(deal, by=world.alice, title="Acme renewal", amount="250")
    assert (deal.amount, deal.version) == (Decimal("250.00"), 2)
    changes = FieldChange.objects.filter(deal=deal).values_list("field", "old_value", "new_value", "by__username")
    assert list(changes) == [("amount", "100.00", "250.00", "alice")]
    assert audit(deal, "changed") == [("amount", "100.00", "250.00", "")]
    assert audit_by(deal, "changed") == ["alice"]


def test_an_update_is_audited_at_the_instant_of_its_field_changes(world, deal, monkeypatch):
    """update_deal reads the clock once (`now`) for its FieldChange rows and its audit entries. With a
    clock that moves one second per reading from 09:00:00, both rows of a close-date change (none ->
    2030-06-30) carry its first reading, 09:00:00: nothing before `now` in update_deal reads the clock."""
    start = dt.datetime(2030, 3, 1, 9, tzinfo=dt.timezone.utc)
    readings = iter(start + dt.timedelta(seconds=n) for n in range(1000))
    monkeypatch.setattr(timezone, "now", lambda: next(readings))
    services.update_deal(deal, by=world.alice, expected_close_date="2030-06-30")
    (change_at,) = FieldChange.objects.filter(deal=deal, field="expected_close_date").values_list("at", flat=True)
    entries = AuditEntry.objects.filter(object_type=object_type_of(deal), object_id=deal.pk, action="changed")
    assert change_at == start
    assert list(entries.values_list("field", "at")) == [("expected_close_date", start)]


# --- log_activity -----------------------------------------------------------------------------------


def test_an_activity_without_outcome_or_notes_stores_them_empty(world, deal):
    """outcome and notes default to "" (outcome_key("") is "")."""
    activity = services.log_activity(by=world.alice, kind="note", subject="Called back", deal=deal)
    assert Activity.objects.filter(pk=activity.pk).values_list("subject", "outcome", "notes").get() == (
        "Called back", "", "")


def test_a_naive_time_is_refused_naming_occurred_at(world, deal):
    """2030-01-10 09:00 without a time zone is ambiguous; nothing is written."""
    assert refusal(services.log_activity, by=world.alice, kind="call", subject="Intro", deal=deal,
                   occurred_at=dt.datetime(2030, 1, 10, 9)) == (
        "occurred_at: needs a time zone", {"occurred_at": ["needs a time zone"]})
    assert not Activity.objects.exists()


def test_another_teams_rep_cannot_log_an_activity_on_a_deal(world, deal):
    """carol (rep, West) may not change alice's deal: NotAllowed naming her, the deal and its title."""
    with pytest.raises(NotAllowed) as excinfo:
        services.log_activity(by=world.carol, kind="call", subject="Intro", deal=deal)
    assert excinfo.value.message == f"carol may not change deal {deal.pk} (Acme renewal)."
    assert not Activity.objects.exists()
    assert Deal.objects.get(pk=deal.pk).version == 1


def test_an_activity_on_a_deal_and_another_account_is_refused_naming_both(world, deal):
    """The deal belongs to its own account, not Globex: the message names the deal, both accounts,
    and what to send instead."""
    globex = services.create_account(by=world.alice, name="Globex")
    message = (f"deal {deal.pk} belongs to account {deal.account_id}, not {globex.pk}; "
               "send the deal's account or leave it out")
    assert refusal(services.log_activity, by=world.alice, kind="call", subject="Intro", deal=deal,
                   account=globex) == (f"account: {message}", {"account": [message]})
    assert not Activity.objects.exists()


def test_a_blank_subject_is_required(world, deal):
    assert refusal(services.log_activity, by=world.alice, kind="call", subject="  ", deal=deal) == (
        "subject: is required", {"subject": ["is required"]})


@pytest.mark.parametrize("field, limit, given", [
    ("subject", 200, {"kind": "call"}),
    ("outcome", 50, {"kind": "call", "subject": "Intro"}),  # an outcome is stored as given
    ("notes", 10_000, {"kind": "note", "subject": "Minutes"}),
])
def test_an_activity_text_may_be_as_long_as_its_limit_and_no_more(world, deal, field, limit, given):
    too_long = f"is longer than {limit} characters"
    assert refusal(services.log_activity, by=world.alice, deal=deal, **given, **{field: "x" * (limit + 1)}) == (
        f"{field}: {too_long}", {field: [too_long]})
    assert not Activity.objects.exists()
    activity = services.log_activity(by=world.alice, deal=deal, **given, **{field: "x" * limit})
    assert getattr(Activity.objects.get(pk=activity.pk), field) == "x" * limit


def test_an_activity_is_audited_by_who_logged_it(world, deal):
    services.log_activity(by=world.alice, kind="call", subject="Intro", deal=deal)
    assert audit(deal, "activity logged") == [("call", "", "Intro", "")]
    assert audit_by(deal, "activity logged") == ["alice"]


# --- record_checklist_answer ------------------------------------------------------------------------


def test_a_checklist_item_with_a_nul_is_refused_naming_the_item(world, deal):
    assert refusal(services.record_checklist_answer, deal, "bud\x00get", by=world.alice) == (
        f"item: {NUL_REASON}", {"item": [NUL_REASON]})


def test_a_blank_checklist_item_is_required(world, deal):
    """Blanks strip to "": "is required", not the slug message about ''."""
    assert refusal(services.record_checklist_answer, deal, "  ", by=world.alice) == (
        "item: is required", {"item": ["is required"]})


def test_a_checklist_item_may_be_60_characters_and_no_more(world, deal):
    """"a" * 61 is a slug, so only the length refuses it."""
    assert refusal(services.record_checklist_answer, deal, "a" * 61, by=world.alice) == (
        "item: is longer than 60 characters", {"item": ["is longer than 60 characters"]})
    assert not ChecklistAnswer.objects.exists()
    assert services.record_checklist_answer(deal, "a" * 60, by=world.alice).item == "a" * 60
    assert list(ChecklistAnswer.objects.values_list("item", flat=True)) == ["a" * 60]


def test_checklist_evidence_may_be_500_characters_and_no_more(world, deal):
    assert refusal(services.record_checklist_answer, deal, "budget", by=world.alice, evidence="e" * 501) == (
        "evidence: is longer than 500 characters", {"evidence": ["is longer than 500 characters"]})
    assert not ChecklistAnswer.objects.exists()
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="e" * 500)
    assert list(ChecklistAnswer.objects.values_list("item", "evidence")) == [("budget", "e" * 500)]


def test_another_teams_rep_cannot_answer_a_deals_checklist(world, deal):
    """carol (rep, West) may not change alice's deal: NotAllowed, no answer, the version unchanged."""
    with pytest.raises(NotAllowed) as excinfo:
        services.record_checklist_answer(deal, "budget", by=world.carol)
    assert excinfo.value.message == f"carol may not change deal {deal.pk} (Acme renewal)."
    assert not ChecklistAnswer.objects.exists()
    assert Deal.objects.get(pk=deal.pk).version == 1


def test_a_first_answer_has_no_before_whatever_other_deals_answered(world, deal, make_deal):
    """Another deal ticked 'budget' with evidence; this deal's first 'budget' answer starts from ""."""
    other = make_deal(title="Globex expansion")
    services.record_checklist_answer(other, "budget", by=world.alice, evidence="CFO email")
    services.record_checklist_answer(deal, "budget", by=world.alice, checked=False)
    assert audit(deal, "checklist") == [("budget", "", "not ticked", "")]


def test_a_first_answer_has_no_before_whatever_other_items_answered(world, deal):
    """'authority' is ticked first; the first 'budget' answer starts from "", not from 'authority'."""
    services.record_checklist_answer(deal, "authority", by=world.alice, evidence="VP signs")
    services.record_checklist_answer(deal, "budget", by=world.alice)
    assert audit(deal, "checklist") == [("authority", "", "ticked: VP signs", ""), ("budget", "", "ticked", "")]


def test_a_checklist_answer_is_audited_by_who_gave_it(world, deal):
    services.record_checklist_answer(deal, "budget", by=world.alice)
    assert audit_by(deal, "checklist") == ["alice"]
