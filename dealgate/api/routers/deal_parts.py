"""What hangs off one deal: next step, contacts with roles, checklist, approvals, history, flags."""

from __future__ import annotations

from typing import Annotated

from ninja import Path, Router

from dealgate.api.routers import ERRORS, WRITE_ERRORS
from dealgate.api.routers.lookups import contact_by_id, visible_deal
from dealgate.api.schemas import (
    ApprovalIn,
    ApprovalOut,
    ChecklistIn,
    ChecklistOut,
    DealFlagsOut,
    DealContactIn,
    DealContactOut,
    HistoryOut,
    NextStepIn,
    NextStepOut,
    RoleName,
)
from dealgate.deals import services
from dealgate.deals.flags import flags_and_progress
from dealgate.deals.models import Approval, ChecklistAnswer, DealContact, FieldChange, StageHistory

router = Router(tags=["deal details"])

ItemKey = Annotated[str, Path(min_length=1, max_length=60, pattern=r"^[a-z0-9_-]+$")]


@router.get("/{int:deal_id}/next-step", response={200: NextStepOut, **ERRORS}, summary="The deal's next step")
def get_next_step(request, deal_id: int):
    deal = visible_deal(request.auth, deal_id)
    return {"text": deal.next_step, "due": deal.next_step_due}


@router.put("/{int:deal_id}/next-step", response={200: NextStepOut, **WRITE_ERRORS}, summary="Set the next step")
def set_next_step(request, deal_id: int, payload: NextStepIn):
    deal = visible_deal(request.auth, deal_id)
    services.set_next_step(deal, by=request.auth, text=payload.text, due=payload.due)
    return {"text": deal.next_step, "due": deal.next_step_due}


@router.get("/{int:deal_id}/contacts", response={200: list[DealContactOut], **ERRORS}, summary="Contacts and their roles")
def list_deal_contacts(request, deal_id: int):
    deal = visible_deal(request.auth, deal_id)
    return DealContact.objects.filter(deal=deal).select_related("contact").order_by("contact__name", "role", "id")


@router.post("/{int:deal_id}/contacts", response={201: DealContactOut, **WRITE_ERRORS},
             summary="Link a contact to the deal with a role")
def link_contact(request, deal_id: int, payload: DealContactIn):
    deal = visible_deal(request.auth, deal_id)
    link = services.link_contact(deal, contact_by_id(payload.contact), payload.role, by=request.auth)
    return 201, DealContact.objects.select_related("contact").get(pk=link.pk)


@router.delete("/{int:deal_id}/contacts/{int:contact_id}/{role}", response={204: None, **WRITE_ERRORS},
               summary="Remove a contact's role from the deal")
def unlink_contact(request, deal_id: int, contact_id: int, role: RoleName):
    deal = visible_deal(request.auth, deal_id)
    services.unlink_contact(deal, contact_by_id(contact_id), role, by=request.auth)
    return 204, None


@router.get("/{int:deal_id}/checklist", response={200: list[ChecklistOut], **ERRORS}, summary="Checklist answers")
def list_checklist(request, deal_id: int):
    deal = visible_deal(request.auth, deal_id)
    return ChecklistAnswer.objects.filter(deal=deal).select_related("by").order_by("item")


@router.put("/{int:deal_id}/checklist/{item}", response={200: ChecklistOut, **WRITE_ERRORS},
            summary="Tick or untick a checklist item, with evidence")
def answer_checklist(request, deal_id: int, item: ItemKey, payload: ChecklistIn):
    deal = visible_deal(request.auth, deal_id)
    answer = services.record_checklist_answer(deal, item, by=request.auth, checked=payload.checked,
                                              evidence=payload.evidence)
    return ChecklistAnswer.objects.select_related("by").get(pk=answer.pk)


@router.get("/{int:deal_id}/approvals", response={200: list[ApprovalOut], **ERRORS}, summary="Confirmed close conditions")
def list_approvals(request, deal_id: int):
    deal = visible_deal(request.auth, deal_id)
    return Approval.objects.filter(deal=deal).select_related("approved_by").order_by("approved_at", "id")


@router.post("/{int:deal_id}/approvals", response={201: ApprovalOut, **WRITE_ERRORS},
             summary="Confirm a close condition (users whose role the criterion names)")
def approve(request, deal_id: int, payload: ApprovalIn):
    deal = visible_deal(request.auth, deal_id)
    approval = services.approve_condition(deal, payload.condition, by=request.auth, note=payload.note)
    return 201, Approval.objects.select_related("approved_by").get(pk=approval.pk)


@router.get("/{int:deal_id}/history", response={200: HistoryOut, **ERRORS},
            summary="Stage history and changes of amount, close date and owner")
def get_history(request, deal_id: int):
    deal = visible_deal(request.auth, deal_id)
    stages = StageHistory.objects.filter(deal=deal).select_related("from_stage", "to_stage", "by")
    changes = FieldChange.objects.filter(deal=deal).select_related("by")
    return {"stages": list(stages.order_by("at", "id")), "field_changes": list(changes.order_by("at", "id"))}



@router.get("/{int:deal_id}/flags", response={200: DealFlagsOut, **ERRORS},
            summary="Flags (quiet or slow, no next step, slipped...) and exit-criteria progress")
def get_flags(request, deal_id: int):
    deal = visible_deal(request.auth, deal_id)
    flags, progress = flags_and_progress([deal])
    return {"flags": flags[deal.pk], "criteria": progress[deal.pk]}
