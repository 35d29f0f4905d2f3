"""Quotas (issue 14): one service sets and removes them (web, API and CLI alike, audited), and
coverage and attainment then appear on insights, forecast and `report metrics --by owner`.

World: alice (rep) and bob (manager) on East, carol (rep) on West, dave the admin.
"""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from dealgate.analytics import metrics
from dealgate.analytics.history import Scope
from dealgate.analytics.models import Quota
from dealgate.analytics.periods import parse_period, period_containing
from dealgate.analytics.services import find_quota, remove_quota, set_quota
from dealgate.audit.models import AuditEntry
from dealgate.errors import NotAllowed, ValidationFailed

Q4 = "2026-Q4"


def this_quarter() -> str:
    return period_containing(timezone.localdate(), 3).label


@pytest.fixture
def due_deal(world, make_deal):
    """alice's open deal of 5,000 expected to close inside the current quarter."""
    return make_deal(owner=world.alice, amount=5000, expected_close_date=period_containing(
        timezone.localdate(), 3).last_day)


# --- the service --------------------------------------------------------------------------------


def test_it_sets_a_quota_and_setting_it_again_replaces_it_with_an_audit_row_each_time(world):
    first = set_quota(owner=world.alice, period=Q4, amount="500000", by=world.dave)
    again = set_quota(owner=world.alice, period="2026-q4", amount=600000, currency="usd", by=world.dave)
    assert first.pk == again.pk and Quota.objects.count() == 1
    assert (again.amount, again.currency, again.months, str(again.period_start)) == (
        Decimal("600000.00"), "USD", 3, "2026-10-01")
    log = list(AuditEntry.objects.filter(object_type="quota").order_by("id").values_list("action", "field", "after"))
    assert log == [("created", "amount", "500000.00 EUR"), ("changed", "amount", "600000.00"),
                   ("changed", "currency", "USD")]
    assert AuditEntry.objects.filter(object_type="quota").first().object_name == "quota of alice for 2026-Q4"


def test_months_quarters_and_years_are_separate_quotas(world):
    for period in ("2026-11", Q4, "2026"):
        set_quota(team=world.east, period=period, amount=1000, by=world.dave)
    assert sorted(Quota.objects.values_list("months", flat=True)) == [1, 3, 12]
    assert find_quota(team=world.east, period="2026").period_label == "2026"


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"amount": "-1"}, "amount", "cannot be negative"),
    ({"amount": ""}, "amount", "is required"),
    ({"amount": "lots"}, "amount", "is not a number"),
    ({"amount": "1e12"}, "amount", "too large"),
    ({"currency": "QQQ"}, "currency", "ISO 4217"),
    ({"period": "2026-Q5"}, "period", "is not a period"),
    ({"period": "1066"}, "period", "out of range"),
])
def test_it_refuses_bad_input_naming_the_field(world, fields, field, message):
    with pytest.raises(ValidationFailed) as refused:
        set_quota(owner=world.alice, **{"period": Q4, "amount": 1000, **fields}, by=world.dave)
    assert message in " ".join(refused.value.details[field])
    assert not Quota.objects.exists()


def test_it_wants_an_owner_or_a_team_but_not_both(world):
    for target in ({}, {"owner": world.alice, "team": world.east}):
        with pytest.raises(ValidationFailed):
            set_quota(**target, period=Q4, amount=1, by=world.dave)


def test_a_manager_sets_their_team_and_its_reps_but_not_their_own_or_another_team(world):
    assert set_quota(team=world.east, period=Q4, amount=1, by=world.bob)
    assert set_quota(owner=world.alice, period=Q4, amount=1, by=world.bob)
    for target in ({"owner": world.bob}, {"owner": world.carol}, {"team": world.west}):
        with pytest.raises(NotAllowed):
            set_quota(**target, period=Q4, amount=1, by=world.bob)


def test_a_rep_sets_no_quota_not_even_their_own(world):
    with pytest.raises(NotAllowed):
        set_quota(owner=world.alice, period=Q4, amount=1, by=world.alice)
    quota = set_quota(owner=world.alice, period=Q4, amount=1, by=world.dave)
    with pytest.raises(NotAllowed):
        remove_quota(quota, by=world.alice)


def test_removing_a_quota_is_audited(world):
    quota = set_quota(owner=world.alice, period=Q4, amount=1000, by=world.dave)
    remove_quota(quota, by=world.bob)
    assert not Quota.objects.exists()
    row = AuditEntry.objects.get(object_type="quota", action="deleted")
    assert (row.by, row.before) == (world.bob, "1000.00 EUR")


# --- coverage and attainment -------------------------------------------------------------------


def test_an_entered_quota_gives_coverage_and_attainment(world, due_deal):
    period = parse_period(this_quarter())
    scope = Scope(owner_id=world.alice.pk)
    assert metrics.period_metrics(scope, period, timezone.now())["coverage_verdict"] == "no quota set"
    set_quota(owner=world.alice, period=period.label, amount=2000, by=world.dave)
    m = metrics.period_metrics(scope, period, timezone.now())
    assert m["quota"] == Decimal("2000.00")
    assert m["coverage"] == pytest.approx(5000 / 2000)
    assert m["attainment"] == 0.0  # nothing won yet


# --- settings page -----------------------------------------------------------------------------


def test_an_admin_sets_edits_and_removes_a_quota_in_settings(client, world):
    client.force_login(world.dave)
    assert client.get(reverse("web:settings")).content.decode().count(reverse("web:settings_quotas")) == 1
    response = client.post(reverse("web:settings_quota_set"), {
        "row": "new", "target": f"owner:{world.alice.pk}", "period": Q4, "amount": "500000", "currency": ""},
        follow=True)
    page = response.content.decode()
    assert "Saved the quota of alice for 2026-Q4: 500,000.00 EUR." in page
    quota = Quota.objects.get()
    assert f'id="quota-{quota.pk}"' in page
    client.post(reverse("web:settings_quota_set"), {"row": str(quota.pk), "target": f"owner:{world.alice.pk}",
                                                    "period": Q4, "amount": "450000", "currency": "EUR"})
    assert Quota.objects.get().amount == Decimal("450000.00")
    client.post(reverse("web:settings_quota_remove", args=[quota.pk]))
    assert not Quota.objects.exists()
    assert AuditEntry.objects.filter(object_type="quota", surface="web").count() == 3


def test_a_refused_quota_shows_the_message_next_to_the_field_and_keeps_the_input(client, world):
    client.force_login(world.dave)
    response = client.post(reverse("web:settings_quota_set"), {
        "row": "new", "target": f"team:{world.east.pk}", "period": "2026-Q9", "amount": "-5", "currency": "EUR"})
    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="error-period"' in page and "is not a period; use 2026-Q3, 2026-09 or 2026" in page
    assert 'value="2026-Q9"' in page and 'value="-5"' in page
    assert f'value="team:{world.east.pk}" selected' in page
    assert not Quota.objects.exists()


def test_the_list_filters_by_period_and_says_so_about_a_bad_one(client, world):
    set_quota(owner=world.alice, period="2026-11", amount=100, by=world.dave)
    set_quota(owner=world.alice, period="2027-Q1", amount=200, by=world.dave)
    client.force_login(world.dave)
    page = client.get(reverse("web:settings_quotas"), {"period": Q4}).content.decode()
    assert "2026-11" in page and "2027-Q1" not in page
    bad = client.get(reverse("web:settings_quotas"), {"period": "soon"})
    assert bad.status_code == 400 and "is not a period" in bad.content.decode()


def test_a_manager_is_offered_their_team_and_its_reps_only(client, world):
    set_quota(owner=world.carol, period=Q4, amount=100, by=world.dave)
    client.force_login(world.bob)
    page = client.get(reverse("web:settings_quotas")).content.decode()
    assert f'value="owner:{world.alice.pk}"' in page and f'value="team:{world.east.pk}"' in page
    for hidden in (f'value="owner:{world.carol.pk}"', f'value="team:{world.west.pk}"', f'value="owner:{world.bob.pk}"',
                   "carol"):
        assert hidden not in page
    response = client.post(reverse("web:settings_quota_set"), {
        "row": "new", "target": f"owner:{world.carol.pk}", "period": Q4, "amount": "1"})
    assert response.status_code == 403
    assert Quota.objects.get().amount == Decimal("100.00")


def test_a_rep_gets_a_403_on_the_quota_settings(client, world):
    client.force_login(world.alice)
    assert client.get(reverse("web:settings_quotas")).status_code == 403


# --- insights and forecast pages ---------------------------------------------------------------


def test_insights_says_to_set_a_quota_instead_of_drawing_an_empty_coverage_chart(client, world, due_deal):
    client.force_login(world.dave)
    page = client.get(reverse("analytics:insights")).content.decode()
    assert "Set a quota in settings</a> to see coverage." in page
    assert "coverage-plot" not in page and "chart-coverage" not in page
    assert '<td class="num">no quota set</td>' in page
    client.force_login(world.alice)
    assert "your manager or an admin sets it in settings" in client.get(reverse("analytics:insights")).content.decode()


def test_insights_and_forecast_show_coverage_and_attainment_once_a_quota_is_set(client, world, due_deal):
    set_quota(owner=world.alice, period=this_quarter(), amount=2000, by=world.dave)
    client.force_login(world.dave)
    page = client.get(reverse("analytics:insights"), {"owner": world.alice.pk}).content.decode()
    assert 'id="coverage-plot"' in page and 'id="chart-coverage"' in page
    assert "2.50x — below the 3x-4x band" in page
    assert "Attainment (won ÷ quota)" in page and "0.0%" in page
    forecast = client.get(reverse("analytics:forecast")).content.decode()
    assert "<th class=\"num\">Attainment</th>" in forecast and "2,000" in forecast


# --- command line ------------------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_the_quota_command_sets_lists_and_removes(world):
    assert "Set the quota of alice for 2026-Q4: 500,000 EUR." in run(
        "quota", "set", "--owner", "alice", "--period", Q4, "--amount", "500000")
    run("quota", "set", "--team", "East", "--period", "2026-11", "--amount", "90000", "--currency", "GBP")
    listed = json.loads(run("quota", "list", "--period", Q4, "--json"))
    assert [(q["owner"], q["team"], q["period"], q["amount"], q["currency"]) for q in listed] == [
        (None, "East", "2026-11", "90000.00", "GBP"), ("alice", None, "2026-Q4", "500000.00", "EUR")]
    assert "team East" in run("quota", "list")
    assert "Removed the quota of team East for 2026-11." in run("quota", "remove", "--team", "East", "--period",
                                                               "2026-11")
    assert AuditEntry.objects.filter(object_type="quota", surface="cli").count() == 3


def test_the_quota_command_refuses_what_the_service_refuses(world):
    with pytest.raises(CommandError, match="cannot be negative"):
        run("quota", "set", "--owner", "alice", "--period", Q4, "--amount", "-3")
    with pytest.raises(CommandError, match="Only an admin, or the manager of the team"):
        run("quota", "set", "--owner", "alice", "--period", Q4, "--amount", "3", "--user", "alice")
    with pytest.raises(CommandError, match="Give an owner or a team"):
        run("quota", "set", "--period", Q4, "--amount", "3")
    with pytest.raises(CommandError, match="No team 'North'"):
        run("quota", "set", "--team", "North", "--period", Q4, "--amount", "3")
    with pytest.raises(CommandError, match="No quota for alice in 2026-Q4"):
        run("quota", "remove", "--owner", "alice", "--period", Q4)
    assert not Quota.objects.exists()


def test_report_metrics_by_owner_shows_quota_coverage_and_attainment(world, due_deal):
    set_quota(owner=world.alice, period=this_quarter(), amount=2000, by=world.dave)
    text = run("report", "metrics", "--by", "owner")
    assert "Attainment" in text
    alice = next(line for line in text.splitlines() if line.startswith("Alice"))
    assert alice.split()[-3:] == ["2,000", "2.50x", "0.0%"]


def test_attainment_is_won_over_the_quota_and_undefined_without_one():
    from dealgate.analytics.formulas import attainment

    assert attainment(Decimal("800"), Decimal("1000")) == 0.8
    assert attainment(Decimal("800"), None) is None
    assert attainment(Decimal("800"), Decimal("0")) is None  # a zero quota has no share to show


def test_a_reps_own_view_measures_against_their_teams_quota_not_the_companys(world):
    from dealgate.analytics.history import scope_for

    period = parse_period(Q4)
    set_quota(owner=world.alice, period=Q4, amount=1000, by=world.dave)
    set_quota(owner=world.carol, period=Q4, amount=9000, by=world.dave)
    assert metrics.period_metrics(scope_for(world.dave), period, timezone.now())["quota"] == Decimal("10000.00")
    assert metrics.period_metrics(scope_for(world.alice), period, timezone.now())["quota"] == Decimal("1000.00")
    set_quota(team=world.east, period=Q4, amount=3000, by=world.dave)
    assert metrics.period_metrics(scope_for(world.bob), period, timezone.now())["quota"] == Decimal("3000.00")
