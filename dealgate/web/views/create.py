"""Creating deals, accounts and contacts in the web app.

Each form calls the same services as the API, the CLI and imports (`dealgate.deals.services`),
so a deal created in a later stage passes the same gates as a moved one. A refused form comes
back with everything typed still in it and the message next to its field (400), the unmet
criteria when a stage's gates do not hold (409), or why the user may not (403).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from dealgate.deals import services
from dealgate.deals.models import Account, Deal
from dealgate.deals.selectors import stages_a_new_deal_can_start_in
from dealgate.errors import BadParameter, DealgateError, MoveBlocked, ValidationFailed
from dealgate.inputs import parse_id, storable_text, unstorable_reason
from dealgate.people.access import owners_for_new_deals, role_of
from dealgate.pipelines.models import Pipeline, Stage, StageKind
from dealgate.web.views.lists import visible_accounts

ACCOUNT_NAME_MAX = 200
ACCOUNT_SUGGESTIONS = 500  # names offered while typing; any other visible account is still found by its name


# ---------------------------------------------------------------------------------------------
# Reading the form: each helper returns a value or raises ValidationFailed naming its field


def _id(value: Any, field: str) -> int | None:
    try:
        return parse_id(value, field)
    except BadParameter as exc:
        raise ValidationFailed.for_field(field, sum(exc.details.values(), [])[0]) from None


def find_account(user: Any, name: str) -> Account | None:
    """The account of this name (any case) the user can see, the oldest when several share it."""
    name = name.strip()
    if not name or len(name) > ACCOUNT_NAME_MAX:
        return None
    return visible_accounts(user).filter(name__iexact=name).order_by("pk").first()


def _account(user: Any, typed: Any) -> tuple[Account, bool]:
    """(account, created): an account the user can see, by name, or a new one with that name."""
    name = storable_text(typed, "account").strip()
    if not name:
        raise ValidationFailed.for_field("account", "is required: pick an account or type a new company name")
    found = find_account(user, name)
    if found is not None:
        return found, False
    try:
        return services.create_account(by=user, name=name), True
    except ValidationFailed as exc:  # the service names its own field "name"; the form calls it "account"
        raise ValidationFailed(exc.message.replace("name:", "account:", 1),
                               details={"account": sum(exc.details.values(), [])}) from None


def _stage(value: Any) -> Stage:
    stage_id = _id(value, "stage")
    stage = (Stage.objects.select_related("pipeline").filter(pk=stage_id, kind=StageKind.OPEN, retired_at__isnull=True)
             .first() if stage_id else None)
    if stage is None:
        raise ValidationFailed.for_field("stage", "pick a stage from the list")
    return stage


def _owner(user: Any, value: Any) -> Any:
    owner_id = _id(value, "owner")
    if owner_id is None:
        return user
    owner = owners_for_new_deals(user).filter(pk=owner_id).first()
    if owner is None:
        raise ValidationFailed.for_field("owner", "pick an owner from the list")
    return owner


def _check_deal_fields(post: Any) -> None:
    """Every field the deal service checks, checked at once so that all their errors show together."""
    errors = services.new_deal_field_errors({name: post.get(name, "") for name in services.NEW_DEAL_TEXT_FIELDS})
    if errors:
        raise ValidationFailed("Some fields need a change: see the messages next to them.", details=errors)


def _refused(exc: DealgateError) -> tuple[int, dict]:
    """The status and template context of a refused form."""
    if isinstance(exc, MoveBlocked):
        return 409, {"unmet": exc.unmet, "message": exc.message}
    if isinstance(exc, ValidationFailed):
        return 400, {"errors": exc.details, "message": exc.message}
    return exc.http_status, {"message": exc.message}


# What each form page says around its fields: heading, the list it belongs to, the button.
FORM_PAGES = {
    "deal": ("New deal", "web:deals", "Deals", "Create deal"),
    "account": ("New account", "web:accounts", "Accounts", "Create account"),
    "contact": ("New contact", "web:contacts", "Contacts", "Create contact"),
}


def _form_page(request: HttpRequest, kind: str, values: dict[str, Any], *, status: int = 200,
               **context: Any) -> HttpResponse:
    heading, back, back_label, submit = FORM_PAGES[kind]
    return render(request, f"web/new_{kind}.html", {
        "heading": heading, "back_url": reverse(back), "back_label": back_label, "submit": submit,
        "values": values, "errors": {}, "unmet": [], "message": "", **context,
    }, status=status)


# ---------------------------------------------------------------------------------------------
# New deal


def _deal_form(request: HttpRequest, values: dict[str, Any], *, status: int = 200, **refusal: Any) -> HttpResponse:
    user = request.user
    stage_groups = [(p, stages_a_new_deal_can_start_in(p.pk)) for p in Pipeline.objects.order_by("name")]
    owners = list(owners_for_new_deals(user)) if role_of(user) != "rep" else []
    return _form_page(request, "deal", values, status=status, **refusal, owners=owners,
                      stage_groups=[(p, stages) for p, stages in stage_groups if stages],
                      account_names=_account_names(user), currency=settings.DEALGATE_CURRENCY)


def _account_names(user: Any) -> list[str]:
    return list(visible_accounts(user).order_by("name").values_list("name", flat=True).distinct()[:ACCOUNT_SUGGESTIONS])


def _deal_initial(request: HttpRequest) -> dict[str, Any]:
    """What the page that linked here already knows: the column's stage, the pipeline, the account."""
    params = request.GET
    values: dict[str, Any] = {"currency": settings.DEALGATE_CURRENCY, "owner": str(request.user.pk)}
    stage_id = _query_id(params, "stage")
    stage = Stage.objects.filter(pk=stage_id, kind=StageKind.OPEN, retired_at__isnull=True).first() if stage_id else None
    wanted = str(params.get("pipeline") or "")[:100]
    if stage is None and wanted and unstorable_reason(wanted) is None:  # a link's pipeline; anything else is ignored
        pipeline = Pipeline.objects.filter(key=wanted).first()
        starts = stages_a_new_deal_can_start_in(pipeline.pk) if pipeline else []
        stage = starts[0] if starts else None
    if stage is not None:
        values["stage"] = str(stage.pk)
    account_id = _query_id(params, "account")
    account = visible_accounts(request.user).filter(pk=account_id).first() if account_id else None
    if account is not None:
        values["account"] = account.name
    return values


def _query_id(params: Any, name: str) -> int | None:
    """An id from a link; anything else is ignored (the form then starts without it)."""
    try:
        return parse_id(params.get(name), name)
    except BadParameter:
        return None


@login_required
@require_http_methods(["GET", "POST"])
def new_deal(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _deal_form(request, _deal_initial(request))
    post, user = request.POST, request.user
    try:
        _check_deal_fields(post)
        with transaction.atomic():  # a new account typed here is kept only with its deal
            stage = _stage(post.get("stage"))
            owner = _owner(user, post.get("owner"))
            account, new_account = _account(user, post.get("account", ""))
            deal = services.create_deal(
                by=user, title=post.get("title", ""), account=account, pipeline=stage.pipeline, stage=stage,
                owner=owner, amount=post.get("amount", ""), currency=post.get("currency", ""),
                expected_close_date=post.get("expected_close_date", ""), next_step=post.get("next_step", ""),
                next_step_due=post.get("next_step_due", ""),
            )
    except DealgateError as exc:
        status, refusal = _refused(exc)
        return _deal_form(request, post.dict(), status=status, **refusal)
    messages.success(request, _created_message(deal, account if new_account else None))
    return redirect("web:deal", pk=deal.pk)


def _created_message(deal: Deal, new_account: Account | None) -> str:
    where = f" in {deal.stage.name}"
    account = f" It is the first deal of the new account {new_account.name}." if new_account else ""
    return f"Deal “{deal.title}” created{where}.{account} Next: add its contacts and the next step."


# ---------------------------------------------------------------------------------------------
# New account and new contact


@login_required
@require_http_methods(["GET", "POST"])
def new_account(request: HttpRequest) -> HttpResponse:
    post = request.POST
    if request.method == "POST":
        try:
            name = storable_text(post.get("name", ""), "name").strip()
            existing = find_account(request.user, name)
            if existing is not None:
                raise ValidationFailed.for_field("name", f"{existing.name} is already an account; open it from the "
                                                         "accounts list, or use another name")
            account = services.create_account(by=request.user, name=name, segment=post.get("segment", ""))
        except DealgateError as exc:
            status, refusal = _refused(exc)
            return _form_page(request, "account", post.dict(), status=status, **refusal)
        messages.success(request, f"Account “{account.name}” created. Add its contacts and its first deal here.")
        return redirect("web:account", pk=account.pk)
    return _form_page(request, "account", {})


@login_required
@require_http_methods(["GET", "POST"])
def new_contact(request: HttpRequest) -> HttpResponse:
    post, user = request.POST, request.user
    if request.method == "POST":
        try:
            with transaction.atomic():
                account, new = _account(user, post.get("account", ""))
                contact = services.create_contact(
                    by=user, name=post.get("name", ""), account=account, email=post.get("email", ""),
                    phone=post.get("phone", ""), title=post.get("title", ""))
        except DealgateError as exc:
            status, refusal = _refused(exc)
            return _contact_form(request, post.dict(), status=status, **refusal)
        made = f" and the new account {account.name}" if new else f" at {account.name}"
        messages.success(request, f"Contact “{contact.name}” created{made}.")
        return redirect("web:account", pk=account.pk)
    initial = {}
    account_id = _query_id(request.GET, "account")
    account = visible_accounts(user).filter(pk=account_id).first() if account_id else None
    if account is not None:
        initial["account"] = account.name
    return _contact_form(request, initial)


def _contact_form(request: HttpRequest, values: dict[str, Any], *, status: int = 200, **refusal: Any) -> HttpResponse:
    return _form_page(request, "contact", values, status=status, **refusal,
                      account_names=_account_names(request.user))
