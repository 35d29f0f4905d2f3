"""Reads of deals shared by the web pages, the API and the CLI.

Each reader applies the same visibility rule (`dealgate.people.access`), so a deal hidden on the
board is hidden in the API and at the command line too. `user=None` means the system itself
(automation, CLI without --user), as in the services; an anonymous user sees nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from dealgate.deals.flags import CriteriaProgress, Flag, flags_and_progress
from dealgate.deals.models import (
    Activity,
    Approval,
    ChecklistAnswer,
    Deal,
    DealContact,
    FieldChange,
    StageHistory,
)
from dealgate.errors import NotAllowed, NotFound, ValidationFailed
from dealgate.people.access import can_edit_deal, can_view_deal, visible_deals
from dealgate.pipelines.models import Pipeline, Stage, StageKind

STATUSES = ("open", "won", "lost", "all")


def _scoped(user: Any) -> QuerySet:
    return Deal.objects.all() if user is None else visible_deals(user)


def _by_key_or_id(value: Any, model_field: str) -> Q:
    """A filter on an object, its id (int) or its key (str), e.g. pipeline=<Pipeline>, 3 or "b2b-7"."""
    if hasattr(value, "pk"):
        return Q(**{f"{model_field}_id": value.pk})
    if isinstance(value, int):
        return Q(**{f"{model_field}_id": value})
    return Q(**{f"{model_field}__key": str(value).strip()})


def _owner_filter(owner: Any) -> Q:
    if hasattr(owner, "pk"):
        return Q(owner_id=owner.pk)
    if isinstance(owner, int):
        return Q(owner_id=owner)
    return Q(owner__username=str(owner).strip())


def deal_list(
    user: Any, *, pipeline: Pipeline | int | str | None = None, owner: Any = None,
    stage: Stage | int | str | None = None, status: str = "open", search: str | None = None,
    limit: int | None = 50, offset: int = 0,
) -> QuerySet:
    """Deals the user may see, newest first, with stage, pipeline, owner and account joined.

    `limit=None` returns the whole (unsliced) queryset, for callers that aggregate or paginate.
    """
    if status not in STATUSES:
        raise ValidationFailed.for_field("status", f"{status!r} is not one of {', '.join(STATUSES)}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValidationFailed.for_field("limit", "must be a whole number of at least 1")
    if not isinstance(offset, int) or offset < 0:
        raise ValidationFailed.for_field("offset", "must be a whole number of at least 0")
    qs = _scoped(user).select_related("stage", "pipeline", "owner", "account")
    if pipeline is not None and pipeline != "":
        qs = qs.filter(_by_key_or_id(pipeline, "pipeline"))
    if stage is not None and stage != "":
        qs = qs.filter(_by_key_or_id(stage, "stage"))
    if owner is not None and owner != "":
        qs = qs.filter(_owner_filter(owner))
    if status == "open":
        qs = qs.filter(closed_at__isnull=True)
    elif status == "won":
        qs = qs.filter(stage__kind=StageKind.WON)
    elif status == "lost":
        qs = qs.filter(stage__kind=StageKind.LOST)
    text = (search or "").strip()
    if text:
        qs = qs.filter(Q(title__icontains=text) | Q(account__name__icontains=text))
    qs = qs.order_by("-created_at", "-id")
    return qs if limit is None else qs[offset: offset + limit]


@dataclass
class DealDetail:
    """Everything the deal page, `GET /deals/{id}` and `dealgate deal show` display."""

    deal: Deal
    stages: list[Stage]  # the pipeline's stages in order, for the stage path
    contacts: list[DealContact]  # .contact and .role / .get_role_display()
    history: list[StageHistory]  # oldest first; .from_stage, .to_stage, .by, .override, .override_reason
    field_changes: list[FieldChange]  # oldest first; amount, close date, owner...
    activities: list[Activity]  # newest first, with .contacts prefetched
    approvals: list[Approval]
    checklist: list[ChecklistAnswer]
    flags: list[Flag]
    progress: CriteriaProgress  # the current stage's exit criteria
    can_edit: bool


def deal_detail(deal_id: Any, user: Any) -> DealDetail:
    """One deal with everything around it, or NotFound / NotAllowed saying why not."""
    try:
        pk = int(deal_id)
    except (TypeError, ValueError):
        raise NotFound(f"There is no deal {deal_id!r}: deal numbers are whole numbers.",
                       details={"deal": str(deal_id)}) from None
    deal = (
        Deal.objects.select_related("stage", "pipeline", "owner", "account", "team", "lost_reason")
        .filter(pk=pk).first()
    )
    if deal is None:
        raise NotFound(f"There is no deal {pk}.", details={"deal": pk})
    if user is not None and not can_view_deal(user, deal):
        raise NotAllowed(
            f"You may not see deal {pk}: it belongs to another team. Sales reps and managers see their own and "
            "their team's deals; ask an admin if you need access.",
            details={"deal": pk},
        )
    flags, progress = flags_and_progress([deal])
    return DealDetail(
        deal=deal,
        stages=list(Stage.objects.filter(pipeline_id=deal.pipeline_id).order_by("position")),
        contacts=list(deal.contact_links.select_related("contact").order_by("contact__name", "role")),
        history=list(StageHistory.objects.filter(deal=deal).select_related("from_stage", "to_stage", "by")
                     .order_by("at", "id")),
        field_changes=list(FieldChange.objects.filter(deal=deal).select_related("by").order_by("at", "id")),
        activities=list(deal.activities.select_related("by").prefetch_related("contacts")
                        .order_by("-occurred_at", "-id")),
        approvals=list(deal.approvals.select_related("approved_by").order_by("approved_at", "id")),
        checklist=list(deal.checklist_answers.select_related("by").order_by("item")),
        flags=flags[deal.pk],
        progress=progress[deal.pk],
        can_edit=user is None or can_edit_deal(user, deal),
    )


@dataclass(frozen=True)
class FinalStay:
    """Where a closed deal's clock stopped: the stage it closed from and its whole days there."""

    stage: Stage
    days: int


def stages_reached(deal: Deal) -> set[int]:
    """Ids of the stages the deal's history shows it entered (a closed deal's path shows only these)."""
    return set(StageHistory.objects.filter(deal=deal).order_by().values_list("to_stage_id", flat=True).distinct())


def closing_stay(deal: Deal) -> FinalStay | None:
    """`final_stay` of the deal's history in two one-row queries, however long the history is: its
    latest move into a closed stage and the row before that one."""
    rows = StageHistory.objects.filter(deal=deal).select_related("to_stage").order_by("-at", "-id")
    closing = rows.exclude(to_stage__kind=StageKind.OPEN).first()
    if closing is None:
        return None
    entered = rows.filter(Q(at__lt=closing.at) | Q(at=closing.at, id__lt=closing.pk)).first()
    if entered is None:  # created closed (an imported historical deal)
        return None
    return FinalStay(stage=entered.to_stage, days=(closing.at - entered.at).days)


def final_stay(history: list[StageHistory]) -> FinalStay | None:
    """For a closed deal's history (oldest first): the stay that ended at the close, or None.

    Days in stage stop at the close: a deal won years ago was in its last stage for as long as it
    was there then, not until today.
    """
    closing = next((i for i in range(len(history) - 1, -1, -1) if history[i].to_stage.kind != StageKind.OPEN), None)
    if not closing:  # never closed, or created closed (an imported historical deal)
        return None
    entered = history[closing - 1]
    return FinalStay(stage=entered.to_stage, days=(history[closing].at - entered.at).days)


@dataclass
class PostSalePhase:
    """One part of a won deal's post-sale checklist, evaluated now (decision 010)."""

    stage: Stage
    title: str
    results: list[Any]

    @property
    def done(self) -> int:
        return sum(1 for r in self.results if r.met)


def post_sale(deal: Deal, rules: Any = None) -> list[PostSalePhase]:
    """A won deal's post-sale checklist: the handoff record, then each post-sale stage's criteria.

    "In this stage" for an activity means since the win (the deal's stage entry), so a kick-off
    counts when it happened after the signature. Empty for a deal that is not won.
    """
    from dealgate.pipelines.criteria import evaluate, load_facts
    from dealgate.pipelines.gate import PipelineRules

    rules = rules or PipelineRules.load(deal.pipeline_id)
    if rules.stages[deal.stage_id].kind != StageKind.WON:
        return []
    phases = rules.post_sale_phases()
    specs = [spec for _, _, phase_specs in phases for spec in phase_specs]
    if not specs:
        return []
    facts = load_facts([deal.pk], deals=[deal], kinds={spec.kind for spec in specs})[deal.pk]
    results = iter(evaluate(specs, facts))
    return [PostSalePhase(stage, title, [next(results) for _ in phase_specs]) for stage, title, phase_specs in phases]


# The deal fields the "New deal" form sets: a `field` criterion on one of them can be met at creation.
FIELDS_SET_AT_CREATION = frozenset({"title", "account", "amount", "currency", "expected_close_date", "next_step",
                                    "next_step_due"})


def stages_a_new_deal_can_start_in(pipeline_id: int) -> list[Stage]:
    """The open stages a deal can be created in: the first one, and each later one whose gates from
    the first ask only for fields the new-deal form fills (a checklist, an activity, a contact or an
    approval needs a deal that already exists). The service gates whatever stage is asked for; this
    only decides where the board offers a "New deal" button."""
    from dealgate.pipelines.criteria import FieldConfig
    from dealgate.pipelines.gate import PipelineRules

    rules = PipelineRules.load(pipeline_id)
    open_stages = [s for s in rules.stages.values() if s.takes_deals]
    if not open_stages:
        return []
    first = open_stages[0]

    def fillable(spec: Any) -> bool:
        return isinstance(spec.config, FieldConfig) and spec.config.field in FIELDS_SET_AT_CREATION

    return [first] + [s for s in open_stages[1:] if all(fillable(spec) for spec in rules.required(first, s))]


@dataclass
class HandoffRecord:
    """What was agreed when a deal was won: each of the Won stage's checklist items with the evidence
    given (None: not recorded; "" ticked without words), and the handoff note written with the Won move."""

    deal: Deal
    items: list[tuple[str, str | None]]
    note: str

    def lines(self) -> list[str]:
        lines = [f"{label}: {('ticked' if evidence == '' else evidence) if evidence is not None else 'not recorded'}"
                 for label, evidence in self.items]
        return lines + ([f"Handoff note: {self.note}"] if self.note else [])


def handoff_record(deal: Deal, rules: Any = None) -> HandoffRecord:
    """A won deal's handoff record (`move_deal_with_handoff` keeps the note as a "Handoff" note)."""
    from dealgate.pipelines.gate import PipelineRules

    phases = (rules or PipelineRules.load(deal.pipeline_id)).post_sale_phases()
    specs = next((specs for stage, _, specs in phases if stage.kind == StageKind.WON), [])
    answers = {a.item: a.evidence for a in ChecklistAnswer.objects.filter(deal=deal, checked=True)}
    note = (Activity.objects.filter(deal=deal, kind="note", subject="Handoff").order_by("-occurred_at", "-id")
            .values_list("notes", flat=True).first())
    return HandoffRecord(deal, [(spec.label, answers.get(spec.config.item)) for spec in specs], note or "")


def account_handoffs(user: Any, account: Any, limit: int = 5) -> list[HandoffRecord]:
    """The handoff records of an account's won deals, latest win first: the deals the user may see,
    and every won deal for the account's owner (the shipped rule sends them the record; the deal
    itself may belong to another team)."""
    won = Deal.objects.filter(account=account, stage__kind=StageKind.WON)
    if user is None or account.owner_id != user.pk:
        won = visible_deals(user, won)
    return [handoff_record(deal) for deal in won.select_related("stage").order_by("-closed_at", "-pk")[:limit]]
