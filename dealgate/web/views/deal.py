"""The deal page: readable in seconds by someone who has never seen the deal."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from dealgate import words
from dealgate.deals.flags import flags_and_progress
from dealgate.deals.models import Activity, ActivityKind, Approval, DealContact, FieldChange, StageHistory
from dealgate.deals.models import Deal, ForecastCategory, Source
from dealgate.deals.selectors import closing_stay, stages_reached
from dealgate.people.access import can_edit_deal, can_override, role_of
from dealgate.pipelines.criteria import ApprovalConfig
from dealgate.pipelines.gate import PipelineRules
from dealgate.pipelines.models import LostReason, StageKind
from dealgate.web import gate
from dealgate.web.views.common import deal_for

QUICK_LOG = [("call", "Call"), ("email", "Email"), ("meeting", "Meeting"), ("note", "Note")]


@dataclass
class PathStep:
    stage: Any
    state: str  # done, current, ahead


@dataclass
class TimelineEntry:
    at: Any
    kind: str  # activity, move, change
    title: str
    detail: str
    by: Any
    override: bool = False


def stage_path(deal: Deal, rules: PipelineRules) -> list[PathStep]:
    """Open deal: open stages in order, then Won as the goal. Closed deal: only the open stages its
    history shows it reached, then the closed stage it is in (never a tick on a stage it skipped)."""
    current = rules.stages[deal.stage_id]
    reached = stages_reached(deal) if not deal.is_open else set()
    steps = []
    for stage in rules.stages.values():
        if stage.kind != StageKind.OPEN:
            continue
        if stage.is_retired and stage.pk != current.pk and stage.pk not in reached:
            continue  # a retired stage shows only where this deal was in it (decision 036)
        if stage.pk == current.pk:
            steps.append(PathStep(stage, "current"))
        elif not deal.is_open:
            if stage.pk in reached:
                steps.append(PathStep(stage, "done"))
        elif current.kind != StageKind.OPEN or stage.position < current.position:
            steps.append(PathStep(stage, "done"))
        else:
            steps.append(PathStep(stage, "ahead"))
    if current.kind != StageKind.OPEN:
        steps.append(PathStep(current, "current"))
    else:
        won = next((s for s in rules.stages.values() if s.kind == StageKind.WON), None)
        if won and deal.is_open:
            steps.append(PathStep(won, "ahead"))
    return steps


def closing(deal: Deal, current: Any) -> dict[str, Any] | None:
    """A closed deal's close: when, how (won or lost), why, and the stay that ended with it."""
    if deal.is_open:
        return None
    return {"at": deal.closed_at, "stay": closing_stay(deal), "lost_reason": deal.lost_reason,
            "lost_note": deal.lost_note, "won": current.kind == StageKind.WON}


# The deal page shows the newest entries of its timeline, so it costs the same however long the
# deal's history is (issue #16: 175 history rows made the page 2.6x slower); a link shows them all.
TIMELINE_LIMIT = 50


def timeline(deal: Deal, limit: int | None = TIMELINE_LIMIT) -> tuple[list[TimelineEntry], bool]:
    """Activities, stage moves and tracked field changes, newest first (three queries, each reading
    at most limit + 1 rows), and whether older entries were left out. limit None: everything."""
    def newest(rows: Any) -> list[Any]:
        return list(rows if limit is None else rows[:limit + 1])

    entries = [
        TimelineEntry(a.occurred_at, "activity", f"{a.get_kind_display()}: {a.subject}",
                      " · ".join(x for x in (a.outcome.replace("_", " "), a.notes) if x), a.by)
        for a in newest(Activity.objects.filter(deal=deal).select_related("by").order_by("-occurred_at", "-id"))
    ]
    for h in newest(StageHistory.objects.filter(deal=deal).select_related("from_stage", "to_stage", "by")
                    .order_by("-at", "-id")):
        title = (f"Created in {h.to_stage.name}" if h.from_stage is None
                 else f"{h.get_kind_display()}: {h.from_stage.name} → {h.to_stage.name}")
        detail = f"Override: {h.override_reason}" if h.override else ("imported" if h.imported else "")
        entries.append(TimelineEntry(h.at, "move", title, detail, h.by, h.override))
    changes = newest(FieldChange.objects.filter(deal=deal).select_related("by").order_by("-at", "-id"))
    names = _names_of_ids(changes)
    for c in changes:
        old, new = (_change_value(c.field, names.get((c.field, value), value)) or "—"
                    for value in (c.old_value, c.new_value))
        detail = f"{old} → {new}" + (f" {deal.currency}" if c.field == "amount" else "")
        entries.append(TimelineEntry(c.at, "change", f"{c.field.replace('_', ' ').capitalize()} changed", detail, c.by))
    entries.sort(key=lambda e: e.at, reverse=True)
    if limit is None:
        return entries, False
    return entries[:limit], len(entries) > limit


def _change_value(field: str, value: str) -> str:
    """A logged value as a person reads it: amounts '13,600.00', dates '8 Dec', percentages '40%'."""
    if not value:
        return ""
    if field == "amount":
        return words.amount(value)
    if field == "expected_close_date":
        try:
            return words.day(dt.date.fromisoformat(value))
        except ValueError:
            return value
    if field == "probability_override":
        return f"{value}%"
    if field == "forecast_category":
        return value.replace("_", " ")
    return value


def _names_of_ids(changes: list[FieldChange]) -> dict[tuple[str, str], str]:
    """Owner and team changes are logged as ids; the timeline shows names."""
    from django.contrib.auth import get_user_model

    from dealgate.people.models import Team

    wanted = {field: {v for c in changes if c.field == field for v in (c.old_value, c.new_value) if v.isdigit()}
              for field in ("owner", "team")}
    names = {("owner", str(u.pk)): u.get_full_name() or u.username
             for u in get_user_model().objects.filter(pk__in=wanted["owner"])} if wanted["owner"] else {}
    if wanted["team"]:
        names.update({("team", str(t.pk)): t.name for t in Team.objects.filter(pk__in=wanted["team"])})
    return names


def close_conditions(deal: Deal, rules: PipelineRules) -> list[dict[str, Any]]:
    """Every approval the pipeline asks for, with who confirmed it and when."""
    approvals = {a.condition: a for a in Approval.objects.filter(deal=deal).select_related("approved_by")}
    seen, rows = set(), []
    for specs in [*rules.entry.values(), *rules.exit.values()]:
        for spec in specs:
            cfg = spec.config
            if isinstance(cfg, ApprovalConfig) and cfg.condition not in seen:
                seen.add(cfg.condition)
                rows.append({"spec": spec, "condition": cfg.condition, "approval": approvals.get(cfg.condition),
                             "roles": " or ".join(cfg.approver_roles)})
    return rows


@dataclass
class PostSaleBox:
    stage: Any
    title: str
    items: list[Any]

    @property
    def done(self) -> int:
        return sum(1 for item in self.items if item.met)


def post_sale_boxes(deal: Deal, rules: PipelineRules, user: Any) -> list[PostSaleBox]:
    """A won deal's handoff record and post-sale phases, with their fix forms (decision 010)."""
    if rules.stages[deal.stage_id].kind != StageKind.WON:
        return []
    phases = rules.post_sale_phases()
    items = iter(gate.items_for(deal, [spec for _, _, specs in phases for spec in specs], user))
    return [PostSaleBox(stage, title, [next(items) for _ in specs]) for stage, title, specs in phases]


def render_deal(request: HttpRequest, deal: Deal, *, status: int = 200, errors: dict | None = None,
                error_form: str = "", message: str = "") -> HttpResponse:
    rules = PipelineRules.load(deal.pipeline_id)
    entries, more = timeline(deal, None if request.GET.get("timeline") == "all" else TIMELINE_LIMIT)
    next_stage, items = gate.next_move_items(deal, request.user, rules)
    current = rules.stages[deal.stage_id]
    context = {
        "deal": deal, "stage": current, "path": stage_path(deal, rules), "items": items,
        "met": sum(1 for i in items if i.met), "flags": flags_and_progress([deal], today=timezone.localdate())[0].get(deal.pk, []),
        "contact_links": DealContact.objects.filter(deal=deal).select_related("contact").order_by("contact__name"),
        "contacts": gate.contact_choices(deal), "contact_roles": gate.CONTACT_ROLES,
        "conditions": close_conditions(deal, rules), "timeline": entries, "timeline_more": more,
        "can_edit": can_edit_deal(request.user, deal), "can_override": can_override(request.user),
        "role": role_of(request.user), "quick_log": QUICK_LOG, "activity_kinds": ActivityKind.choices,
        "forecast_categories": ForecastCategory.choices, "sources": Source.choices,
        "lost_reasons": LostReason.objects.filter(active=True), "today": timezone.localdate(),
        "errors": errors or {}, "error_form": error_form, "error_message": message,
        "next_open": rules.next_open_stage(current) if current.kind == StageKind.OPEN else None,
        "next_stage": next_stage,
        "closing": closing(deal, current),
        "post_sale": post_sale_boxes(deal, rules, request.user),
    }
    return render(request, "web/deal.html", context, status=status)


@login_required
def deal_page(request: HttpRequest, pk: int) -> HttpResponse:
    return render_deal(request, deal_for(request, pk))
