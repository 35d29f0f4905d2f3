"""The services' limits on values, the one place the web, API, CLI and imports share: a real
ISO 4217 currency, dates in the range Dealgate stores, numbers in the digits 0-9, and an activity
whose deal and account belong together."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dealgate.deals import services
from dealgate.deals.models import Activity, Deal
from dealgate.errors import ValidationFailed
from dealgate.pipelines.models import CustomField


@pytest.mark.parametrize(("fields", "field", "says"), [
    ({"currency": "QQQ"}, "currency", "ISO 4217"),
    ({"currency": "ÉUR"}, "currency", "three-letter"),
    ({"expected_close_date": "0001-01-01"}, "expected_close_date", "outside 1900-01-01 to 2999-12-31"),
    ({"expected_close_date": "9999-12-31"}, "expected_close_date", "outside"),
    ({"expected_close_date": dt.date(1899, 12, 31)}, "expected_close_date", "outside"),
    ({"expected_close_date": "20300101"}, "expected_close_date", "use YYYY-MM-DD"),
    ({"expected_close_date": "２０３０-０１-０１"}, "expected_close_date", "digits 0-9"),
    ({"amount": "１２"}, "amount", "digits 0-9"),
    ({"amount": "١٢"}, "amount", "digits 0-9"),
    ({"next_step": "Call", "next_step_due": "9999-12-31"}, "next_step_due", "outside"),
])
def test_create_deal_refuses_loose_values_and_writes_nothing(world, pipeline, fields, field, says):
    account = services.create_account(by=world.alice, name="Acme")
    with pytest.raises(ValidationFailed) as excinfo:
        services.create_deal(by=world.alice, title="Fleet", account=account, pipeline=pipeline, **fields)
    assert list(excinfo.value.details) == [field]
    assert says in excinfo.value.message
    assert not Deal.objects.exists()


@pytest.mark.parametrize(("changes", "field"), [
    ({"probability_override": "５０"}, "probability_override"),
    ({"probability_override": True}, "probability_override"),
    ({"probability_override": 50.5}, "probability_override"),
    ({"currency": "XYZ"}, "currency"),
    ({"expected_close_date": 0}, "expected_close_date"),
])
def test_update_deal_refuses_loose_values(world, make_deal, changes, field):
    deal = make_deal(currency="EUR")
    with pytest.raises(ValidationFailed) as excinfo:
        services.update_deal(deal, by=world.alice, **changes)
    assert list(excinfo.value.details) == [field]
    deal.refresh_from_db()
    assert (deal.probability_override, deal.currency, deal.expected_close_date) == (None, "EUR", None)


def test_the_edges_of_the_range_and_real_currencies_are_accepted(world, make_deal):
    deal = make_deal()
    services.update_deal(deal, by=world.alice, currency="chf", expected_close_date="2999-12-31",
                         probability_override="40", amount=" 1,250.5 ")
    deal.refresh_from_db()
    assert (deal.currency, deal.expected_close_date, deal.probability_override, str(deal.amount)) == (
        "CHF", dt.date(2999, 12, 31), 40, "1250.50")
    services.update_deal(deal, by=world.alice, expected_close_date="1900-01-01")
    deal.refresh_from_db()
    assert deal.expected_close_date == dt.date(1900, 1, 1)


def test_a_custom_number_field_refuses_full_width_digits(world, make_deal):
    CustomField.objects.create(key="seats", label="Seats", type="number")
    deal = make_deal()
    with pytest.raises(ValidationFailed, match="seats"):
        services.update_deal(deal, by=world.alice, custom_fields={"seats": "１２"})


def test_an_activity_refuses_an_account_other_than_its_deals(world, make_deal):
    deal = make_deal()
    globex = services.create_account(by=world.alice, name="Globex")
    with pytest.raises(ValidationFailed) as excinfo:
        services.log_activity(by=world.alice, kind="call", subject="Hi", deal=deal, account=globex)
    assert list(excinfo.value.details) == ["account"]
    assert not Activity.objects.exists()
    activity = services.log_activity(by=world.alice, kind="call", subject="Hi", deal=deal)
    assert activity.account_id == deal.account_id


def test_the_company_currency_must_be_a_real_code():
    env = {**os.environ, "DEALGATE_CURRENCY": "QQQ", "DJANGO_SETTINGS_MODULE": "dealgate.settings",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert "DEALGATE_CURRENCY='QQQ' is not an ISO 4217 currency code" in result.stderr


@pytest.mark.parametrize(("fields", "says"), [
    ({"currency": "QQQ"}, "ISO 4217"),
    ({"expected_close_date": "0001-01-01"}, None),  # the page shows no error next to the close date (yet)
    ({"amount": "１２"}, "digits 0-9"),
])
def test_the_deal_page_refuses_the_same_values(client, world, make_deal, fields, says):
    from django.urls import reverse

    deal = make_deal(amount=5000, currency="EUR")
    client.force_login(world.alice)
    response = client.post(reverse("web:deal_action", args=[deal.pk, "fields"]), {**fields, "form_id": "fields"})
    assert response.status_code == 422
    assert says is None or says in response.content.decode()
    deal.refresh_from_db()
    assert (str(deal.amount), deal.currency, deal.expected_close_date) == ("5000.00", "EUR", None)
