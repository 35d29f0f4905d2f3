"""The deal services' edges, written for the mutants of dealgate/deals/services.py that survived
tests/core (bench/mutation.sh deal-services): each boundary on both sides, each message as a rep
reads it, and the rows a write leaves (or does not leave) behind. Expected values are worked out
by hand from the rules in the docstrings, not read back from the code."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from dealgate.audit.models import AuditEntry
from dealgate.audit.services import object_type_of
from dealgate.deals import services
from dealgate.deals.models import Activity, Contact, Deal, DealContact, FieldChange, StageHistory
from dealgate.errors import Conflict, MoveBlocked, NotAllowed, NotFound, ValidationFailed
from dealgate.pipelines.models import Criterion, CustomField, LostReason, Pipeline, Stage


def refusal(call, *args, **kwargs) -> tuple[str, dict]:
    """The message and details of the ValidationFailed `call` raises."""
    with pytest.raises(ValidationFailed) as excinfo:
        call(*args, **kwargs)
    return excinfo.value.message, excinfo.value.details


def audit_by(obj, action: str) -> list[str]:
    """Who wrote each entry of `action` on `obj` ("" for the system)."""
    entries = AuditEntry.objects.filter(object_type=object_type_of(obj), object_id=obj.pk, action=action)
    return [entry.by.username if entry.by else "" for entry in entries.order_by("id")]


def audit(obj, action: str) -> list[tuple[str, str, str, str]]:
    return list(AuditEntry.objects.filter(object_type=object_type_of(obj), object_id=obj.pk, action=action).order_by("id")
                .values_list("field", "before", "after", "note"))


# --- parsing: amounts, dates, probabilities, currencies, text --------------------------------------


@pytest.mark.parametrize(("raw", "parsed"), [
    (None, None), ("", None), ("   ", None),
    ("0", Decimal("0.00")),                                   # zero is an amount, not negative
    (7, Decimal("7.00")), (Decimal("2.5"), Decimal("2.50")),
    (" 1,250.5 ", Decimal("1250.50")),
    ("999999999999.99", Decimal("999999999999.99")),          # the largest amount stored
    ("0.125", Decimal("0.12")), ("0.135", Decimal("0.14")),   # to the cent, half to even
])
def test_parse_amount_reads_these(raw, parsed):
    assert services.parse_amount(raw) == parsed


@pytest.mark.parametrize(("raw", "message"), [
    ("-0.01", "amount: cannot be negative"),
    ("1000000000000", "amount: is too large (at most 999,999,999,999.99)"),
    (True, "amount: True is not a number"),
    ("Infinity", "amount: 'Infinity' is not a number"),
    ("１２", "amount: '１２' is not a number; use the digits 0-9"),
])
def test_parse_amount_refuses_these_with_the_field_named(raw, message):
    assert refusal(services.parse_amount, raw) == (message, {"amount": [message.removeprefix("amount: ")]})


def test_parse_amount_names_the_field_it_is_given():
    assert refusal(services.parse_amount, "-1", "budget") == ("budget: cannot be negative",
                                                              {"budget": ["cannot be negative"]})


@pytest.mark.parametrize(("raw", "parsed"), [
    (None, None), ("", None),
    (dt.datetime(2030, 1, 2, 23, 59), dt.date(2030, 1, 2)),
    (" 2030-01-02 ", dt.date(2030, 1, 2)),
    ("1900-01-01", dt.date(1900, 1, 1)), (dt.date(2999, 12, 31), dt.date(2999, 12, 31)),
])
def test_parse_date_reads_these(raw, parsed):
    assert services.parse_date(raw, "due") == parsed


@pytest.mark.parametrize(("raw", "message"), [
    (dt.date(1899, 12, 31), "due: 1899-12-31 is outside 1900-01-01 to 2999-12-31"),
    ("3000-01-01", "due: 3000-01-01 is outside 1900-01-01 to 2999-12-31"),
    (20300102, "due: 20300102 is not a date; use YYYY-MM-DD"),
    (True, "due: True is not a date; use YYYY-MM-DD"),
    (Decimal("2030"), "due: Decimal('2030') is not a date; use YYYY-MM-DD"),
    ("2030-1-2", "due: '2030-1-2' is not a date; use YYYY-MM-DD"),
    ("2030-02-30", "due: '2030-02-30' is not a date; use YYYY-MM-DD"),
    (["2030-01-02"], "due: ['2030-01-02'] is not a date; use YYYY-MM-DD"),
    ("２０３０-０１-０２", "due: '２０３０-０１-０２' is not a date; use the digits 0-9"),
])
def test_parse_date_refuses_these(raw, message):
    assert refusal(services.parse_date, raw, "due") == (message, {"due": [message.removeprefix("due: ")]})


@pytest.mark.parametrize(("raw", "parsed"), [
    (None, None), ("", None), (0, 0), (100, 100), (" 7 ", 7), (50.0, 50), (Decimal("40"), 40),
])
def test_parse_probability_reads_these(raw, parsed):
    assert services.parse_probability(raw) == parsed


@pytest.mark.parametrize(("raw", "message"), [
    (-1, "must be between 0 and 100"), (101, "must be between 0 and 100"),
    (True, "True is not a whole number"), (50.5, "50.5 is not a whole number"),
    (Decimal("0.5"), "Decimal('0.5') is not a whole number"), ("high", "'high' is not a whole number"),
    (None.__class__, "<class 'NoneType'> is not a whole number"),
    ("٥٠", "'٥٠' is not a whole number; use the digits 0-9"),
])
def test_parse_probability_refuses_these(raw, message):
    assert refusal(services.parse_probability, raw, "p") == (f"p: {message}", {"p": [message]})


@pytest.mark.parametrize(("raw", "code"), [(None, "EUR"), ("", "EUR"), (" gbp ", "GBP"), ("Chf", "CHF")])
def test_parse_currency_reads_these(settings, raw, code):
    settings.DEALGATE_CURRENCY = "EUR"
    assert services.parse_currency(raw) == code


@pytest.mark.parametrize(("raw", "message"), [
    ("US", "'US' is not a three-letter currency code"),
    ("USDX", "'USDX' is not a three-letter currency code"),
    ("U5D", "'U5D' is not a three-letter currency code"),
    ("QQQ", "'QQQ' is not an ISO 4217 currency code (e.g. EUR, USD, GBP)"),
])
def test_parse_currency_refuses_these(raw, message):
    assert refusal(services.parse_currency, raw, "cur") == (f"cur: {message}", {"cur": [message]})


def test_a_title_may_be_200_characters_and_no_more(make_deal, world):
    deal = make_deal(title="T" * 200)
    assert len(Deal.objects.get(pk=deal.pk).title) == 200
    assert refusal(services.update_deal, deal, by=world.alice, title="T" * 201) == (
        "title: is longer than 200 characters", {"title": ["is longer than 200 characters"]})


@pytest.mark.parametrize(("email", "stored"), [("", ""), (" ana@acme.example ", "ana@acme.example"), ("a@b", "a@b")])
def test_a_contact_email_is_stored_trimmed(world, email, stored):
    assert services.create_contact(by=world.alice, name="Ana", email=email).email == stored


def test_an_account_keeps_its_owner_and_external_id_and_is_audited(world):
    acme = services.create_account(by=world.bob, name="Acme", owner=world.alice, external_id="ERP-7")
    assert (acme.owner, acme.external_id, audit_by(acme, "created")) == (world.alice, "ERP-7", ["bob"])
    with pytest.raises(Conflict) as excinfo:
        services.create_account(by=world.bob, name="Acme again", external_id="ERP-7")
    assert excinfo.value.details == {"external_id": "ERP-7"}


def test_a_directory_entry_given_only_a_name_has_empty_fields(world):
    ana = services.create_contact(by=world.alice, name="Ana")
    acme = services.create_account(by=world.alice, name="Acme")
    assert (ana.account, ana.email, ana.phone, ana.title, acme.segment) == (None, "", "", "", "")


def test_a_new_contact_keeps_every_field_it_was_given(world):
    acme = services.create_account(by=world.alice, name="Acme")
    ana = services.create_contact(by=world.alice, name=" Ana ", account=acme, email="ana@acme.example",
                                  phone="+49 30 1234", title="CFO")
    assert Contact.objects.filter(pk=ana.pk).values_list("account", "name", "email", "phone", "title").get() == (
        acme.pk, "Ana", "ana@acme.example", "+49 30 1234", "CFO")
    assert audit_by(ana, "created") == ["alice"]


def test_a_contact_email_may_be_254_characters_and_no_more(world):
    local = "a" * 64 + "@"
    assert len(services.create_contact(by=world.alice, name="Ana", email=local + "b" * 189).email) == 254
    assert refusal(services.create_contact, by=world.alice, name="Ana", email=local + "b" * 190)[0] == (
        "email: is longer than 254 characters")


@pytest.mark.parametrize("email", ["ana.acme.example", "@acme.example", "ana@"])
def test_a_contact_email_needs_something_on_both_sides_of_the_at(world, email):
    assert refusal(services.create_contact, by=world.alice, name="Ana", email=email) == (
        f"email: {email!r} is not an e-mail address", {"email": [f"{email!r} is not an e-mail address"]})


def test_custom_fields_must_be_an_object_of_known_fields(make_deal, world):
    CustomField.objects.create(key="notes", label="Notes", type="text")
    deal = make_deal()
    assert refusal(services.update_deal, deal, by=world.alice, custom_fields="notes=hi")[0] == (
        "custom_fields: must be an object of key: value")
    assert refusal(services.update_deal, deal, by=world.alice, custom_fields={"size": 1, "colour": "red"})[0] == (
        "custom_fields: unknown custom field(s): colour, size")
    assert refusal(services.update_deal, deal, by=world.alice, custom_fields={"notes": "n" * 501}) == (
        "custom_fields: notes: is longer than 500 characters",
        {"custom_fields": ["notes: is longer than 500 characters"]})
    services.update_deal(deal, by=world.alice, custom_fields={"notes": "n" * 500})
    assert Deal.objects.get(pk=deal.pk).custom_fields == {"notes": "n" * 500}


# --- creating deals --------------------------------------------------------------------------------


def test_a_deal_without_an_owner_is_refused(world, pipeline):
    account = services.create_account(by=world.alice, name="Acme")
    assert refusal(services.create_deal, by=None, title="Fleet", account=account, pipeline=pipeline) == (
        "owner: a deal needs an owner", {"owner": ["a deal needs an owner"]})
    deal = services.create_deal(by=None, owner=world.carol, title="Fleet", account=account, pipeline=pipeline)
    assert (deal.owner, deal.team, deal.source, deal.forecast_category) == (world.carol, world.west, "outbound",
                                                                            "pipeline")


def test_a_new_deal_is_created_at_one_instant_with_its_history_and_audit(world, make_deal):
    before = timezone.now()
    deal = make_deal(external_id="")
    row = StageHistory.objects.get(deal=deal)
    assert deal.external_id is None  # blank is no id, so two blank ids do not collide
    assert deal.created_at == deal.stage_entered_at == row.at and deal.created_at >= before
    assert (row.from_stage, row.to_stage.key, row.kind, row.by) == (None, "qualify", "created", world.alice)
    assert audit(deal, "created") == [("stage", "", "Qualify", "")]


def test_a_pipeline_without_an_open_stage_takes_no_deal(world):
    empty = Pipeline.objects.create(key="empty", name="Empty")
    Stage.objects.create(pipeline=empty, key="won", name="Won", position=1, kind="won", probability=100)
    Stage.objects.create(pipeline=empty, key="old", name="Old", position=0, probability=10, retired_at=timezone.now())
    account = services.create_account(by=world.alice, name="Acme")
    assert refusal(services.create_deal, by=world.alice, title="X", account=account, pipeline=empty) == (
        "pipeline: pipeline 'empty' has no open stage", {"pipeline": ["pipeline 'empty' has no open stage"]})


def test_the_first_open_stage_is_the_lowest_position_not_retired(world, pipeline):
    Stage.objects.create(pipeline=pipeline, key="triage", name="Triage", position=0, probability=10, retired_at=timezone.now())
    Stage.objects.filter(pipeline=pipeline, key="qualify").update(position=10)
    Stage.objects.filter(pipeline=pipeline, key="won").update(position=1)
    assert services.first_open_stage(pipeline).key == "propose"


def test_a_deal_created_in_its_first_stage_by_name_is_not_moved(world, make_deal):
    deal = make_deal(stage=" qualify ")
    assert list(StageHistory.objects.filter(deal=deal).values_list("kind", flat=True)) == ["created"]


def test_a_deal_cannot_start_in_a_closed_stage(world, make_deal):
    message, details = refusal(make_deal, stage="won")
    assert (message, details) == ("stage: a new deal starts in an open stage, not in Won; create it, then close it",
                                  {"stage": ["a new deal starts in an open stage, not in Won; create it, then close it"]})
    assert not Deal.objects.exists()


def test_a_deal_started_one_gate_on_names_the_one_criterion_and_its_mover(world):
    solo = Pipeline.objects.create(key="solo", name="Solo")
    Stage.objects.create(pipeline=solo, key="lead", name="Lead", position=1, probability=10)
    sized = Stage.objects.create(pipeline=solo, key="sized", name="Sized", position=2, probability=50)
    Criterion.objects.create(stage=sized, phase="entry", key="amount", label="Amount estimated", kind="field",
                             config={"field": "amount", "op": "gt", "value": 0})
    account = services.create_account(by=world.alice, name="Acme")
    with pytest.raises(MoveBlocked) as excinfo:
        services.create_deal(by=world.alice, title="Fleet", account=account, pipeline=solo, stage="sized")
    assert excinfo.value.message == "Fleet cannot start in Sized: 1 criterion not met."
    deal = services.create_deal(by=world.alice, title="Fleet", account=account, pipeline=solo, stage="sized",
                                amount="10")
    assert list(StageHistory.objects.filter(deal=deal).order_by("id").values_list("kind", "by__username")) == [
        ("created", "alice"), ("forward", "alice")]


def test_a_deal_started_past_its_gates_is_refused_whole(world, make_deal):
    with pytest.raises(MoveBlocked) as excinfo:
        make_deal(title="Fleet", amount="100", stage="Propose")
    # qualify's exit needs budget ticked, propose's entry a decision maker: two unmet.
    assert excinfo.value.message == "Fleet cannot start in Propose: 2 criteria not met."
    assert excinfo.value.details["deal"] is None and excinfo.value.details["to_stage"] == "propose"
    assert [u["key"] for u in excinfo.value.unmet] == ["budget", "decision-maker"]
    assert not Deal.objects.exists() and not StageHistory.objects.exists()


def test_new_deal_field_errors_gathers_every_message_at_once():
    assert services.new_deal_field_errors({"title": " ", "amount": "-3", "currency": "eu",
                                           "expected_close_date": "3000-01-01", "next_step": "Call",
                                           "next_step_due": ""}) == {
        "title": ["is required"], "amount": ["cannot be negative"],
        "currency": ["'eu' is not a three-letter currency code"],
        "expected_close_date": ["3000-01-01 is outside 1900-01-01 to 2999-12-31"],
        "next_step_due": ["a next step needs a due date"],
    }
    assert services.new_deal_field_errors({"title": "Fleet", "next_step": " ", "next_step_due": ""}) == {}
    assert services.new_deal_field_errors({"title": "Fleet"}) == {}
    assert services.new_deal_field_errors({"next_step": "Call", "next_step_due": "2030-01-02"}) == {}
    assert services.new_deal_field_errors({"next_step": "Call", "next_step_due": "soon"}) == {
        "next_step_due": ["'soon' is not a date; use YYYY-MM-DD"]}


# --- moves -----------------------------------------------------------------------------------------


def test_resolve_stage_takes_a_key_or_a_name_in_any_case(pipeline):
    assert services.resolve_stage(pipeline, " negotiate ").key == "negotiate"
    assert services.resolve_stage(pipeline, "NEGOTIATE").key == "negotiate"  # by its name, Negotiate
    with pytest.raises(NotFound) as excinfo:
        services.resolve_stage(pipeline, "closing")
    assert excinfo.value.message == ("No stage 'closing' in pipeline 'test'; stages are: "
                                     "qualify, propose, negotiate, won, lost.")
    assert excinfo.value.details == {"stage": "closing", "pipeline": "test"}


def test_resolve_stage_refuses_another_pipelines_stage(pipeline):
    from tests.conftest import build_test_pipeline

    other = build_test_pipeline("other").stages.get(key="won")
    assert refusal(services.resolve_stage, pipeline, other) == (
        "stage: stage 'Won' is not in pipeline 'Test pipeline'", {"stage": ["stage 'Won' is not in pipeline 'Test pipeline'"]})
    assert services.resolve_stage(pipeline, pipeline.stages.get(key="won")).pipeline_id == pipeline.pk


def test_a_lost_reason_is_found_by_key_or_label_and_must_be_active(pipeline):
    assert services._resolve_lost_reason(" price ").key == "price"
    assert services._resolve_lost_reason("no BUDGET").key == "no-budget"
    LostReason.objects.filter(key="competitor").update(active=False)
    retired = LostReason.objects.get(key="competitor")
    assert refusal(services._resolve_lost_reason, retired)[0] == (
        "lost_reason: 'competitor' is no longer in use; pick an active reason")
    # The choices listed are the active ones, in label order.
    assert refusal(services._resolve_lost_reason, "competitor")[0] == (
        "lost_reason: 'competitor' is not a lost reason; use one of no-budget, price")
    assert refusal(services._resolve_lost_reason, " ")[0] == (
        "lost_reason: a deal moved to Lost needs a reason: one of no-budget, price")
    assert refusal(services._resolve_lost_reason, None)[0].endswith("one of no-budget, price")


def test_a_deal_cannot_move_to_a_post_sale_phase_or_a_retired_stage(world, pipeline, make_deal, snapshot):
    Stage.objects.create(pipeline=pipeline, key="onboard", name="Onboarding", position=6, kind="post", probability=100)
    Stage.objects.filter(pipeline=pipeline, key="negotiate").update(retired_at=timezone.now())
    deal = make_deal()
    before = snapshot(deal)
    assert refusal(services.move_deal, deal, "onboard", by=world.alice)[0] == (
        "stage: Onboarding is a post-sale phase, not a stage a deal moves to: win the deal, and its Onboarding "
        "checklist shows on the won deal")
    assert refusal(services.move_deal, deal, "negotiate", by=world.alice)[0] == (
        "stage: Negotiate is retired: it takes no deals. Choose another stage, or restore Negotiate in the "
        "pipeline's settings first")
    assert snapshot(deal) == before


def test_a_move_expecting_another_stage_is_a_conflict(world, make_deal, pipeline, snapshot):
    deal = make_deal()
    before = snapshot(deal)
    with pytest.raises(Conflict) as excinfo:
        services.move_deal(deal, "lost", by=world.alice, lost_reason="price",
                           expected_stage=pipeline.stages.get(key="propose"))
    assert excinfo.value.message == (f"Deal {deal.pk} is now in Qualify, not Propose: someone moved it. "
                                     "Reload and try again.")
    assert excinfo.value.details == {"deal": deal.pk, "current_stage": "qualify"}
    with pytest.raises(Conflict) as excinfo:
        services.move_deal(deal, "qualify", by=world.alice)
    assert excinfo.value.message == f"Deal {deal.pk} is already in Qualify."
    assert snapshot(deal) == before


def test_lost_then_reopened_sets_and_clears_the_close(world, make_deal):
    deal = make_deal(amount="100")
    services.move_deal(deal, "lost", by=world.alice, lost_reason="price", lost_note="  went with a cheaper tool ")
    deal.refresh_from_db()
    assert (deal.lost_reason.key, deal.lost_note, deal.closed_at == deal.stage_entered_at) == (
        "price", "went with a cheaper tool", True)
    assert audit(deal, "lost") == [("stage", "Qualify", "Lost", "lost reason: Price too high (went with a cheaper tool)")]
    services.move_deal(deal, "qualify", by=world.bob)
    deal.refresh_from_db()
    assert (deal.closed_at, deal.lost_reason, deal.lost_note, deal.stage.key) == (None, None, "", "qualify")
    assert audit(deal, "reopened") == [("stage", "Lost", "Qualify", "")]
    services.move_deal(deal, "lost", by=world.alice, lost_reason="no-budget")
    assert audit(deal, "lost")[-1][3] == "lost reason: No budget"


def test_an_override_is_recorded_only_when_something_was_unmet(world, make_deal):
    deal = make_deal(amount="100")
    with pytest.raises(NotAllowed) as excinfo:
        services.move_deal(deal, "propose", by=world.alice, override_reason="CFO said yes on the phone")
    assert excinfo.value.message == "Only a manager or admin may override unmet criteria."
    assert [u["key"] for u in excinfo.value.details["unmet"]] == ["budget", "decision-maker"]
    row = services.move_deal(deal, "propose", by=world.bob, override_reason="  CFO said yes on the phone ")
    assert (row.override, row.override_reason, row.kind) == (True, "CFO said yes on the phone", "forward")
    assert audit(deal, "moved") == [("stage", "Qualify", "Propose", "override: CFO said yes on the phone")]
    back = services.move_deal(deal, "qualify", by=world.bob, override_reason="nothing to override")
    assert (back.override, back.override_reason, back.kind) == (False, "", "backward")
    assert audit(deal, "moved")[-1] == ("stage", "Propose", "Qualify", "")


def test_a_handoff_note_is_kept_only_on_a_move_to_won(world, make_deal, gates):
    deal = make_deal(amount="100")
    gates.reach(deal, "negotiate")
    assert refusal(services.move_deal_with_handoff, deal, "won", by=world.bob, handoff="x" * 10_001)[0] == (
        "handoff: is longer than 10000 characters")
    assert Deal.objects.get(pk=deal.pk).stage.key == "negotiate"
    services.move_deal_with_handoff(deal, "propose", by=world.alice, handoff="not a win")
    assert not Activity.objects.filter(subject="Handoff").exists()
    gates.propose_exit(deal)  # the meeting must be held in this stay in Propose
    services.move_deal(deal, "negotiate", by=world.alice)
    gates.won_entry(deal)
    row = services.move_deal_with_handoff(deal, "won", by=world.alice, handoff="x" * 10_000)
    assert row.to_stage.key == "won"
    assert Activity.objects.filter(deal=deal, kind="note", subject="Handoff").values_list("notes", flat=True).get() == (
        "x" * 10_000)


def test_a_handoff_move_passes_on_its_author_and_fields(world, make_deal, gates):
    deal = make_deal(amount="100")
    row = services.move_deal_with_handoff(deal, "lost", by=world.alice, lost_reason="price", lost_note="budget cut")
    assert (row.by, row.to_stage.key, Deal.objects.get(pk=deal.pk).lost_note) == (world.alice, "lost", "budget cut")
    services.move_deal(deal, "qualify", by=world.bob)
    gates.reach(deal, "negotiate")
    gates.won_entry(deal)
    services.move_deal_with_handoff(deal, "won", by=world.alice)  # no note given: none kept
    assert not Activity.objects.filter(subject="Handoff").exists()


def test_a_handoff_note_is_logged_by_the_mover(world, make_deal, gates):
    deal = make_deal(amount="100")
    gates.reach(deal, "negotiate")
    gates.won_entry(deal)
    services.move_deal_with_handoff(deal, "won", by=world.alice, handoff="Kick-off on Monday")
    assert Activity.objects.get(subject="Handoff").by == world.alice


@pytest.mark.parametrize("move_with", [services.move_deal_with_handoff, services.move_deal])
@pytest.mark.parametrize("field", ["override_reason", "lost_reason", "lost_note"])
def test_every_move_refuses_a_nul_in_each_move_field(world, make_deal, field, move_with):
    """move_deal itself checks (the API and `dealgate move` call it directly, not the handoff path)."""
    deal = make_deal(amount="100")
    move = {"lost_reason": "price", "override_reason": "CFO said yes"} | {field: "bad\x00text"}
    message, details = refusal(move_with, deal, "lost", by=world.bob, **move)
    assert list(details) == [field] and "NUL" in message.upper()
    assert Deal.objects.get(pk=deal.pk).stage.key == "qualify"


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), Decimal("NaN"), Decimal("sNaN"),
                                   Decimal("Infinity")])
def test_a_probability_that_is_not_a_finite_number_is_refused_not_a_crash(value):
    with pytest.raises(ValidationFailed) as refused:
        services.parse_probability(value)
    assert refused.value.details == {"probability_override": [f"{value!r} is not a whole number"]}


# --- next steps, reassignments, activities ---------------------------------------------------------


def test_a_next_step_is_audited_field_by_field(world, make_deal):
    deal = make_deal()
    services.set_next_step(deal, by=world.alice, text=" Send the contract ", due="2030-01-02")
    assert (deal.next_step, deal.next_step_due, deal.version) == ("Send the contract", dt.date(2030, 1, 2), 2)
    assert audit(deal, "changed") == [("next_step", "", "Send the contract", ""),
                                      ("next_step_due", "", "2030-01-02", "")]
    assert audit_by(deal, "changed") == ["alice", "alice"]


def test_a_next_step_names_the_field_it_refuses(world, make_deal, snapshot):
    deal = make_deal()
    before = snapshot(deal)
    assert refusal(services.set_next_step, deal, by=world.alice, text="x" * 301, due="2030-01-02") == (
        "next_step: is longer than 300 characters", {"next_step": ["is longer than 300 characters"]})
    assert refusal(services.set_next_step, deal, by=world.alice, text="Call", due="2030-13-01")[1] == {
        "next_step_due": ["'2030-13-01' is not a date; use YYYY-MM-DD"]}
    assert refusal(services.set_next_step, deal, by=world.alice, text="Call", due="") == (
        "next_step_due: a next step needs a due date", {"next_step_due": ["a next step needs a due date"]})
    with pytest.raises(NotAllowed):  # carol, of another team
        services.set_next_step(deal, by=world.carol, text="Call", due="2030-01-02")
    assert snapshot(deal) == before
    services.set_next_step(deal, by=world.alice, text="x" * 300, due="2030-01-02")
    assert len(Deal.objects.get(pk=deal.pk).next_step) == 300


def test_reassigning_to_the_same_owner_writes_nothing(world, make_deal):
    deal = make_deal(owner=world.alice)
    assert services.reassign_deal(deal, world.alice, by=world.bob) is deal
    assert (Deal.objects.get(pk=deal.pk).version, FieldChange.objects.count()) == (1, 0)


def test_a_rep_or_another_teams_manager_cannot_reassign(world, make_deal):
    deal = make_deal(owner=world.carol)  # team West
    with pytest.raises(NotAllowed) as excinfo:
        services.reassign_deal(deal, world.alice, by=world.carol)
    assert excinfo.value.message == "Only a manager or admin may reassign a deal."
    with pytest.raises(NotAllowed) as excinfo:  # bob manages East, not West
        services.reassign_deal(deal, world.alice, by=world.bob)
    assert excinfo.value.message == f"bob may not change deal {deal.pk} ({deal.title})."
    assert (Deal.objects.get(pk=deal.pk).owner, FieldChange.objects.count()) == (world.carol, 0)


def test_a_reassignment_within_the_team_logs_the_owner_only(world, make_deal):
    deal = make_deal(owner=world.alice)
    services.reassign_deal(deal, world.bob, by=None)  # the system (automation) may reassign
    assert (deal.owner, deal.team_id, deal.version) == (world.bob, world.east.pk, 2)
    assert list(FieldChange.objects.filter(deal=deal).values_list("field", "old_value", "new_value")) == [
        ("owner", str(world.alice.pk), str(world.bob.pk))]
    assert audit(deal, "changed") == [("owner", "alice", "bob", "")]


def test_a_reassignment_across_teams_logs_the_team_too(world, make_deal):
    deal = make_deal(owner=world.alice)
    services.reassign_deal(deal, world.dave, by=world.dave)  # dave, the admin, has no team
    assert list(FieldChange.objects.filter(deal=deal).order_by("field").values_list("field", "old_value", "new_value")) == [
        ("owner", str(world.alice.pk), str(world.dave.pk)), ("team", str(world.east.pk), "")]
    assert audit(deal, "changed") == [("owner", "alice", "dave", ""), ("team", "East", "", "")]
    assert list(FieldChange.objects.filter(deal=deal).values_list("by__username", flat=True)) == ["dave", "dave"]
    assert audit_by(deal, "changed") == ["dave", "dave"]
    logged_at = FieldChange.objects.get(deal=deal, field="owner").at  # the log and the audit share one instant
    assert set(AuditEntry.objects.filter(object_type="deal", object_id=deal.pk, action="changed")
               .values_list("at", flat=True)) == {logged_at}
    services.reassign_deal(deal, world.carol, by=world.dave)
    assert FieldChange.objects.filter(deal=deal, field="team").values_list("old_value", "new_value").last() == (
        "", str(world.west.pk))


def test_a_reassignment_queues_one_assigned_event_naming_the_deal_and_its_new_version(world, make_deal):
    """A new deal is at version 1; the reassignment bumps it to 2 and queues exactly one rules job,
    run_rules("assigned", <the deal's id>, "owner:v2"), in the database queue. A second
    reassignment queues "owner:v3". (Kills reassign_deal 86-88, 92, 93: the event's arguments.)"""
    from django_tasks_db.models import DBTaskResult

    deal = make_deal(owner=world.alice)
    DBTaskResult.objects.all().delete()
    services.reassign_deal(deal, world.bob, by=world.bob)
    jobs = list(DBTaskResult.objects.order_by("enqueued_at", "id"))
    assert [(job.task_path, job.args_kwargs) for job in jobs] == [
        ("dealgate.automation.jobs.run_rules", {"args": ["assigned", deal.pk, "owner:v2"], "kwargs": {}})]
    services.reassign_deal(deal, world.alice, by=world.bob)
    assert [job.args_kwargs["args"] for job in DBTaskResult.objects.order_by("enqueued_at", "id")] == [
        ["assigned", deal.pk, "owner:v2"], ["assigned", deal.pk, "owner:v3"]]


def test_an_activity_needs_a_deal_or_an_account(world):
    assert refusal(services.log_activity, by=world.alice, kind="call", subject="Intro") == (
        "deal: an activity belongs to a deal or an account", {"deal": ["an activity belongs to a deal or an account"]})
    account = services.create_account(by=world.alice, name="Acme")
    activity = services.log_activity(by=world.alice, kind="call", subject="Intro", account=account)
    assert (activity.deal, activity.account) == (None, account)
    assert audit(account, "activity logged") == [("call", "", "Intro", "")]


def test_an_activity_on_a_deal_takes_the_deals_account_and_contacts(world, make_deal):
    deal = make_deal()
    ana = services.create_contact(by=world.alice, name="Ana", account=deal.account)
    activity = services.log_activity(by=world.alice, kind="email", subject="Pricing", deal=deal, account=deal.account,
                                     contacts=[ana])
    assert (activity.account_id, list(activity.contacts.all())) == (deal.account_id, [ana])
    assert audit(deal, "activity logged") == [("email", "", "Pricing", "")]


def test_last_activity_only_moves_forward(world, make_deal):
    deal = make_deal()
    later = dt.datetime(2030, 1, 10, 9, tzinfo=dt.timezone.utc)
    services.log_activity(by=world.alice, kind="call", subject="Second", deal=deal, occurred_at=later)
    assert (deal.last_activity_at, deal.version) == (later, 2)
    services.log_activity(by=world.alice, kind="call", subject="First, logged late", deal=deal,
                          occurred_at=later - dt.timedelta(days=1))
    services.log_activity(by=world.alice, kind="call", subject="Same time", deal=deal, occurred_at=later)
    fresh = Deal.objects.get(pk=deal.pk)
    assert (fresh.last_activity_at, fresh.version) == (later, 2)


# --- checklists, approvals, contacts ---------------------------------------------------------------


def test_a_checklist_item_is_a_slug_and_its_answer_is_audited(world, make_deal):
    deal = make_deal()
    message, _ = refusal(services.record_checklist_answer, deal, "Budget", by=world.alice)
    assert message == "item: 'Budget' is not an item key (lowercase letters, digits, - and _)"
    services.record_checklist_answer(deal, "budget_2-a", by=world.alice, checked=False)
    services.record_checklist_answer(deal, "budget_2-a", by=world.alice, evidence=" CFO email ")
    assert audit(deal, "checklist") == [("budget_2-a", "", "not ticked", ""),
                                        ("budget_2-a", "not ticked", "ticked: CFO email", "")]
    assert deal.version == 3


def test_an_approval_without_a_note_has_an_empty_note(world, make_deal):
    deal = make_deal()
    assert services.approve_condition(deal, "pricing_approved", by=None).note == ""


def test_approval_roles_default_to_manager_and_admin(pipeline):
    won = pipeline.stages.get(key="won")
    Criterion.objects.create(stage=won, phase="entry", key="legal", label="Legal ok", kind="approval",
                             config={"condition": "legal_ok"}, position=2)
    assert services.approval_roles(pipeline.pk, "legal_ok") == {"manager", "admin"}
    assert services.approval_roles(pipeline.pk, "pricing_approved") == {"manager", "admin"}
    assert services.approval_roles(pipeline.pk, "nothing") == set()


def test_approval_roles_come_from_the_deals_pipeline_only(pipeline):
    from tests.conftest import build_test_pipeline

    other = build_test_pipeline("other")
    Criterion.objects.create(stage=other.stages.get(key="won"), phase="entry", key="legal", label="Legal ok",
                             kind="approval", config={"condition": "legal_ok", "approver_roles": ["admin"]}, position=2)
    assert services.approval_roles(other.pk, "legal_ok") == {"admin"}
    assert services.approval_roles(pipeline.pk, "legal_ok") == set()


def test_an_approval_checks_the_condition_the_role_and_the_team(world, make_deal, pipeline):
    deal = make_deal()
    with pytest.raises(NotFound) as excinfo:
        services.approve_condition(deal, "legal_ok", by=world.bob)
    assert excinfo.value.message == "No close condition 'legal_ok' in pipeline 'test'."
    assert excinfo.value.details == {"condition": "legal_ok"}
    with pytest.raises(NotAllowed) as excinfo:
        services.approve_condition(deal, "pricing_approved", by=world.alice)
    assert excinfo.value.message == "'pricing_approved' can only be confirmed by a admin or manager."
    assert excinfo.value.details == {"condition": "pricing_approved", "approver_roles": ["admin", "manager"]}
    with pytest.raises(NotAllowed) as excinfo:
        services.approve_condition(deal, "pricing_approved", by=world.carol)
    assert excinfo.value.message == f"carol may not act on deal {deal.pk}."
    approval = services.approve_condition(deal, "pricing_approved", by=world.bob, note=" within the discount band ")
    assert (approval.approved_by, approval.note, deal.version) == (world.bob, "within the discount band", 2)
    assert audit(deal, "approved") == [("pricing_approved", "", "confirmed", "within the discount band")]
    assert audit_by(deal, "approved") == ["bob"]
    assert refusal(services.approve_condition, deal, " ", by=world.bob)[0] == "condition: is required"
    assert refusal(services.approve_condition, deal, "c" * 61, by=world.bob)[0] == (
        "condition: is longer than 60 characters")
    with pytest.raises(Conflict) as excinfo:
        services.approve_condition(deal, "pricing_approved", by=world.dave)
    assert excinfo.value.message == f"'pricing_approved' is already confirmed on deal {deal.pk}."


def test_an_approval_note_may_be_300_characters_and_no_more(world, make_deal):
    deal = make_deal()
    assert refusal(services.approve_condition, deal, "pricing_approved", by=world.bob, note="n" * 301)[0] == (
        "note: is longer than 300 characters")
    assert services.approve_condition(deal, "pricing_approved", by=world.bob, note="n" * 300).note == "n" * 300


def test_linking_and_unlinking_a_contact_is_audited_once(world, make_deal):
    deal = make_deal()
    ana = services.create_contact(by=world.alice, name="Ana")
    assert refusal(services.link_contact, deal, ana, "boss", by=world.alice)[1] == {
        "role": ["'boss' is not one of champion, economic_buyer, decision_maker, influencer, user, blocker"]}
    first = services.link_contact(deal, ana, "champion", by=world.alice)
    assert services.link_contact(deal, ana, "champion", by=world.alice) == first
    services.unlink_contact(deal, ana, "champion", by=world.alice)
    services.unlink_contact(deal, ana, "champion", by=world.alice)
    assert audit(deal, "contact linked") == [("champion", "", "Ana", "")]
    assert audit_by(deal, "contact linked") == ["alice"]
    assert audit(deal, "contact unlinked") == [("champion", "Ana", "", "")]
    assert audit_by(deal, "contact unlinked") == ["alice"]
    assert not DealContact.objects.exists()


def test_unlinking_removes_only_that_contact_in_that_role_on_that_deal(world, make_deal):
    deal, other_deal = make_deal(), make_deal()
    ana, ben = services.create_contact(by=world.alice, name="Ana"), services.create_contact(by=world.alice, name="Ben")
    for on, who, role in ((deal, ana, "champion"), (deal, ana, "user"), (deal, ben, "champion"),
                          (other_deal, ana, "champion")):
        services.link_contact(on, who, role, by=world.alice)
    services.unlink_contact(deal, ana, "champion", by=world.alice)
    assert sorted(DealContact.objects.values_list("deal_id", "contact__name", "role")) == sorted([
        (deal.pk, "Ana", "user"), (deal.pk, "Ben", "champion"), (other_deal.pk, "Ana", "champion")])


# --- the directory: accounts and contacts ----------------------------------------------------------


def test_an_account_is_renamed_with_one_audit_entry_per_change(world):
    acme = services.create_account(by=world.alice, name="Acme", segment="SMB")
    assert acme.owner == world.alice and acme.external_id is None
    services.update_account(acme, by=world.carol, name=" Acme GmbH ", segment="SMB")
    assert (acme.name, acme.segment) == ("Acme GmbH", "SMB")  # the caller's instance is updated too
    assert audit_by(acme, "changed") == ["carol"]
    acme.refresh_from_db()
    assert (acme.name, acme.segment) == ("Acme GmbH", "SMB")
    assert audit(acme, "changed") == [("name", "Acme", "Acme GmbH", "")]
    assert AuditEntry.objects.get(object_type="account", object_id=acme.pk, action="changed").object_name == "Acme GmbH"


def test_an_update_names_every_field_it_cannot_change(world):
    acme = services.create_account(by=world.alice, name="Acme")
    with pytest.raises(ValidationFailed) as excinfo:
        services.update_account(acme, by=world.alice, owner=world.bob, external_id="X", name="Acme 2")
    assert excinfo.value.message == "A account has no field(s) external_id, owner to change."
    assert excinfo.value.details == {"external_id": ["is not a field you can change"],
                                     "owner": ["is not a field you can change"]}
    assert services.update_account(acme, by=world.alice) is acme  # nothing asked, nothing written
    assert not audit(acme, "changed")


def test_an_update_of_a_deleted_entry_is_not_found(world):
    ana = services.create_contact(by=world.alice, name="Ana")
    pk = ana.pk
    services.delete_contact(ana, by=world.bob)
    ana.pk = pk
    with pytest.raises(NotFound) as excinfo:
        services.update_contact(ana, by=world.alice, phone="123")
    assert (excinfo.value.message, excinfo.value.details) == (f"No contact {pk}.", {"contact": pk})
    with pytest.raises(NotFound) as excinfo:
        services.delete_contact(ana, by=world.bob)
    assert (excinfo.value.message, excinfo.value.details) == (f"No contact {pk}.", {"contact": pk})
    assert audit_by(ana, "deleted") == ["bob"]


@pytest.mark.parametrize(("update", "changes", "message"), [
    (services.update_account, {"name": " "}, "name: is required"),
    (services.update_account, {"name": "A" * 201}, "name: is longer than 200 characters"),
    (services.update_account, {"segment": "S" * 51}, "segment: is longer than 50 characters"),
    (services.update_contact, {"name": ""}, "name: is required"),
    (services.update_contact, {"phone": "1" * 51}, "phone: is longer than 50 characters"),
    (services.update_contact, {"title": "T" * 101}, "title: is longer than 100 characters"),
    (services.update_contact, {"email": "ana"}, "email: 'ana' is not an e-mail address"),
])
def test_a_directory_update_checks_each_field(world, update, changes, message):
    acme = services.create_account(by=world.alice, name="Acme")  # no segment: it is optional
    row = acme if update is services.update_account else services.create_contact(by=world.alice, name="Ana")
    assert refusal(update, row, by=world.alice, **changes)[0] == message
    limits = {"name": "A" * 200, "segment": "S" * 50, "phone": "1" * 50, "title": "T" * 100, "email": ""}
    update(row, by=world.alice, **{name: limits[name] for name in changes})  # at the limit: stored
    row.refresh_from_db()
    assert {name: getattr(row, name) for name in changes} == {name: limits[name] for name in changes}


def test_a_contact_can_be_detached_from_its_account(world):
    acme = services.create_account(by=world.alice, name="Acme")
    ana = services.create_contact(by=world.alice, name="Ana", account=acme)
    services.update_contact(ana, by=world.alice, account=None, title="CFO")
    assert audit_by(ana, "changed") == ["alice", "alice"]
    ana.refresh_from_db()
    assert (ana.account, ana.title) == (None, "CFO")


def test_only_managers_and_admins_delete_and_only_what_no_deal_uses(world, make_deal):
    deal = make_deal()
    ana = services.create_contact(by=world.alice, name="Ana")
    services.link_contact(deal, ana, "champion", by=world.alice)
    services.link_contact(deal, ana, "user", by=world.alice)
    with pytest.raises(NotAllowed) as excinfo:
        services.delete_contact(ana, by=world.alice)
    assert excinfo.value.message == "Only managers and admins may delete contacts."
    with pytest.raises(Conflict) as excinfo:  # two roles on one deal: one deal
        services.delete_contact(ana, by=world.bob)
    assert excinfo.value.message == f"Contact {ana.pk} (Ana) is used by 1 deal(s); unlink them first."
    assert excinfo.value.details == {"contact": ana.pk, "deals": 1}
    with pytest.raises(Conflict) as excinfo:
        services.delete_account(deal.account, by=world.dave)
    assert excinfo.value.message == (f"Account {deal.account.pk} ({deal.account.name}) is used by 1 deal(s); "
                                     "move them to another account first.")
    spare = services.create_account(by=world.alice, name="Spare")
    with pytest.raises(NotAllowed) as excinfo:
        services.delete_account(spare, by=world.alice)
    assert excinfo.value.message == "Only managers and admins may delete accounts."
    services.delete_account(spare, by=None)
    assert audit(spare, "deleted") == [("", "", "", "")]
