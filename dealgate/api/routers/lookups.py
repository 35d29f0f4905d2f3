"""Reads shared by the routers: find a row the caller may see, or answer 404 as if it did not exist.

A deal on another team is reported as not found rather than forbidden, so ids cannot be probed.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from dealgate.deals.models import Account, Contact, Deal
from dealgate.errors import NotFound
from dealgate.people.access import visible_deals
from dealgate.pipelines.models import Pipeline

DEAL_RELATED = ("account", "owner", "stage", "pipeline", "lost_reason")


MAX_ID = 2**63 - 1


def _in_range(row_id: int) -> bool:
    """Ids beyond the 64-bit range cannot exist; asking the database would overflow."""
    return 0 < row_id <= MAX_ID


def visible_deal(user: Any, deal_id: int) -> Deal:
    deal = visible_deals(user).select_related(*DEAL_RELATED).filter(pk=deal_id).first() if _in_range(deal_id) else None
    if deal is None:
        raise NotFound(f"No deal {deal_id}.", details={"deal": deal_id})
    return deal


def pipeline_by_key(key: str) -> Pipeline:
    pipeline = Pipeline.objects.filter(key=key).first()
    if pipeline is None:
        raise NotFound(f"No pipeline {key!r}.", details={"pipeline": key})
    return pipeline


def account_by_id(account_id: int) -> Account:
    account = Account.objects.select_related("owner").filter(pk=account_id).first() if _in_range(account_id) else None
    if account is None:
        raise NotFound(f"No account {account_id}.", details={"account": account_id})
    return account


def contact_by_id(contact_id: int) -> Contact:
    contact = Contact.objects.filter(pk=contact_id).first() if _in_range(contact_id) else None
    if contact is None:
        raise NotFound(f"No contact {contact_id}.", details={"contact": contact_id})
    return contact


def user_by_username(username: str) -> Any:
    user = get_user_model().objects.select_related("profile").filter(username=username, is_active=True).first()
    if user is None:
        raise NotFound(f"No user {username!r}.", details={"user": username})
    return user
