"""Changing a deal from the board's side panel or the deal page: moves and the fixes for unmet criteria.

Each handler reads the form and calls one service. Answers are HTML: the side panel again
(with the remaining criteria, or errors next to the field) for htmx requests, a redirect back
to the deal page for plain form posts.
"""

from __future__ import annotations

from dataclasses import replace

import json
from typing import Any, Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dealgate.deals import services
from dealgate.deals.board import CARDS_PER_COLUMN, build_columns, card_for, first_page_ids
from dealgate.deals.models import Contact, Deal
from dealgate.errors import Conflict, DealgateError, MoveBlocked, NotAllowed, ValidationFailed
from dealgate.people.access import can_edit_deal, can_override
from dealgate.pipelines.models import LostReason, Stage, StageKind
from dealgate.web import gate
from dealgate.web.forms import board_filters
from dealgate.web.views.board import new_deal_stage_ids
from dealgate.web.views.common import deal_for, int_or_none

# ---------------------------------------------------------------------------------------------
# The side panel


def _stage(deal: Deal, stage_id: Any) -> Stage:
    return get_object_or_404(Stage, pk=int_or_none(stage_id), pipeline_id=deal.pipeline_id)


def render_panel(request: HttpRequest, deal: Deal, *, mode: str, to_stage: Stage | None = None, status: int = 200,
                 errors: dict | None = None, error_form: str = "", message: str = "") -> HttpResponse:
    """The side panel: a gate (criteria between the deal and a stage), the Lost or Won form, the
    keyboard move menu, or a plain message."""
    context: dict[str, Any] = {
        "deal": deal, "mode": mode, "to_stage": to_stage, "errors": errors or {}, "error_form": error_form,
        "message": message, "error_message": message, "status_error": status >= 400, "origin": request.POST.get("origin") or request.GET.get("origin") or "board",
        "board_query": request.POST.get("board_query") or request.GET.get("board_query") or "",
        "can_edit": can_edit_deal(request.user, deal), "can_override": can_override(request.user),
        "contact_roles": gate.CONTACT_ROLES,
    }
    if to_stage is not None and mode in ("gate", "won"):
        items = gate.move_items(deal, to_stage, request.user)
        context["items"] = items
        context["unmet"] = [i for i in items if not i.met]
        context["met_count"] = len(items) - len(context["unmet"])
        # The Won stage's own checklist is the handoff record (decision 010): where it exists, the Won flow
        # asks for the handoff there only, not again in a notes box (decision 029).
        context["handoff_checklist"] = mode == "won" and any(
            i.spec.kind == "checklist" and i.spec.phase == "entry" and i.spec.stage_name == to_stage.name for i in items)
        context["contacts"] = gate.contact_choices(deal) if any(i.fix == "contact" for i in items) else []
    if mode == "lost":
        context["lost_reasons"] = LostReason.objects.filter(active=True)
    if mode == "menu":
        context["stages"] = Stage.objects.filter(pipeline_id=deal.pipeline_id, retired_at__isnull=True).order_by("position")
    # A form submitted before htmx wired it (or without JavaScript) arrives as a plain POST: answer with a page.
    template = "web/_panel.html" if request.htmx else "web/panel_page.html"
    return render(request, template, context, status=status)


@login_required
@require_GET
def panel(request: HttpRequest, pk: int, mode: str) -> HttpResponse:
    """Open the panel without writing: the move menu (keyboard), the Lost form, the Won checklist."""
    deal = deal_for(request, pk, edit=True)
    if mode == "lost":
        return render_panel(request, deal, mode="lost", to_stage=_closed_stage(deal, StageKind.LOST))
    if mode == "won":
        return render_panel(request, deal, mode="won", to_stage=_closed_stage(deal, StageKind.WON))
    if mode == "gate":
        return render_panel(request, deal, mode="gate", to_stage=_stage(deal, request.GET.get("to")))
    return render_panel(request, deal, mode="menu")


def _closed_stage(deal: Deal, kind: str) -> Stage:
    return get_object_or_404(Stage, pipeline_id=deal.pipeline_id, kind=kind)


# ---------------------------------------------------------------------------------------------
# Moving


@login_required
@require_POST
def move(request: HttpRequest, pk: int) -> HttpResponse:
    """Drop a card on a column (or Won/Lost): the move service decides; a refusal opens the panel."""
    deal = deal_for(request, pk)
    to_stage = _stage(deal, request.POST.get("to"))
    expected = request.POST.get("expected")
    from_stage_id = deal.stage_id
    mode = {StageKind.WON: "won", StageKind.LOST: "lost"}.get(to_stage.kind, "gate")
    if not can_edit_deal(request.user, deal):
        return render_panel(request, deal, mode="message", status=403,
                            message=f"{deal.title} belongs to {deal.owner}; only they or a manager may move it.")
    try:
        services.move_deal_with_handoff(
            deal, to_stage, by=request.user, handoff=request.POST.get("handoff", ""),
            override_reason=request.POST.get("override_reason") or None,
            lost_reason=request.POST.get("lost_reason") or None,
            lost_note=request.POST.get("lost_note", ""),
            expected_stage=_stage(deal, expected) if expected else None,
        )
    except MoveBlocked:
        return render_panel(request, deal, mode=mode, to_stage=to_stage, status=409)
    except ValidationFailed as exc:
        return render_panel(request, deal, mode=mode, to_stage=to_stage, status=422, errors=exc.details,
                            error_form="move", message=exc.message)
    except NotAllowed as exc:
        return render_panel(request, deal, mode=mode, to_stage=to_stage, status=403, message=exc.message)
    except Conflict as exc:
        return render_panel(request, deal, mode="message", status=409, message=exc.message)
    if request.POST.get("origin") == "deal" or not request.htmx:
        messages.success(request, f"Moved to {to_stage.name}.")
        return _back_to_deal(request, deal)
    return _board_update(request, deal, from_stage_id, to_stage)


def _board_update(request: HttpRequest, deal: Deal, from_stage_id: int, to_stage: Stage) -> HttpResponse:
    """After a move: close the panel and update the board out of band, touching only what changed:
    both columns' headers (count, totals), the card taken out of the column it left and put into the
    one it joined at its place in card order (when that place is on the column's first page; later
    ones arrive with "Load more", which board.js asks from the number of cards a column shows).
    Drawing both columns again cost most of a drop's time, for 59 cards that had not changed."""
    _, filters = board_filters(request.POST.get("board_query", ""), request.user)
    changed = [Stage.objects.get(pk=from_stage_id)] + ([to_stage] if to_stage.kind == StageKind.OPEN else [])
    columns = build_columns(deal.pipeline, changed, request.user, filters, cards_in=set())
    source, target = columns[0], (columns[1] if len(columns) > 1 else None)
    landing = card = None
    if target is not None:
        shown = first_page_ids(deal.pipeline, to_stage, request.user, filters)
        if deal.pk in shown:
            at = shown.index(deal.pk)
            landing = (f"afterend:#col-{to_stage.pk} #deal-{shown[at - 1]}" if at else
                       f"afterbegin:#col-{to_stage.pk} ol.cards")
            card = card_for(deal, request.user)
        if target.count > CARDS_PER_COLUMN:  # "Load more" with the new count (board.js fills in the offset)
            target = replace(target, next_offset=CARDS_PER_COLUMN)
    if source.count >= CARDS_PER_COLUMN:  # the column left had more than a page: its "Load more" stays
        source = replace(source, next_offset=CARDS_PER_COLUMN)
    response = render(request, "web/_board_update.html", {
        "source": source, "target": target, "landing": landing, "card": card,
        "target_had_more": target is not None and target.count - 1 > CARDS_PER_COLUMN, "deal": deal,
        "to_stage": to_stage, "board": {"pipeline": deal.pipeline}, "board_query": request.POST.get("board_query", ""),
        "new_deal_stages": new_deal_stage_ids(deal.pipeline),
    })
    response["HX-Trigger-After-Settle"] = json.dumps({"dg:moved": {"deal": deal.pk, "stage": to_stage.pk}})
    return response


def _back_to_deal(request: HttpRequest, deal: Deal) -> HttpResponse:
    url = reverse("web:deal", args=[deal.pk])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


# ---------------------------------------------------------------------------------------------
# Fixes: one service call each


def _fix_checklist(request: HttpRequest, deal: Deal) -> str:
    item = request.POST.get("item", "")
    services.record_checklist_answer(deal, item, by=request.user, evidence=request.POST.get("evidence", ""))
    return f"Ticked {item.replace('_', ' ')}."


def _fix_field(request: HttpRequest, deal: Deal) -> str:
    name = request.POST.get("field", "")
    value: Any = request.POST.get("value", "")
    if name.startswith("custom."):
        key = name.removeprefix("custom.")
        if request.POST.get("input_type") == "checkbox":
            value = bool(value)
        services.update_deal(deal, by=request.user, custom_fields={**deal.custom_fields, key: value})
    else:
        try:
            services.update_deal(deal, by=request.user, **{name: value})
        except ValidationFailed as exc:  # name the input the person sees, whatever the field
            raise ValidationFailed(exc.message, details={"value": sum(exc.details.values(), [])}) from None
    return f"Saved {name.removeprefix('custom.').replace('_', ' ')}."


def _fix_fields(request: HttpRequest, deal: Deal) -> str:
    """The key-fields form of the deal page: only fields that were sent."""
    names = ("title", "amount", "currency", "expected_close_date", "probability_override", "forecast_category", "source")
    services.update_deal(deal, by=request.user, **{n: request.POST[n] for n in names if n in request.POST})
    return "Saved."


def _fix_next_step(request: HttpRequest, deal: Deal) -> str:
    services.set_next_step(deal, by=request.user, text=request.POST.get("next_step", ""),
                           due=request.POST.get("next_step_due", ""))
    return "Next step saved."


def _fix_activity(request: HttpRequest, deal: Deal) -> str:
    kind = request.POST.get("kind", "")
    subject = request.POST.get("subject", "").strip() or kind.capitalize()
    services.log_activity(by=request.user, kind=kind, subject=subject, deal=deal,
                          outcome=request.POST.get("outcome", ""), notes=request.POST.get("notes", ""))
    return f"Logged {kind}."


def _fix_contact(request: HttpRequest, deal: Deal) -> str:
    role = request.POST.get("role", "")
    contact_id = int_or_none(request.POST.get("contact"))
    if contact_id:
        contact = get_object_or_404(Contact, pk=contact_id, account_id=deal.account_id)
    else:
        contact = services.create_contact(by=request.user, name=request.POST.get("name", ""), account=deal.account,
                                          email=request.POST.get("email", ""), title=request.POST.get("title", ""))
    services.link_contact(deal, contact, role, by=request.user)
    return f"Added {contact.name} as {role.replace('_', ' ')}."


def _fix_approve(request: HttpRequest, deal: Deal) -> str:
    condition = request.POST.get("condition", "")
    services.approve_condition(deal, condition, by=request.user, note=request.POST.get("note", ""))
    return f"Confirmed {condition.replace('_', ' ')}."


ACTIONS: dict[str, Callable[[HttpRequest, Deal], str]] = {
    "checklist": _fix_checklist,
    "field": _fix_field,
    "fields": _fix_fields,
    "next_step": _fix_next_step,
    "activity": _fix_activity,
    "contact": _fix_contact,
    "approve": _fix_approve,
}


@login_required
@require_POST
def deal_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One fix or edit. From the panel (`panel_to` set) the panel re-renders; else back to the deal page."""
    handler = ACTIONS.get(action)
    if handler is None:
        return HttpResponse("Unknown action.", status=404)
    # Approving needs only sight of the deal; the service checks the approver's role.
    deal = deal_for(request, pk, edit=action != "approve")
    form_id = request.POST.get("form_id", action)
    panel_to = request.POST.get("panel_to")
    panel_mode = request.POST.get("panel_mode", "gate")
    try:
        done = handler(request, deal)
    except DealgateError as exc:
        status = exc.http_status
        errors = exc.details if isinstance(exc, ValidationFailed) else {}
        if panel_to:
            return render_panel(request, deal, mode=panel_mode, to_stage=_stage(deal, panel_to), status=status,
                                errors=errors, error_form=form_id, message=exc.message)
        from dealgate.web.views.deal import render_deal

        return render_deal(request, deal, status=status, errors=errors, error_form=form_id, message=exc.message)
    if panel_to:
        deal.refresh_from_db()
        response = render_panel(request, deal, mode=panel_mode, to_stage=_stage(deal, panel_to), message=done)
        if request.POST.get("origin") == "board":  # the card behind the panel shows the new count too
            card = render(request, "web/_card.html", {"card": card_for(deal, request.user), "oob": True})
            response.content += card.content
        return response
    messages.success(request, done)
    return _back_to_deal(request, deal)
