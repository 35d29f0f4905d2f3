"""Exchange rates (decision 035): one service sets and removes them (web, API and CLI alike, each
audited with its surface), only admins write, and bad input is refused naming the field.

World: alice (rep) and bob (manager) on East, carol (rep) on West, dave the admin; company currency EUR.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from dealgate.analytics.models import ExchangeRate
from dealgate.analytics.rates import rate_on, rate_table, remove_rate, set_rate
from dealgate.audit.models import AuditEntry
from dealgate.errors import NotAllowed, ValidationFailed


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_setting_a_rate_again_for_the_same_day_replaces_it_and_each_write_is_audited(world):
    first = set_rate(currency="usd", rate="0.92", effective_from="2026-11-01", by=world.dave)
    again = set_rate(currency="USD", rate="0.93", effective_from="2026-11-01", by=world.dave)
    assert first.pk == again.pk and ExchangeRate.objects.get().rate == Decimal("0.93")
    remove_rate(again, by=world.dave)
    log = list(AuditEntry.objects.filter(object_type="exchangerate").order_by("id")
               .values_list("action", "before", "after", "object_name"))
    assert log == [("created", "", "0.92", "USD rate from 1 Nov 2026"),
                   ("changed", "0.92", "0.93", "USD rate from 1 Nov 2026"),
                   ("deleted", "0.93", "", "USD rate from 1 Nov 2026")]


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"currency": "EUR"}, "currency", "EUR is the company currency"),
    ({"currency": "QQQ"}, "currency", "not an ISO 4217 currency code"),
    ({"currency": ""}, "currency", "is required"),
    ({"currency": "US\x00"}, "currency", "three-letter currency code"),
    ({"rate": "0"}, "rate", "must be more than 0"),
    ({"rate": "-0.5"}, "rate", "must be more than 0"),
    ({"rate": "2000000"}, "rate", "must be between 0.000001 and 1,000,000"),
    ({"rate": "0.0000001"}, "rate", "must be between"),
    ({"rate": "0.12345678901"}, "rate", "more than 10 decimal places"),
    ({"rate": "\u0660.\u0669"}, "rate", "use the digits 0-9"),  # Arabic-Indic 0.9
    ({"rate": "9" * 100_000}, "rate", "too long"),
    ({"rate": "NaN"}, "rate", "is not a number"),
    ({"rate": "0.9\x00"}, "rate", "is not a number"),
    ({"rate": ""}, "rate", "is required"),
    ({"effective_from": "9999-12-31"}, "date", "is outside"),
    ({"effective_from": "0001-01-01"}, "date", "is outside"),
    ({"effective_from": "1989-12-31"}, "date", "is outside 1990-01-01"),
    ({"effective_from": "2026-11-31"}, "date", "is not a date"),
    ({"effective_from": "\u0662\u0660\u0662\u0666-11-01"}, "date", "use the digits 0-9"),
    ({"effective_from": ""}, "date", "is required"),
])
def test_it_refuses_bad_input_naming_the_field(world, fields, field, message):
    values = {"currency": "USD", "rate": "0.92", "effective_from": "2026-11-01", **fields}
    with pytest.raises(ValidationFailed) as refused:
        set_rate(**values, by=world.dave)
    assert field in refused.value.details and message in refused.value.message
    assert not ExchangeRate.objects.exists()


def test_a_rate_a_year_ahead_is_taken_and_one_further_ahead_refused(world):
    today = timezone.localdate()
    set_rate(currency="USD", rate="0.9", effective_from=today + dt.timedelta(days=366), by=world.dave)
    with pytest.raises(ValidationFailed, match="a year from today"):
        set_rate(currency="USD", rate="0.9", effective_from=today + dt.timedelta(days=367), by=world.dave)


@pytest.mark.parametrize("who", ["alice", "bob", "carol"])
def test_only_an_admin_writes_rates(world, who):
    with pytest.raises(NotAllowed, match="Only an administrator"):
        set_rate(currency="USD", rate="0.9", effective_from="2026-11-01", by=getattr(world, who))
    row = set_rate(currency="USD", rate="0.9", effective_from="2026-11-01", by=None)  # the system (CLI)
    with pytest.raises(NotAllowed):
        remove_rate(row, by=getattr(world, who))
    assert ExchangeRate.objects.count() == 1


def test_the_rate_of_a_day_is_the_latest_on_or_before_it_and_future_rates_wait(world):
    set_rate(currency="USD", rate="0.90", effective_from="2026-01-01", by=None)
    set_rate(currency="USD", rate="0.80", effective_from="2026-06-01", by=None)
    set_rate(currency="USD", rate="0.10", effective_from=timezone.localdate() + dt.timedelta(days=1), by=None)
    table = rate_table()
    assert rate_on(table, "USD", dt.date(2026, 5, 31)) == Decimal("0.9")
    assert rate_on(table, "USD", dt.date(2026, 6, 1)) == Decimal("0.8")
    assert rate_on(table, "USD", dt.date(2025, 1, 1)) == Decimal("0.9")  # before the first: the first
    assert rate_on(table, "USD", timezone.localdate() + dt.timedelta(days=5)) == Decimal("0.8")  # tomorrow's waits
    assert rate_on(table, "GBP", dt.date(2026, 6, 1)) is None
    assert rate_on(table, "EUR", dt.date(2026, 6, 1)) == Decimal(1)


# --- the command ----------------------------------------------------------------------------------


def test_the_rates_command_sets_lists_and_removes(world):
    assert run("rates", "set", "--currency", "USD", "--rate", "0.92", "--date", "2026-11-01") == \
        "Set: 1 USD = 0.92 EUR from 2026-11-01.\n"
    run("rates", "set", "--currency", "gbp", "--rate", "1.15", "--date", "2026-10-01")
    listed = json.loads(run("rates", "list", "--json"))
    assert [(r["currency"], r["effective_from"], r["rate"]) for r in listed] == [
        ("GBP", "2026-10-01", "1.15"), ("USD", "2026-11-01", "0.92")]
    assert "1 unit in EUR" in run("rates", "list") and "2 rate(s)." in run("rates", "list")
    assert run("rates", "remove", "--currency", "GBP", "--date", "2026-10-01") == \
        "Removed the GBP rate from 1 Oct 2026.\n"
    assert AuditEntry.objects.filter(object_type="exchangerate", surface="cli").count() == 3


def test_the_rates_command_refuses_what_the_service_refuses(world):
    with pytest.raises(CommandError, match="must be more than 0"):
        run("rates", "set", "--currency", "USD", "--rate", "-1", "--date", "2026-11-01")
    with pytest.raises(CommandError, match="Only an administrator"):
        run("rates", "set", "--currency", "USD", "--rate", "1", "--date", "2026-11-01", "--user", "bob")
    with pytest.raises(CommandError, match="No USD rate from 2026-11-01"):
        run("rates", "remove", "--currency", "USD", "--date", "2026-11-01")
    assert not ExchangeRate.objects.exists()


# --- the settings page ----------------------------------------------------------------------------


def test_an_admin_sets_and_removes_a_rate_in_settings(client, world):
    client.force_login(world.dave)
    assert reverse("web:settings_rates") in client.get(reverse("web:settings")).content.decode()
    page = client.post(reverse("web:settings_rate_set"), {"currency": "usd", "rate": "0.92", "date": "2026-11-01"},
                       follow=True).content.decode()
    assert "Saved: 1 USD = 0.92 EUR from 2026-11-01." in page
    row = ExchangeRate.objects.get()
    assert f'id="rate-{row.pk}"' in page and "in use today" in page
    client.post(reverse("web:settings_rate_remove", args=[row.pk]))
    assert not ExchangeRate.objects.exists()
    assert AuditEntry.objects.filter(object_type="exchangerate", surface="web").count() == 2


def test_a_refused_rate_shows_the_message_next_to_the_field_and_keeps_the_input(client, world):
    client.force_login(world.dave)
    response = client.post(reverse("web:settings_rate_set"), {"currency": "USD", "rate": "-3", "date": "2026-11-01"})
    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="error-rate"' in page and "must be more than 0" in page
    assert 'value="-3"' in page and 'value="USD"' in page
    assert not ExchangeRate.objects.exists()


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_reps_and_managers_get_a_403_on_the_rate_settings(client, world, who):
    client.force_login(getattr(world, who))
    assert client.get(reverse("web:settings_rates")).status_code == 403
    assert client.post(reverse("web:settings_rate_set"), {"currency": "USD", "rate": "1",
                                                           "date": "2026-11-01"}).status_code == 403
    assert not ExchangeRate.objects.exists()
