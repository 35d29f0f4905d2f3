"""Creating and changing deals: bad input is refused whole, with a message naming the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dealgate.deals import services
from dealgate.deals.models import Activity, Deal, FieldChange, StageHistory
from dealgate.errors import Conflict, NotAllowed, ValidationFailed
from dealgate.pipelines.models import CustomField


def counts() -> tuple[int, int, int, int]:
    return (Deal.objects.count(), StageHistory.objects.count(), FieldChange.objects.count(),
            Activity.objects.count())


@pytest.fixture
def acme(world):
    return services.create_account(by=world.alice, name="Acme GmbH")


def new_deal(world, pipeline, account, **fields):
    fields = {"title": "Fleet"} | fields
    return services.create_deal(by=world.alice, account=account, pipeline=pipeline, **fields)


# --- create_deal ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "field", "says"), [
    ({"amount": "12k"}, "amount", "'12k' is not a number"),
    ({"amount": "NaN"}, "amount", "is not a number"),
    ({"amount": "-5"}, "amount", "cannot be negative"),
    ({"amount": "1e15"}, "amount", "too large"),
    ({"expected_close_date": "31/12/2030"}, "expected_close_date", "use YYYY-MM-DD"),
    ({"expected_close_date": "2030-02-30"}, "expected_close_date", "is not a date"),
    ({"currency": "euro"}, "currency", "three-letter"),
    ({"source": "cold-call"}, "source", "inbound"),
    ({"forecast_category": "maybe"}, "forecast_category", "commit"),
    ({"next_step": "Call the CFO"}, "next_step_due", "needs a due date"),
    ({"custom_fields": {"colour": "red"}}, "custom_fields", "colour"),
    ({"title": "   "}, "title", "required"),
])
def test_create_deal_refuses_bad_input_and_writes_nothing(world, pipeline, acme, fields, field, says):
    before = counts()
    with pytest.raises(ValidationFailed) as excinfo:
        new_deal(world, pipeline, acme, **fields)
    assert list(excinfo.value.details) == [field]
    assert says in excinfo.value.message and excinfo.value.message.startswith(f"{field}: ")
    assert counts() == before


def test_create_deal_needs_an_account(world, pipeline):
    with pytest.raises(ValidationFailed) as excinfo:
        new_deal(world, pipeline, None)
    assert "account" in excinfo.value.details
    assert Deal.objects.count() == 0


def test_create_deal_refuses_a_duplicate_external_id(world, pipeline, acme):
    new_deal(world, pipeline, acme, external_id="CRM-1")
    before = counts()
    with pytest.raises(Conflict, match="CRM-1"):
        new_deal(world, pipeline, acme, external_id="CRM-1")
    assert counts() == before


def test_create_account_refuses_a_duplicate_external_id(world):
    services.create_account(by=world.alice, name="Acme", external_id="ERP-7")
    with pytest.raises(Conflict, match="ERP-7"):
        services.create_account(by=world.bob, name="Acme again", external_id="ERP-7")


def test_a_rep_cannot_create_a_deal_for_someone_else(world, pipeline, acme):
    before = counts()
    with pytest.raises(NotAllowed):
        services.create_deal(by=world.alice, owner=world.carol, title="X", account=acme, pipeline=pipeline)
    assert counts() == before
    deal = services.create_deal(by=world.bob, owner=world.alice, title="X", account=acme, pipeline=pipeline)
    assert (deal.owner, deal.team) == (world.alice, world.east)


def test_create_deal_parses_and_stores_clean_values(world, pipeline, acme):
    CustomField.objects.create(key="seats", label="Seats", type="number")
    deal = new_deal(world, pipeline, acme, amount=" 1,250.5 ", currency="usd", expected_close_date="2030-03-31",
                    next_step="Send proposal", next_step_due=dt.date(2030, 1, 10), custom_fields={"seats": 12})
    deal.refresh_from_db()
    assert (deal.amount, deal.currency, deal.expected_close_date) == (Decimal("1250.50"), "USD", dt.date(2030, 3, 31))
    assert (deal.next_step, deal.next_step_due, deal.custom_fields) == ("Send proposal", dt.date(2030, 1, 10),
                                                                        {"seats": 12})
    assert (deal.stage.key, deal.version, deal.close_date_slips) == ("qualify", 1, 0)


@pytest.mark.parametrize(("value", "stored"), [
    ({"seats": "12", "pilot": "yes", "go_live": "2030-05-01", "notes": " VIP "},
     {"seats": 12, "pilot": True, "go_live": "2030-05-01", "notes": "VIP"}),
    ({"seats": "2.5", "pilot": False, "go_live": "", "notes": None},
     {"seats": 2.5, "pilot": False, "go_live": None, "notes": None}),
])
def test_custom_fields_are_stored_in_their_declared_type(make_deal, world, value, stored):
    for key, kind in (("seats", "number"), ("pilot", "boolean"), ("go_live", "date"), ("notes", "text")):
        CustomField.objects.create(key=key, label=key, type=kind)
    deal = make_deal()
    services.update_deal(deal, by=world.alice, custom_fields=value)
    assert Deal.objects.get(pk=deal.pk).custom_fields == stored


@pytest.mark.parametrize(("key", "kind", "raw", "says"), [
    ("seats", "number", "a dozen", "seats: 'a dozen' is not a number"),
    ("seats", "number", True, "seats: True is not a number"),
    ("pilot", "boolean", "maybe", "pilot: 'maybe' is not yes or no"),
    ("go_live", "date", "May", "go_live: 'May' is not a date"),
])
def test_a_custom_field_value_of_the_wrong_type_is_refused(make_deal, world, snapshot, key, kind, raw, says):
    CustomField.objects.create(key=key, label=key, type=kind)
    deal = make_deal()
    before = snapshot(deal)
    with pytest.raises(ValidationFailed) as excinfo:
        services.update_deal(deal, by=world.alice, custom_fields={key: raw})
    assert list(excinfo.value.details) == ["custom_fields"]
    assert says in excinfo.value.message
    assert snapshot(deal) == before and Deal.objects.get(pk=deal.pk).custom_fields == {}


# --- update_deal ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "field"), [
    ({"amount": "a lot"}, "amount"),
    ({"amount": "-1"}, "amount"),
    ({"expected_close_date": "next week"}, "expected_close_date"),
    ({"probability_override": 150}, "probability_override"),
    ({"probability_override": "high"}, "probability_override"),
    ({"stage": "won"}, "stage"),
    ({"owner": "carol"}, "owner"),
    ({"version": 99}, "version"),
    ({"custom_fields": ["seats"]}, "custom_fields"),
])
def test_update_deal_refuses_bad_input_and_writes_nothing(make_deal, world, snapshot, changes, field):
    deal = make_deal(amount="100", expected_close_date="2030-01-31")
    before, before_counts = snapshot(deal), counts()
    with pytest.raises(ValidationFailed) as excinfo:
        services.update_deal(deal, by=world.alice, **changes)
    assert field in excinfo.value.details
    assert field in excinfo.value.message
    assert snapshot(deal) == before and counts() == before_counts


def test_one_bad_field_refuses_the_whole_update(make_deal, world, snapshot):
    deal = make_deal(amount="100")
    before = snapshot(deal)
    with pytest.raises(ValidationFailed):
        services.update_deal(deal, by=world.alice, amount="900", expected_close_date="soon")
    assert snapshot(deal) == before
    assert deal.amount == Decimal("100.00")


def test_an_update_that_changes_nothing_writes_nothing(make_deal, world, snapshot):
    deal = make_deal(amount="100")
    before = snapshot(deal)
    services.update_deal(deal, by=world.alice, amount="100.00")
    assert snapshot(deal) == before


def test_the_slip_counter_counts_each_later_close_date(make_deal, world):
    deal = make_deal(amount="100", expected_close_date="2030-01-31")
    services.update_deal(deal, by=world.alice, expected_close_date="2030-02-28")
    services.update_deal(deal, by=world.alice, expected_close_date="2030-01-15")  # earlier: not a slip
    services.update_deal(deal, by=world.alice, expected_close_date="2030-03-31")
    services.update_deal(deal, by=world.alice, expected_close_date="2030-03-31")  # unchanged
    deal.refresh_from_db()
    assert deal.close_date_slips == 2
    assert list(FieldChange.objects.filter(deal=deal, field="expected_close_date")
                .values_list("old_value", "new_value")) == [
        ("2030-01-31", "2030-02-28"), ("2030-02-28", "2030-01-15"), ("2030-01-15", "2030-03-31"),
    ]


def test_setting_a_first_close_date_is_not_a_slip_and_amount_changes_are_kept(make_deal, world):
    deal = make_deal()
    services.update_deal(deal, by=world.alice, expected_close_date="2030-06-30", amount="500")
    services.update_deal(deal, by=world.alice, amount="750")
    deal.refresh_from_db()
    assert deal.close_date_slips == 0
    assert list(FieldChange.objects.filter(deal=deal, field="amount").values_list("old_value", "new_value")) == [
        ("", "500.00"), ("500.00", "750.00"),
    ]


def test_each_write_bumps_the_version_once(make_deal, world):
    deal = make_deal(amount="100")
    services.update_deal(deal, by=world.alice, amount="200", title="Fleet renewal")
    services.set_next_step(deal, by=world.alice, text="Call", due="2030-01-01")
    deal.refresh_from_db()
    assert deal.version == 3


# --- activities and next steps ---------------------------------------------------------------------


def test_an_activity_of_an_unknown_kind_is_refused(make_deal, world):
    deal = make_deal()
    before = counts()
    with pytest.raises(ValidationFailed) as excinfo:
        services.log_activity(by=world.alice, kind="lunch", subject="Lunch with CFO", deal=deal)
    assert "kind" in excinfo.value.details and "meeting" in excinfo.value.message
    assert counts() == before


def test_an_activity_without_a_subject_or_a_time_zone_is_refused(make_deal, world):
    deal = make_deal()
    before = counts()
    with pytest.raises(ValidationFailed, match="subject"):
        services.log_activity(by=world.alice, kind="call", subject=" ", deal=deal)
    with pytest.raises(ValidationFailed, match="occurred_at"):
        services.log_activity(by=world.alice, kind="call", subject="x", deal=deal, occurred_at=dt.datetime(2030, 1, 1))
    assert counts() == before
    assert Deal.objects.get(pk=deal.pk).last_activity_at is None


def test_logging_an_activity_never_moves_the_deal_but_marks_it_active(make_deal, world):
    deal = make_deal()
    activity = services.log_activity(by=world.alice, kind="meeting", subject="Kick-off", deal=deal, outcome="Held")
    deal.refresh_from_db()
    assert (deal.stage.key, deal.last_activity_at, activity.outcome) == ("qualify", activity.occurred_at, "held")


def test_a_next_step_needs_a_due_date(make_deal, world, snapshot):
    deal = make_deal()
    before = snapshot(deal)
    with pytest.raises(ValidationFailed) as excinfo:
        services.set_next_step(deal, by=world.alice, text="Send the contract", due=None)
    assert list(excinfo.value.details) == ["next_step_due"]
    with pytest.raises(ValidationFailed):
        services.set_next_step(deal, by=world.alice, text="Send the contract", due="tomorrow")
    assert snapshot(deal) == before
    services.set_next_step(deal, by=world.alice, text="Send the contract", due="2030-01-02")
    services.set_next_step(deal, by=world.alice, text="", due="2030-01-02")  # clearing drops the date too
    deal.refresh_from_db()
    assert (deal.next_step, deal.next_step_due) == ("", None)


def test_only_a_manager_or_admin_reassigns_a_deal(make_deal, world):
    deal = make_deal(owner=world.alice)
    with pytest.raises(NotAllowed):
        services.reassign_deal(deal, world.carol, by=world.alice)
    services.reassign_deal(deal, world.carol, by=world.bob)
    deal.refresh_from_db()
    assert (deal.owner, deal.team) == (world.carol, world.west)
    assert FieldChange.objects.filter(deal=deal, field="owner").values_list("old_value", "new_value").get() == (
        str(world.alice.pk), str(world.carol.pk))
    with pytest.raises(NotAllowed):  # bob's team no longer holds it
        services.update_deal(deal, by=world.bob, amount="5")
