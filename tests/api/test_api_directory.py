"""Changing and deleting accounts and contacts: anyone corrects the shared directory, only managers
and admins delete, and never an entry a deal still uses."""

from __future__ import annotations

import pytest

from dealgate.deals import services as deal_services
from dealgate.deals.models import Account, Activity, Contact, DealContact
from dealgate.errors import Conflict, NotAllowed, ValidationFailed


def patch(client, path, body, headers):
    return client.patch(path, body, content_type="application/json", headers=headers)


def test_a_rep_corrects_an_account_someone_else_created(client, world, auth):
    account = deal_services.create_account(by=world.carol, name="Acme Inc", segment="SMB")
    response = patch(client, f"/api/accounts/{account.pk}", {"name": "Acme Corporation"}, auth(world.alice))
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "Acme Corporation" and response.json()["segment"] == "SMB"
    account.refresh_from_db()
    assert (account.name, account.segment) == ("Acme Corporation", "SMB")


def test_an_account_update_refuses_an_empty_name_and_writes_nothing(client, world, auth):
    account = deal_services.create_account(by=world.alice, name="Acme")
    response = patch(client, f"/api/accounts/{account.pk}", {"name": "   ", "segment": "Enterprise"},
                     auth(world.alice))
    assert response.status_code == 422
    assert response.json()["details"] == {"name": ["is required"]}
    account.refresh_from_db()
    assert (account.name, account.segment) == ("Acme", "")


def test_a_contact_moves_to_another_account_and_can_be_detached(client, world, auth):
    acme = deal_services.create_account(by=world.alice, name="Acme")
    globex = deal_services.create_account(by=world.alice, name="Globex")
    contact = deal_services.create_contact(by=world.alice, name="Pat", account=acme, email="pat@acme.test")
    moved = patch(client, f"/api/contacts/{contact.pk}", {"account": globex.pk, "email": "pat@globex.test",
                                                          "title": "CFO"}, auth(world.carol))
    assert moved.status_code == 200, moved.json()
    assert moved.json() == {"id": contact.pk, "account": globex.pk, "name": "Pat", "email": "pat@globex.test",
                            "phone": "", "title": "CFO"}
    detached = patch(client, f"/api/contacts/{contact.pk}", {"account": None}, auth(world.carol))
    assert detached.status_code == 200
    assert detached.json()["account"] is None and detached.json()["email"] == "pat@globex.test"
    assert Contact.objects.get(pk=contact.pk).account_id is None


@pytest.mark.parametrize(("body", "field"), [({"email": "not-an-address"}, "email"), ({"account": 999999}, "account")])
def test_a_contact_update_with_bad_input_writes_nothing(client, world, auth, body, field):
    contact = deal_services.create_contact(by=world.alice, name="Pat", email="pat@acme.test")
    response = patch(client, f"/api/contacts/{contact.pk}", {"name": "Patricia", **body}, auth(world.alice))
    assert response.status_code in (404, 422)
    assert field in response.json()["details"]
    contact.refresh_from_db()
    assert (contact.name, contact.email) == ("Pat", "pat@acme.test")


def test_unknown_ids_answer_not_found(client, world, auth):
    for method in ("patch", "delete"):
        for path in ("/api/accounts/999999", "/api/contacts/999999"):
            response = getattr(client, method)(path, {}, content_type="application/json", headers=auth(world.dave))
            assert response.status_code == 404, (method, path)
            assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("kind", ["accounts", "contacts"])
def test_a_rep_may_not_delete_a_directory_entry(client, world, auth, kind):
    row = (deal_services.create_account(by=world.alice, name="Acme") if kind == "accounts"
           else deal_services.create_contact(by=world.alice, name="Pat"))
    response = client.delete(f"/api/{kind}/{row.pk}", headers=auth(world.alice))
    assert response.status_code == 403
    assert response.json()["code"] == "not_allowed"
    assert type(row).objects.filter(pk=row.pk).exists()


def test_a_manager_deletes_an_unused_account_its_contacts_stay(client, world, auth):
    account = deal_services.create_account(by=world.alice, name="Duplicate Acme")
    contact = deal_services.create_contact(by=world.alice, name="Pat", account=account)
    deal_services.log_activity(by=world.alice, account=account, kind="note", subject="Met at a fair")
    response = client.delete(f"/api/accounts/{account.pk}", headers=auth(world.bob))
    assert response.status_code == 204
    assert not Account.objects.filter(pk=account.pk).exists()
    assert Contact.objects.get(pk=contact.pk).account_id is None
    assert not Activity.objects.filter(account_id=account.pk).exists()


def test_an_account_with_deals_is_not_deleted(client, world, auth, make_deal):
    deal = make_deal(owner=world.alice)
    response = client.delete(f"/api/accounts/{deal.account_id}", headers=auth(world.dave))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict" and body["details"] == {"account": deal.account_id, "deals": 1}
    assert "1 deal(s)" in body["message"]
    assert Account.objects.filter(pk=deal.account_id).exists()


def test_a_contact_linked_to_a_deal_is_not_deleted_until_unlinked(client, world, auth, make_deal):
    deal = make_deal(owner=world.alice)
    contact = deal_services.create_contact(by=world.alice, name="Pat", account=deal.account)
    deal_services.link_contact(deal, contact, "champion", by=world.alice)
    refused = client.delete(f"/api/contacts/{contact.pk}", headers=auth(world.bob))
    assert refused.status_code == 409
    assert refused.json()["details"] == {"contact": contact.pk, "deals": 1}
    assert DealContact.objects.filter(contact=contact).count() == 1
    deal_services.unlink_contact(deal, contact, "champion", by=world.alice)
    assert client.delete(f"/api/contacts/{contact.pk}", headers=auth(world.bob)).status_code == 204
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_the_services_refuse_unknown_fields_and_non_managers(world):
    account = deal_services.create_account(by=world.alice, name="Acme")
    with pytest.raises(ValidationFailed) as refused:
        deal_services.update_account(account, by=world.alice, owner=world.bob)
    assert refused.value.details == {"owner": ["is not a field you can change"]}
    with pytest.raises(NotAllowed):
        deal_services.delete_account(account, by=world.carol)
    deal_services.delete_account(account, by=None)  # the system (CLI) may
    assert not Account.objects.filter(pk=account.pk).exists()


def test_delete_checks_the_deals_under_the_lock_not_the_callers_copy(world, make_deal):
    """The caller's instance may be stale: a deal created after it was read still blocks the delete."""
    account = deal_services.create_account(by=world.alice, name="Acme")
    stale = Account.objects.get(pk=account.pk)
    make_deal(owner=world.alice, account=account)
    with pytest.raises(Conflict):
        deal_services.delete_account(stale, by=world.dave)
    assert Account.objects.filter(pk=account.pk).exists()
