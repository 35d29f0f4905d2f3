"""Accounts and contacts: a company-wide directory every user can read, add to and correct.

Deals are team-scoped; the companies and people they are sold to are shared, so two teams
do not create the same account twice. Only managers and admins delete entries, and never one
a deal still uses (see `dealgate.deals.services.delete_account`).
"""

from __future__ import annotations

from typing import Annotated

from django.db.models import Q
from ninja import Query, Router

from dealgate.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, paginate
from dealgate.api.routers import ERRORS, WRITE_ERRORS
from dealgate.api.routers.deals import Cursor, SearchText
from dealgate.api.routers.lookups import account_by_id, contact_by_id
from dealgate.api.schemas import (
    AccountIn,
    AccountOut,
    AccountPage,
    AccountUpdateIn,
    ContactIn,
    ContactOut,
    ContactPage,
    ContactUpdateIn,
    RowId,
)
from dealgate.deals import services
from dealgate.deals.models import Account, Contact

router = Router(tags=["accounts"])
contacts = Router(tags=["contacts"])
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.get("", response={200: AccountPage, **ERRORS}, summary="List accounts")
def list_accounts(request, search: SearchText | None = None, cursor: Cursor | None = None,
                  limit: Limit = DEFAULT_LIMIT):
    accounts = Account.objects.select_related("owner")
    if search:
        accounts = accounts.filter(name__icontains=search)
    items, next_cursor = paginate(accounts, cursor=cursor, limit=limit, time_field="created_at")
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{int:account_id}", response={200: AccountOut, **ERRORS}, summary="Get an account")
def get_account(request, account_id: int):
    return account_by_id(account_id)


@router.post("", response={201: AccountOut, **WRITE_ERRORS}, summary="Create an account")
def create_account(request, payload: AccountIn):
    account = services.create_account(by=request.auth, name=payload.name, segment=payload.segment)
    return 201, account_by_id(account.pk)


@router.patch("/{int:account_id}", response={200: AccountOut, **WRITE_ERRORS}, summary="Change an account")
def update_account(request, account_id: int, payload: AccountUpdateIn):
    changes = {name: value for name, value in payload.dict(exclude_unset=True).items() if value is not None}
    services.update_account(account_by_id(account_id), by=request.auth, **changes)
    return account_by_id(account_id)


@router.delete("/{int:account_id}", response={204: None, **WRITE_ERRORS}, summary="Delete an account",
               description="Managers and admins; 409 `conflict` while deals use the account.")
def delete_account(request, account_id: int):
    services.delete_account(account_by_id(account_id), by=request.auth)
    return 204, None


@contacts.get("", response={200: ContactPage, **ERRORS}, summary="List contacts")
def list_contacts(request, account: RowId | None = None, search: SearchText | None = None,
                  cursor: Cursor | None = None, limit: Limit = DEFAULT_LIMIT):
    rows = Contact.objects.all()
    if account is not None:
        rows = rows.filter(account_id=account)
    if search:
        rows = rows.filter(Q(name__icontains=search) | Q(email__icontains=search))
    items, next_cursor = paginate(rows, cursor=cursor, limit=limit, time_field=None)
    return {"items": items, "next_cursor": next_cursor}


@contacts.get("/{int:contact_id}", response={200: ContactOut, **ERRORS}, summary="Get a contact")
def get_contact(request, contact_id: int):
    return contact_by_id(contact_id)


@contacts.post("", response={201: ContactOut, **WRITE_ERRORS}, summary="Create a contact")
def create_contact(request, payload: ContactIn):
    account = account_by_id(payload.account) if payload.account is not None else None
    return 201, services.create_contact(by=request.auth, name=payload.name, account=account, email=payload.email,
                                        phone=payload.phone, title=payload.title)


@contacts.patch("/{int:contact_id}", response={200: ContactOut, **WRITE_ERRORS}, summary="Change a contact")
def update_contact(request, contact_id: int, payload: ContactUpdateIn):
    contact = contact_by_id(contact_id)
    changes = payload.dict(exclude_unset=True)
    # null detaches the contact from their account; for the other fields it means "no change".
    changes = {name: value for name, value in changes.items() if value is not None or name == "account"}
    if changes.get("account") is not None:
        changes["account"] = account_by_id(changes["account"])
    services.update_contact(contact, by=request.auth, **changes)
    return contact_by_id(contact_id)


@contacts.delete("/{int:contact_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a contact",
                 description="Managers and admins; 409 `conflict` while the contact is linked to deals.")
def delete_contact(request, contact_id: int):
    services.delete_contact(contact_by_id(contact_id), by=request.auth)
    return 204, None
