"""Stage history and field changes are evidence: appended by the services, never edited or deleted."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory

from dealgate.deals.models import Deal, FieldChange, StageHistory
from dealgate.deals.services import move_deal, update_deal


@pytest.fixture
def rows(make_deal, world):
    deal = make_deal(amount="100")
    update_deal(deal, by=world.alice, amount="200")
    move_deal(deal, "lost", by=world.alice, lost_reason="price")
    return {StageHistory: StageHistory.objects.filter(deal=deal), FieldChange: FieldChange.objects.filter(deal=deal)}


@pytest.mark.parametrize("model", [StageHistory, FieldChange])
def test_saving_an_existing_history_row_is_refused(rows, model):
    row = rows[model].first()
    row.at = row.at.replace(year=2001)
    with pytest.raises(TypeError, match="append-only"):
        row.save()
    assert rows[model].first().at.year != 2001


@pytest.mark.parametrize("model", [StageHistory, FieldChange])
def test_deleting_a_history_row_is_refused(rows, model):
    count = rows[model].count()
    with pytest.raises(TypeError, match="append-only"):
        rows[model].first().delete()
    assert rows[model].count() == count


@pytest.mark.parametrize("model", [StageHistory, FieldChange])
def test_bulk_update_and_delete_of_history_are_refused(rows, model):
    count = rows[model].count()
    assert count >= 1
    with pytest.raises(TypeError, match="append-only"):
        rows[model].update(by=None)
    with pytest.raises(TypeError, match="append-only"):
        rows[model].delete()
    with pytest.raises(TypeError, match="append-only"):
        model.objects.all().delete()
    assert rows[model].count() == count
    assert not rows[model].filter(by=None).exists()


def test_every_write_appends_the_history_a_manager_needs(make_deal, world):
    deal = make_deal(amount="100", expected_close_date="2030-01-31")
    update_deal(deal, by=world.alice, amount="250.5", expected_close_date="2030-02-28")
    move_deal(deal, "lost", by=world.bob, lost_reason="price")
    assert list(FieldChange.objects.filter(deal=deal).values_list("field", "old_value", "new_value", "by")) == [
        ("amount", "100.00", "250.50", world.alice.pk),
        ("expected_close_date", "2030-01-31", "2030-02-28", world.alice.pk),
    ]
    assert list(StageHistory.objects.filter(deal=deal).values_list("kind", "amount", "by")) == [
        ("created", 100, world.alice.pk), ("lost", 250.5, world.bob.pk),
    ]


@pytest.mark.parametrize("model", [StageHistory, FieldChange, Deal])
def test_the_admin_shows_deal_records_read_only_even_to_a_superuser(world, model):
    request = RequestFactory().get("/admin/")
    request.user = world.dave
    model_admin = admin.site._registry[model]
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert "delete_selected" not in model_admin.get_actions(request)


def test_the_admin_deal_list_searches_by_title_and_account(client, make_deal, world):
    make_deal(title="Fleet renewal", account=None)
    make_deal(title="Warehouse robots")
    client.force_login(world.dave)
    response = client.get("/admin/deals/deal/", {"q": "fleet"})
    assert response.status_code == 200
    assert b"Fleet renewal" in response.content and b"Warehouse robots" not in response.content
    history = client.get("/admin/deals/stagehistory/", {"q": "robots"})
    assert history.status_code == 200 and b"Warehouse robots" in history.content
    assert client.get("/admin/deals/stagehistory/add/").status_code == 403
