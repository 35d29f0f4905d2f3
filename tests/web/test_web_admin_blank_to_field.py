"""An empty `_to_field` on a Django admin page is read as "the primary key", not a 500."""

from __future__ import annotations

from django.urls import reverse


def test_an_empty_to_field_on_an_admin_change_page_is_not_a_server_error(admin_client, make_deal):
    deal = make_deal()
    url = reverse("admin:deals_deal_change", args=[deal.pk])
    response = admin_client.get(url, {"_to_field": ""})  # Django's admin raised FieldDoesNotExist here
    assert response.status_code == 200 and deal.title in response.content.decode()
    assert admin_client.get(url, {"_to_field": "no_such_field"}).status_code == 400  # Django's own refusal stays
